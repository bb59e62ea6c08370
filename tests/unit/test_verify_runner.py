"""./run.sh verify over several hosts: one pytest each, at most --concurrency at once,
each host's output whole, one line per host at the end; here against addresses where
nothing listens, so every host's checks fail fast."""

import re
import subprocess
import sys

from apache_wsgi_deploy import PROJECT
from apache_wsgi_deploy.verify import closing_line


def test_pytests_closing_line_is_each_hosts_result():
    output = "tests/verify/test_http.py ....\n======= 60 passed, 4 skipped in 23.40s =======\n"
    assert closing_line(output) == "60 passed, 4 skipped in 23.40s"
    assert closing_line("Traceback (most recent call last):\nKeyError: 'x'\n") == "pytest ended without its summary"


def test_each_host_is_verified_on_its_own_and_a_failing_host_fails_the_run(tmp_path):
    inventory = tmp_path / "inventory.py"
    # Port 9 (discard) on loopback: nothing listens, every SSH check fails at once.
    data = "{'acme_agree_tos': True, 'ssh_hostname': '127.0.0.1', 'ssh_port': 9}"
    inventory.write_text(f"web_servers = [{', '.join(f'({name!r}, {data})' for name in ('web1', 'web2', 'web3'))}]\n")
    run = subprocess.run(
        [sys.executable, "-m", "apache_wsgi_deploy.verify", f"--inventory={inventory}", "--concurrency=2"]
        + ["-k", "test_packages_are_installed"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    hosts = ("web1", "web2", "web3")
    # One block per host, holding its own checks only.
    parts = re.split(r"^=== (\S+) \([\d.]+ s\) ===$", run.stdout, flags=re.MULTILINE)[1:]
    blocks = dict(zip(parts[::2], parts[1::2], strict=True))
    assert sorted(blocks) == list(hosts)
    for host in hosts:
        assert re.findall(r"::test_packages_are_installed\[(\w+)\] FAILED", blocks[host]) == [host]
        assert f"    {host}: FAILED, 1 failed, " in run.stdout
