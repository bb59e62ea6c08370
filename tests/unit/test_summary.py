"""The deploy's per-host summary, read from each host's own pyinfra run."""

from apache_wsgi_deploy.facts.apache import UNDECLARED_SITE
from apache_wsgi_deploy.summary import HostOutcome, read_outcome, summary

CONVERGED = """--> Connecting to hosts...
    [web1] Connected
--> Starting operation: Packages | Apache, mod_wsgi and venv are installed
    [web1] No changes
--> Starting operation: Application | App code is in place, read-only for the daemon
    [web1] Success
    [web1] Error-free output of a command is not an outcome line
--> Starting operation: Site | VirtualHosts are rendered
    [web1] Success
""".splitlines()
FAILED = """--> Starting operation: Packages | Apache, mod_wsgi and venv are installed
    [w2]   No changes
--> Starting operation: Application | App code is in place, read-only for the daemon
    [w2]   Error: executed 0 commands
""".splitlines()
UNREACHABLE = ["    [gone] Could not connect ([Errno None] Unable to connect to port 22 on 10.0.0.9)"]


def test_each_host_gets_one_line():
    outcomes = {
        "web1": read_outcome("web1", CONVERGED),
        "w2": read_outcome("w2", FAILED),
        "gone": read_outcome("gone", UNREACHABLE),
        "crashed": HostOutcome(changed=3, exit_status=1),
    }
    assert summary(outcomes).splitlines() == [
        "--> Per host:",
        "    crashed: FAILED, pyinfra exited 1 (3 changed)",
        "    gone: NOT REACHED, Could not connect ([Errno None] Unable to connect to port 22 on 10.0.0.9)",
        "    w2: FAILED at 'Application | App code is in place, read-only for the daemon' (0 changed before)",
        "    web1: converged, 2 changed, 1 unchanged",
    ]


def test_sites_left_on_a_host_but_not_in_sites_are_named_on_its_line():
    lines = [
        *CONVERGED,
        f"    web1: site 'oldapp' (sites-available/oldapp.conf) {UNDECLARED_SITE}, so it is left as it is.",
        f"    web10: site 'other' (sites-available/other.conf) {UNDECLARED_SITE}, so it is left as it is.",
    ]
    assert summary({"web1": read_outcome("web1", lines)}).splitlines()[1] == (
        "    web1: converged, 2 changed, 1 unchanged; left as they are, not in `sites`: oldapp"
    )
