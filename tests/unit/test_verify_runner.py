"""awd verify over several hosts: one pytest each, at most --concurrency at once, one line
per host at the end; a host that cannot be reached is that one line, not a failure of
every check. Here against addresses where nothing listens."""

import json
import subprocess
import sys

from apache_wsgi_deploy.verify import closing_line, pytest_command


def test_pytests_closing_line_is_each_hosts_result():
    output = "checks/test_http.py ....\n======= 60 passed, 4 skipped in 23.40s =======\n"
    assert closing_line(output) == "60 passed, 4 skipped in 23.40s"
    assert closing_line("Traceback (most recent call last):\nKeyError: 'x'\n") == "pytest ended without its summary"


def test_each_host_gets_its_own_pytest_with_the_packaged_checks_and_the_plugin():
    command = pytest_command("prod.py", "web2", ["-k", "http", "my_checks/"])
    assert command[command.index("-p") + 1] == "apache_wsgi_deploy.verify.plugin"
    assert command[-6:] == [
        "--inventory=prod.py",
        "--limit=web2",
        command[-4],
        "-k",
        "http",
        "my_checks/",
    ]
    assert command[-4].endswith("apache_wsgi_deploy/verify/checks")


def awd(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "apache_wsgi_deploy.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def unreachable_inventory(folder, names=("web1", "web2", "web3")):
    # Port 9 (discard) on loopback: nothing listens, every connection is refused at once.
    data = "{'acme_agree_tos': True, 'ssh_hostname': '127.0.0.1', 'ssh_port': 9}"
    (folder / "inventory.py").write_text(f"web_servers = [{', '.join(f'({name!r}, {data})' for name in names)}]\n")


def test_an_unreachable_host_is_one_line_and_fails_the_run(tmp_path):
    unreachable_inventory(tmp_path)
    run = awd("verify", "--concurrency=2", cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    for host in ("web1", "web2", "web3"):
        (line,) = [line for line in run.stdout.splitlines() if f"{host}:" in line]
        assert line.startswith(f"    {host}: FAILED, NOT REACHED, ") and "Connection refused" in line
    assert "test_" not in run.stdout + run.stderr
    # The per-host log folder is the project folder's.
    assert list((tmp_path / ".logs").iterdir())


def test_json_gives_each_hosts_outcome(tmp_path):
    unreachable_inventory(tmp_path, ("web1",))
    run = awd("verify", "--json", cwd=tmp_path)
    assert run.returncode == 1
    outcome = json.loads(run.stdout)["hosts"]["web1"]
    assert (outcome["exit_status"], outcome["reached"]) == (1, False)
