"""
Maintenance mode: `awd maintenance on` makes the site answer every request 503 with its
page and Retry-After, and `off` brings it back, under load and with no reload of Apache;
the allowed networks still reach the app; the switches are in the host's audit trail.
"""

import json
import threading
import time

from apache_wsgi_deploy import audit
from apache_wsgi_deploy.polling import poll
from tests.e2e.conftest import SAMPLE
from tests.e2e.test_deploy import probe, reloads
from tests.e2e.test_releases import settings_inventory, variant

# What the host's own Python asks its Apache for, over loopback: a client the allowed
# networks do not hold.
FROM_THE_HOST = (
    "python3 -c \"import http.client, ssl; connection = http.client.HTTPSConnection('127.0.0.1', 443,"
    " context=ssl._create_unverified_context()); connection.request('GET', '/', headers={'Host': '%s'});"
    ' print(connection.getresponse().status)"'
)
# The podman bridge's gateway, as the container's routing table has it: the address the
# control machine's requests come from.
GATEWAY = (
    "python3 -c \"import socket, struct; print(next(socket.inet_ntoa(struct.pack('<L', int(line.split()[2], 16)))"
    " for line in open('/proc/net/route').readlines()[1:] if line.split()[1] == '00000000'))\""
)


class Statuses:
    """One client asking for / back to back while a `with` block runs, keeping each
    answer's status in order; bounded in count and time."""

    def __init__(self, send, max_requests: int = 3000, max_seconds: float = 90):
        self.send, self.max_requests, self.max_seconds = send, max_requests, max_seconds
        self.seen: list[int | str] = []

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline and len(self.seen) < self.max_requests:
            try:
                self.seen.append(self.send().status_code)
            except Exception as error:  # a refused or reset connection is what we look for
                self.seen.append(repr(error))

    def __enter__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def phases(seen: list) -> list:
    """The statuses with repeats folded: [200, 503, 200] for a switch on then off."""
    return [status for index, status in enumerate(seen) if index == 0 or seen[index - 1] != status]


def test_maintenance_switches_under_load_with_no_reload_and_lets_the_allowed_networks_through(deployed, tmp_path):
    name = deployed.hosts[0].server_name
    site = probe(deployed)

    def awd(*args: str):
        return deployed.awd(*args)

    before = reloads(deployed)
    with Statuses(lambda: site.get("https", name, "/")) as load:
        poll(lambda: len(load.seen) > 20, 30, "requests answered before the switch")
        switched = awd("maintenance", "on", "flaskapp")
        assert switched.returncode == 0, switched.stderr
        assert switched.stdout.strip().endswith("flaskapp answers every request 503 (Retry-After 300 s)")
        poll(lambda: load.seen[-1] == 503, 30, "the site answers 503")
        answer = site.get("https", name, "/any/path?x=1")
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "300"
        assert f"{name} is down for maintenance" in answer.text
        assert awd("maintenance", "off", "flaskapp").returncode == 0
        poll(lambda: load.seen[-1] == 200, 30, "the site serves again")
        served_again = len(load.seen)
        poll(lambda: len(load.seen) > served_again + 20, 30, "requests answered after the switch")
    assert phases(load.seen) == [200, 503, 200], phases(load.seen)
    # Neither switch reloaded Apache: no request lost, no graceful restart in its log.
    assert reloads(deployed) == before
    assert "Retry-After" not in site.get("https", name, "/").headers

    page = tmp_path / "maintenance.html"
    page.write_text("<p>Upgrading the database, back at 18:00 UTC</p>\n")
    gateway = deployed.sudo(GATEWAY).stdout.strip()
    inventory = settings_inventory(
        deployed, tmp_path, maintenance_allowed=[gateway], maintenance_page=str(page), maintenance_retry_after=600
    )
    try:
        assert deployed.awd("deploy", f"--inventory={inventory}").returncode == 0
        assert deployed.awd("maintenance", "on", "flaskapp", f"--inventory={inventory}").returncode == 0
        # The allowed network reaches the app; the host's own request gets the team's page.
        assert (site.get("https", name, "/").status_code, site.get("https", name, "/").text) == (200, "Good!")
        assert deployed.sudo(FROM_THE_HOST % name).stdout.strip() == "503"
        assert site.get("https", name, "/.awd-maintenance/503.html").text == page.read_text()
        # A deploy leaves the site in maintenance, and changes nothing.
        assert deployed.deploy(inventory=inventory).changed == []
        assert deployed.sudo(FROM_THE_HOST % name).stdout.strip() == "503"
        assert deployed.awd("maintenance", "off", "flaskapp", f"--inventory={inventory}").returncode == 0
        assert deployed.sudo(FROM_THE_HOST % name).stdout.strip() == "200"

        history = deployed.awd("status", "--history", "4", "--json")
        entries = json.loads(history.stdout)["hosts"][deployed.hosts[0].alias]["history"]
        assert [(entry["action"], entry["what"]) for entry in entries] == [
            ("deploy", "flaskapp"),
            ("maintenance", "flaskapp: on"),
            ("deploy", "flaskapp"),
            ("maintenance", "flaskapp: off"),
        ]
        assert entries[0]["outcome"].startswith("converged, ")
        # pyinfra's own command line does not tell the lock's holder how it ended.
        assert entries[2]["outcome"] == audit.UNTOLD
        assert entries[1]["outcome"] == entries[3]["outcome"] == "exit status 0"
    finally:
        deployed.sudo(f"rm -f {SAMPLE.maintenance_flag}")
        assert deployed.deploy().returncode == 0


def test_a_deploy_holds_the_site_in_maintenance_from_its_release_commands_until_the_release_is_live(deployed, tmp_path):
    name = deployed.hosts[0].server_name
    site = probe(deployed)
    flag = SAMPLE.maintenance_flag
    # A release command that fails unless the site is in maintenance while it runs.
    in_maintenance = f"test -e {flag}"

    def deploy(version: str, commands: list[str]):
        inventory = settings_inventory(
            deployed,
            tmp_path,
            app_source=str(variant(tmp_path, version, 'return "Good!"', f'return "{version}"')),
            release_commands=commands,
            maintenance_during_release_commands=True,
        )
        return deployed.awd("deploy", f"--inventory={inventory}")

    def out_of_maintenance() -> bool:
        return deployed.sudo(f"ls {flag}* 2>/dev/null || true").stdout == ""

    try:
        with Statuses(lambda: site.get("https", name, "/")) as load:
            # New code: in maintenance from its commands until it is live.
            new = deploy("two", [in_maintenance])
            assert new.returncode == 0, new.stderr[-3000:]
            assert out_of_maintenance()
            assert site.get("https", name, "/").text == "two"
        # Every answer was the app's or the maintenance page: nothing failed on the way.
        assert set(load.seen) <= {200, 503}, phases(load.seen)

        # A command that fails takes the site out of maintenance again; the live release serves.
        failed = deploy("three", [in_maintenance, "exit 3"])
        assert failed.returncode == 1
        assert out_of_maintenance()
        assert site.get("https", name, "/").text == "two"

        # An operator's maintenance outlasts the deploy.
        assert deployed.awd("maintenance", "on", "flaskapp").returncode == 0
        held = deploy("four", [in_maintenance])
        assert held.returncode == 0, held.stderr[-3000:]
        assert deployed.sudo(f"ls {flag}*").stdout.split() == [flag]
        assert deployed.sudo(FROM_THE_HOST % name).stdout.strip() == "503"
    finally:
        assert deployed.awd("maintenance", "off", "flaskapp").returncode == 0
        assert deployed.deploy().returncode == 0
    assert site.get("https", name, "/").text == "Good!"
