"""awd logs: which logs, the tail command, and each host's lines prefixed whole."""

import sys

from apache_wsgi_deploy import sitelogs
from tests.unit.test_settings import validate

LOGS = {"access": "/var/log/apache2/shop-access.log", "error": "/var/log/apache2/shop-error.log"}


def test_the_logs_are_the_sites_access_and_error_logs_and_its_instances():
    site = validate().sites[0]
    assert sitelogs.site_logs(site, errors_only=False) == {
        "access": site.paths.access_log,
        "error": site.paths.error_log,
    }
    assert sitelogs.site_logs(site, errors_only=True) == {"error": site.paths.error_log}
    own = validate(apache_instance="own").sites[0]
    assert sitelogs.site_logs(own, errors_only=True) == {
        "error": own.paths.error_log,
        "app": own.paths.instance_error_log,
    }


def test_tail_names_each_file_and_follows_across_new_files():
    command = sitelogs.tail_command(LOGS, 20, follow=True)
    assert command == f"exec tail -v -n 20 -F -- {LOGS['access']} {LOGS['error']}"
    assert "-F" not in sitelogs.tail_command(LOGS, 5, follow=False)


def test_each_line_is_prefixed_with_its_host_and_its_logs_kind():
    output = [f"==> {LOGS['access']} <==\n", "GET / 200\n", "\n", f"==> {LOGS['error']} <==\n", "AH01797 denied\n"]
    assert list(sitelogs.prefixed("web1", LOGS, output)) == ["web1 access: GET / 200", "web1 error: AH01797 denied"]


def test_every_hosts_lines_are_printed_whole_and_a_failing_host_is_named(capsys):
    """Two hosts' commands run at once (here, local programs in place of ssh)."""
    lines = "".join(f"line {number} " + "x" * 200 + "\n" for number in range(200))
    script = f"import sys; sys.stdout.write({lines!r} if sys.argv[1] == 'a' else '')"
    header = f"print('==> {LOGS['access']} <==')"
    commands = {host: ([sys.executable, "-c", f"{header}; {script}", host], LOGS) for host in ("a", "b")}
    commands["gone"] = ([sys.executable, "-c", "import sys; sys.exit('no such file')"], LOGS)
    assert sitelogs.stream(commands, concurrency=3) == 1
    printed = capsys.readouterr()
    shown = printed.out.splitlines()
    assert len(shown) == 200 and all(line.startswith("a access: line ") and line.endswith("x" * 200) for line in shown)
    assert "gone: no such file" in printed.err
