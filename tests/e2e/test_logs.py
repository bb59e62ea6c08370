"""
Logs rotate with no reload: every log Apache writes goes through rotatelogs, Debian's
nightly logrotate job no longer reloads Apache, and under load no request fails and no
log line is lost while logs rotate.
"""

from __future__ import annotations

import subprocess
import threading
import uuid

import pytest
import requests

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.polling import poll
from tests.e2e.conftest import CHECKOUT, SAMPLE, VENV_BIN, LoadLoop
from tests.e2e.test_deploy import probe

# A rotation every few seconds, so that three happen while the clients run.
ROTATION_SECONDS = 10


def keep_alive_clients(fleet, path: str):
    """send() for LoadLoop: each client thread a keep-alive session of its own. A request
    on a connection the server closed as it was sent (the keep-alive race) is sent again
    once, and counted in the list returned."""
    web, name, local, raced = probe(fleet), fleet.hosts[0].server_name, threading.local(), []

    def send() -> requests.Response:
        if not hasattr(local, "session"):
            local.session = web.session(name)
        try:
            return local.session.get(web.url("https", name, path))
        except requests.ConnectionError as error:
            raced.append(repr(error))
            local.session = web.session(name)
            return local.session.get(web.url("https", name, path))

    return send, raced


@pytest.mark.both_suites
def test_logs_rotate_under_load_and_the_nightly_job_reloads_nothing(deployed):
    # Debian's nightly job, as a server with logrotate has it (a minimal one may not).
    deployed.sudo("command -v logrotate >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -qqy logrotate")
    result = deployed.deploy("--data", f"log_rotation_seconds={ROTATION_SECONDS}")
    assert result.returncode == 0, result.stderr[-4000:]
    # Each graceful restart says so in Apache's error log (its files: not the link to the current one).
    reloads = f"zcat -f {layout.APACHE_ERROR_LOG}.* | grep -c 'resuming normal operations' || true"
    apache_before = deployed.sudo(f"cat {layout.APACHE_PID_FILE}").stdout, deployed.sudo(reloads).stdout
    rotated = f"ls {SAMPLE.access_log}.*T*.gz 2>/dev/null | wc -l"
    marker = uuid.uuid4().hex
    send, raced = keep_alive_clients(deployed, f"/?{marker}")
    try:
        with LoadLoop(send, clients=4, max_requests=200_000, max_seconds=120) as load:
            poll(lambda: load.sent > 20, 30, "load is flowing")
            for _ in range(3):
                deployed.sudo("systemctl start logrotate.service")
            poll(lambda: int(deployed.sudo(rotated).stdout) >= 3, 60, "three rotations of the access log")
        print(f"log rotation under load: {load.sent} requests, {len(raced)} sent again after the keep-alive race")
        assert load.failures == []
        # Every request is in the access log, across its rotated files: no line lost (one
        # sent again after the keep-alive race may be there twice).
        logged = f"zcat -f {SAMPLE.access_log}.*T*.gz {SAMPLE.access_log}.*T*[0-9] | grep -c {marker} || true"
        all_logged = lambda: load.sent <= int(deployed.sudo(logged).stdout) <= load.sent + len(raced)  # noqa: E731
        poll(all_logged, 30, f"{load.sent} requests logged")
        assert (deployed.sudo(f"cat {layout.APACHE_PID_FILE}").stdout, deployed.sudo(reloads).stdout) == apache_before
    finally:
        assert deployed.deploy().returncode == 0
        deployed.sudo(f"rm -f {layout.APACHE_LOG_DIR}/*.log.*T*")


def test_awd_logs_prints_and_follows_a_sites_logs_each_line_under_its_host(deployed):
    """The last lines of the site's logs, then, followed, a request's line as it is written."""
    host, name = deployed.hosts[0].alias, deployed.hosts[0].server_name
    marker = f"/logs-{uuid.uuid4().hex}"
    probe(deployed).get("https", name, marker)
    shown = deployed.awd("logs", SAMPLE.app_name, "--lines", "50")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert any(line.startswith(f"{host} access: ") and marker in line for line in shown.stdout.splitlines())
    errors = deployed.awd("logs", SAMPLE.app_name, "--errors")
    assert f"{host} access: " not in errors.stdout

    followed = f"/followed-{uuid.uuid4().hex}"
    lines: list[str] = []
    command = [str(VENV_BIN / "awd"), "logs", SAMPLE.app_name, "--follow", "--lines", "0"]
    with subprocess.Popen(command, cwd=CHECKOUT, env=deployed.env, stdout=subprocess.PIPE, text=True) as follow:
        reader = threading.Thread(target=lambda: lines.extend(follow.stdout), daemon=True)
        reader.start()
        try:
            # tail starts on the host after a moment: the request is sent again until its line shows.
            def sent_and_shown() -> bool:
                probe(deployed).get("https", name, followed)
                return any(line.startswith(f"{host} access: ") and followed in line for line in list(lines))

            poll(sent_and_shown, 30, "the followed access log shows the request")
        finally:
            follow.terminate()
