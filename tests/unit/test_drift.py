"""The drift check reads pyinfra's dry-run plan and diff output per host."""

from apache_wsgi_deploy.drift import analyse, connections, report

STDERR = """--> Connecting to hosts...
    [web1] Connected
    [w2]   Connected
    [gone] Could not connect ([Errno None] Unable to connect to port 9 on 127.0.0.1)

--> Preparing operation files...
    Loading: deploy.py
    [w2]   Will modify /etc/apache2/sites-available/flaskapp.conf
      @@ -30,5 +30,5 @@
      -     Header always set X-Drift "max-age=31536000"
      +     Header always set Strict-Transport-Security "max-age=31536000"

    [web1] Ready: deploy.py
    [w2]   Ready: deploy.py
"""
PLAN = [
    {"name": "Site | VirtualHosts are rendered", "hosts_with_change": ["w2"], "hosts_with_conditional_change": []},
    {
        "name": "Apache service | Apache reloads",
        "hosts_with_change": [],
        "hosts_with_conditional_change": ["web1", "w2"],
    },
]


def test_hosts_reached_and_not_despite_padded_names():
    connected, unreachable = connections(STDERR)
    assert connected == {"web1", "w2"}
    assert list(unreachable) == ["gone"]
    assert unreachable["gone"].startswith("Could not connect")


def test_only_unconditional_changes_count_and_diffs_go_to_their_host():
    drift = analyse(PLAN, STDERR)
    assert list(drift) == ["w2"]
    assert drift["w2"].changes == ["Site | VirtualHosts are rendered"]
    assert drift["w2"].diff[0] == "Will modify /etc/apache2/sites-available/flaskapp.conf"
    assert '-     Header always set X-Drift "max-age=31536000"' in drift["w2"].diff


def test_report_lists_every_host_and_a_summary():
    connected, unreachable = connections(STDERR)
    text = report(sorted(connected), analyse(PLAN, STDERR), unreachable)
    assert "web1: matches" in text
    assert "w2: DRIFTED, 1 operation(s) would change:\n  - Site | VirtualHosts are rendered" in text
    assert "gone: NOT CHECKED, Could not connect" in text
    assert text.endswith("drift check: 1 of 3 host(s) match, 1 drifted, 1 not checked")
