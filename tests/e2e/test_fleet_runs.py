"""
Runs over several hosts as an operator sees them, on aliases of the test host (a drift
check and the verification suite only read, and the check takes the deploy lock shared,
so aliases run at once as separate hosts would): the progress a terminal shows, and the
verification of several hosts at once.
"""

import os
import re
import subprocess
import sys

from tests import CHECKOUT


def aliases(fleet, count: int, folder) -> tuple[list[str], str]:
    """count inventory hosts, each an alias of the fleet's first host; their inventory file."""
    alias, data = fleet.hosts[0].inventory_entry()
    names = [f"{alias}-as-{number}" for number in range(1, count + 1)]
    inventory = folder / "aliases.py"
    inventory.write_text(f"web_servers = {[(name, {**data, 'ssh_hostname': alias}) for name in names]!r}\n")
    return names, str(inventory)


def test_a_check_on_a_terminal_shows_each_running_host_and_the_fleet(deployed, tmp_path):
    names, inventory = aliases(deployed, 3, tmp_path)
    terminal, its_end = os.openpty()
    check = subprocess.Popen(
        [sys.executable, "-m", "apache_wsgi_deploy.cli", "check", f"--inventory={inventory}", "--concurrency=2"],
        cwd=CHECKOUT,
        env={**deployed.env, "TERM": "xterm"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=its_end,
    )
    os.close(its_end)
    shown = b""
    while True:
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # EIO: the last holder of the terminal's other end is gone
            break
        if not chunk:
            break
        shown += chunk
    os.close(terminal)
    report = check.communicate(timeout=120)[0].decode()
    assert check.returncode == 0, report
    # Redrawn in place: back up over the lines drawn, erase, draw again.
    assert re.search(rb"\x1b\[\dF\x1b\[J", shown)
    text = re.sub(r"\x1b\[\d*[FJ]", "", shown.decode(errors="replace"))
    for name in names:
        # Running: how long, and where (connecting, preparing, or "<done>/<total> <operation>").
        assert re.search(
            rf"^  {re.escape(name)}\s+\d+\.\ds  (starting|connecting|preparing|\d+/\d+ .+)\r?$", text, re.M
        )
        assert re.search(rf"^\[[123]/3\] {re.escape(name)}: read \(\d+\.\d s\)\r?$", text, re.M), text[-3000:]
    # --concurrency=2: never more than two hosts drawn running at once.
    running = [len(re.findall(r"^  \S+\s+\d+\.\ds  ", block, re.M)) for block in shown.decode().split("\x1b[J")]
    assert max(running) == 2
    # The bar before any host ended, and at the end.
    assert re.search(r"\] 0 done, 0 failed, 3 left\r?$", text, re.M)
    assert re.search(r"\] 3 done, 0 failed, 0 left\r?$", text, re.M)
    assert "\x1b[" not in report and report.endswith("drift check: 3 of 3 host(s) match, 0 drifted, 0 not checked\n")


def test_several_hosts_are_verified_at_once_each_output_whole(deployed, tmp_path):
    names, inventory = aliases(deployed, 3, tmp_path)
    verify = subprocess.run(
        [sys.executable, "-m", "apache_wsgi_deploy.cli", "verify", f"--inventory={inventory}", "--concurrency=2"]
        + ["-k", "test_http"],
        cwd=CHECKOUT,
        env=deployed.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert verify.returncode == 0, verify.stdout[-6000:] + verify.stderr[-3000:]
    parts = re.split(r"^=== (\S+) \(\d+\.\d s\) ===$", verify.stdout, flags=re.MULTILINE)[1:]
    blocks = dict(zip(parts[::2], parts[1::2], strict=True))
    assert sorted(blocks) == names
    for name in names:
        checked = set(re.findall(r"::test_\w+\[([^\]:]+)[:\]].* PASSED", blocks[name]))
        assert checked == {name}, blocks[name][-3000:]
        assert re.search(rf"^    {re.escape(name)}: passed, \d+ passed, .* in [\d.]+s$", verify.stdout, re.M)


def test_deploys_of_one_host_run_in_turn_by_one_process_each_let_the_deploy_lock_go(deployed, tmp_path):
    """At concurrency 1 one process runs the aliases one after the other, each taking the
    deploy lock whole: each run's connection ends with it, and so does its hold."""
    names, inventory = aliases(deployed, 3, tmp_path)
    deploy = subprocess.run(
        [sys.executable, "-m", "apache_wsgi_deploy.cli", "deploy", f"--inventory={inventory}", "--concurrency=1", "-v"],
        cwd=CHECKOUT,
        env=deployed.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = deploy.stdout + deploy.stderr
    assert deploy.returncode == 0, output[-6000:]
    for name in names:
        assert re.search(rf"^    {re.escape(name)}: converged, ", output, re.M), output[-6000:]
    assert "waiting up to" not in output
