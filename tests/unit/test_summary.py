"""The deploy's per-host summary, read from pyinfra's progress lines."""

from apache_wsgi_deploy.summary import read_outcomes, summary

PROGRESS = """--> Connecting to hosts...
    [web1] Connected
    [w2]   Connected
    [gone] Could not connect ([Errno None] Unable to connect to port 22 on 10.0.0.9)
--> Starting operation: Packages | Apache, mod_wsgi and venv are installed
    [web1] No changes
    [w2]   No changes
--> Starting operation: Application | App code is in place, read-only for the daemon
    [web1] Success
    [w2]   Error: executed 0 commands
--> Starting operation: Site | VirtualHosts are rendered
    [web1] Success
""".splitlines(keepends=True)


def test_each_host_gets_one_line():
    assert summary(read_outcomes(PROGRESS)).splitlines() == [
        "--> Per host:",
        "    gone: NOT REACHED, Could not connect ([Errno None] Unable to connect to port 22 on 10.0.0.9)",
        "    w2: FAILED at 'Application | App code is in place, read-only for the daemon' (0 changed before)",
        "    web1: converged, 2 changed, 1 unchanged",
    ]
