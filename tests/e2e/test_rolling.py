"""
A rolling deploy on a fleet of four: `awd deploy --canary 1 --batch 2` deploys the first
host alone, then two at a time, each host's sites probed over HTTPS from the control
machine as its run ends; a canary that fails (its release's health check on the host, or
the probe from here) stops the run, the other three untouched and serving the old release.
And `awd logs --follow` over two of them at once, each line under its host.
"""

import re
import shutil
import subprocess
import sys
import threading
import uuid

import pytest

from apache_wsgi_deploy import testhost
from apache_wsgi_deploy.polling import poll
from apache_wsgi_deploy.probe import Probe
from tests.e2e.conftest import CHECKOUT, SAMPLE, Fleet, fleet_name

FLEET = fleet_name("four")
ROLLING = ("--canary", "1", "--batch", "2")
# Flask's sample app with one more line: what Apache serves answers 503, while the
# release's health check on the host (which serves the app without Apache) passes.
ONLY_BEHIND_APACHE = """
from flask import abort, request


@app.before_request
def refuse_behind_apache():
    if "mod_wsgi.version" in request.environ:
        abort(503)
"""


@pytest.fixture(scope="module")
def four():
    testhost.down(FLEET)
    fleet = Fleet(FLEET, testhost.up(FLEET, count=4))
    first = awd(fleet, "deploy", "--concurrency", "4")
    assert first.returncode == 0, first.stderr[-4000:]
    yield fleet
    testhost.down(FLEET)


def awd(fleet: Fleet, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "apache_wsgi_deploy.cli", *args],
        cwd=CHECKOUT,
        env=fleet.env,
        capture_output=True,
        text=True,
    )


def variant(tmp_path, name: str, old: str, new: str):
    folder = tmp_path / name
    shutil.copytree(CHECKOUT / "app", folder)
    (folder / "app.py").write_text((folder / "app.py").read_text().replace(old, new))
    return folder


def live(fleet: Fleet) -> list[str]:
    return [fleet.sudo(f"readlink {SAMPLE.current_dir}", index).stdout.strip() for index in range(4)]


def get(test_host, path: str):
    _, data = test_host.inventory_entry()
    probe = Probe(data["verify_address"], data["verify_http_port"], data["verify_https_port"], data["verify_ca_bundle"])
    return probe.get("https", test_host.server_name, path)


def bodies(fleet: Fleet) -> list[str]:
    return [get(test_host, "/").text for test_host in fleet.hosts]


def lines(run: subprocess.CompletedProcess) -> dict[str, str]:
    """Each host's line in the summary, without its name."""
    return dict(re.findall(r"^    (\S+): (.*)$", run.stderr, re.M))


def ended_in_order(run: subprocess.CompletedProcess) -> list[str]:
    """The hosts in the order their runs ended, as the progress numbered them."""
    return [host for _, host in sorted(re.findall(r"^\[(\d)/4\] (\S+): ", run.stderr, re.M))]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            ('return "Good!"', 'raise RuntimeError("broken release")'),
            "FAILED at 'Application flaskapp | Release is live",
        ),
        (
            ("app = Flask(__name__)", f"app = Flask(__name__)\n{ONLY_BEHIND_APACHE}"),
            "FAILED, its run converged, but GET https://{server}/ from here answered 503; flaskapp put back to its"
            " previous release",
        ),
    ],
    ids=["the health check on the host", "the probe from the control machine"],
)
def test_a_failing_canary_stops_the_fleet_after_the_first_host_serving_the_old_release(four, tmp_path, change, says):
    before = live(four)
    names = [test_host.alias for test_host in four.hosts]
    run = awd(four, "deploy", *ROLLING, "--data", f"app_source={variant(tmp_path, 'canary', *change)}")
    assert run.returncode == 1
    summary = lines(run)
    assert summary[names[0]].startswith(says.format(server=four.hosts[0].server_name)), run.stderr[-3000:]
    for name in names[1:]:
        assert summary[name] == (
            "NOT DEPLOYED, the rolling deploy stopped after 1 host(s) failed (--max-failed 1): left as it was"
        )
    assert live(four) == before
    assert bodies(four) == ["Good!"] * 4


def test_a_rolling_deploy_runs_the_canary_alone_then_two_at_a_time(four, tmp_path):
    names = [test_host.alias for test_host in four.hosts]
    second = variant(tmp_path, "second", '"Good!"', '"Second!"')
    try:
        run = awd(four, "deploy", *ROLLING, "--data", f"app_source={second}")
        assert run.returncode == 0, run.stderr[-3000:]
        assert set(lines(run).values()) == {line for line in lines(run).values() if line.startswith("converged, ")}
        order = ended_in_order(run)
        # The canary ended before any other started; the second batch after the first.
        assert order[0] == names[0] and set(order[1:3]) == set(names[1:3]) and order[3] == names[3]
        assert bodies(four) == ["Second!"] * 4
    finally:
        assert awd(four, "deploy", "--concurrency", "4").returncode == 0
    assert bodies(four) == ["Good!"] * 4


def test_logs_are_followed_from_two_hosts_at_once_each_line_under_its_host(four):
    first, second = four.hosts[:2]
    paths = {test_host.alias: f"/followed-{uuid.uuid4().hex}" for test_host in (first, second)}
    selected = ["--limit", first.alias, "--limit", second.alias]
    command = [sys.executable, "-m", "apache_wsgi_deploy.cli", "logs", SAMPLE.app_name, "--follow", "--lines", "0"]
    shown: list[str] = []
    with subprocess.Popen(
        [*command, *selected], cwd=CHECKOUT, env=four.env, stdout=subprocess.PIPE, text=True
    ) as follow:
        threading.Thread(target=lambda: shown.extend(follow.stdout), daemon=True).start()
        try:
            # tail starts on each host after a moment: each request is sent again until its line shows.
            for test_host in (first, second):

                def sent_and_shown(test_host=test_host) -> bool:
                    get(test_host, paths[test_host.alias])
                    return any(paths[test_host.alias] in line for line in list(shown))

                poll(sent_and_shown, 30, f"{test_host.alias}'s request in the followed logs")
        finally:
            follow.terminate()
    for alias, path in paths.items():
        # Each request's line is under the host that served it, and no other.
        assert {line.split(" ", 1)[0] for line in shown if path in line} == {alias}, shown
        assert any(line.startswith(f"{alias} access: ") and path in line for line in shown)
    assert not any(line.startswith(four.hosts[2].alias) for line in shown)
