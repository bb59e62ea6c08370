"""What `awd deploy` and `awd rollback` tell a host's hooks and webhook: each event with its
facts, run beside the deploy; a hook or post that fails is reported and changes nothing."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apache_wsgi_deploy import audit, hooks, schema
from apache_wsgi_deploy.outcome import HostOutcome
from apache_wsgi_deploy.settings import Settings, SettingsError
from apache_wsgi_deploy.validators import HOOK_EVENTS

COMMIT = "0123456789abcdef0123456789abcdef01234567"
GIT_RELEASE = f"20261203T101500Z-{COMMIT}-1a2b3c4d"
FOLDER_RELEASE = "20261203T101500Z-9f8e7d6c5b4a-1a2b3c4d"
SITES = [{}, {"app_name": "blog", "server_name": "blog.example.test"}]


def settings(**overrides) -> Settings:
    return Settings.from_data("web1", {**schema.defaults(), "acme_agree_tos": True, "sites": SITES, **overrides})


def ended(status: int = 0) -> HostOutcome:
    return HostOutcome(
        "web1",
        exit_status=status,
        changed=["Release is live"],
        unchanged=40,
        releases=[
            {"install_path": "/srv/flaskapp", "release": GIT_RELEASE},
            {"install_path": "/srv/blog", "release": FOLDER_RELEASE},
        ],
    )


@pytest.fixture
def receiver():
    """A webhook on loopback: the JSON of each post, answered with `status`."""
    posts, status = [], [200]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(status[0])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", posts, status
    server.shutdown()
    server.server_close()


def test_each_event_runs_its_hooks_with_the_facts_in_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = 'echo "$AWD_EVENT|$AWD_ACTION|$AWD_HOST|$AWD_SITES|$AWD_RELEASES|$AWD_COMMITS|$AWD_OUTCOME" >> events'
    # A slow hook (a chat's API) does not let the host's next event overtake it.
    slow = {**{event: [record] for event in HOOK_EVENTS}, "started": [f"sleep 0.3; {record}"]}
    told = hooks.Hooks(
        {"web1": settings(deploy_hooks=slow)},
        hooks.DEPLOY,
        "20261203T101500Z",
    )
    told.started("web1")
    told.ended("web1", ended())
    told.ended("web1", ended(status=1))
    assert told.failures() == []
    started, succeeded, failed = (tmp_path / "events").read_text().splitlines()
    assert started == "started|deploy|web1|flaskapp blog|||"
    assert succeeded == (
        f"succeeded|deploy|web1|flaskapp blog|flaskapp={GIT_RELEASE} blog={FOLDER_RELEASE}|flaskapp={COMMIT}|"
        "web1: converged, 1 changed, 40 unchanged"
    )
    assert failed.startswith("failed|deploy|web1|") and failed.endswith("web1: FAILED, pyinfra exited 1 (1 changed)")


def test_a_rollback_that_succeeds_is_rolled_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = 'echo "$AWD_EVENT $AWD_ACTION" >> events; echo "$AWD_EVENT_JSON" > event.json'
    told = hooks.Hooks({"web1": settings(deploy_hooks={"rolled_back": [record]})}, hooks.ROLLBACK, "run")
    told.started("web1")
    told.ended("web1", ended())
    assert told.failures() == []
    assert (tmp_path / "events").read_text() == "rolled_back rollback\n"
    facts = json.loads((tmp_path / "event.json").read_text())
    assert facts["sites"][0] == {
        "app_name": "flaskapp",
        "server_name": "www.example.com",
        "release": GIT_RELEASE,
        "commit": COMMIT,
    }
    assert facts["user"] == audit.deployer() and "@" in facts["user"]


def test_the_webhook_gets_each_event_as_json_with_a_line_of_text(receiver):
    url, posts, _ = receiver
    told = hooks.Hooks({"web1": settings(deploy_webhook=f"{url}/services/T0/B0/token")}, hooks.DEPLOY, "run")
    told.started("web1")
    told.ended("web1", ended(status=1))
    assert told.failures() == []
    assert [path for path, _ in posts] == ["/services/T0/B0/token"] * 2
    events = sorted((post for _, post in posts), key=lambda post: post["event"] != "started")
    assert [post["event"] for post in events] == ["started", "failed"]
    assert events[0]["text"] == f"awd deploy started on web1 by {audit.deployer()}: flaskapp, blog"
    assert events[1]["text"].startswith(f"awd deploy FAILED on web1 by {audit.deployer()}: flaskapp {GIT_RELEASE}")


def test_a_failing_hook_or_post_is_reported_never_showing_the_webhooks_url(receiver, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url, _, status = receiver
    status[0] = 500
    monkeypatch.setattr(hooks, "HOOK_TIMEOUT", 2)
    told = hooks.Hooks(
        {
            "web1": settings(
                deploy_hooks={"succeeded": ["echo chat is down >&2; exit 3", "exec sleep 30"]},
                deploy_webhook=f"{url}/services/T0/B0/secret-token",
            ),
            "web2": settings(deploy_webhook="http://127.0.0.1:9/closed"),
        },
        hooks.DEPLOY,
        "run",
    )
    told.ended("web1", ended())
    told.ended("web2", ended())
    failures = told.failures()
    assert failures[:3] == [
        "hook 'echo chat is down >&2; exit 3' at web1 succeeded failed with exit status 3: chat is down",
        "hook 'exec sleep 30' at web1 succeeded did not end within 2 s",
        "webhook to 127.0.0.1 at web1 succeeded answered 500",
    ]
    assert failures[3].startswith("webhook to 127.0.0.1 at web2 succeeded could not be reached")
    assert "secret-token" not in "\n".join(failures)


def test_a_host_without_hooks_is_told_nothing():
    assert not hooks.Hooks({"web1": settings()}, hooks.DEPLOY, "run").any()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("deploy_hooks", {"deployed": ["true"]}),
        ("deploy_hooks", {"started": "true"}),
        ("deploy_hooks", {"started": ["echo a\nreboot"]}),
        ("deploy_hooks", ["true"]),
        ("deploy_webhook", "ftp://example.com/hook"),
        ("deploy_webhook", "https://"),
        ("deploy_webhook", "https://example.com:99999/hook"),
        ("deploy_webhook", "https://example.com/a b"),
        ("deploy_webhook", "https://example.com/\nX-Injected: 1"),
    ],
)
def test_bad_hooks_and_webhooks_are_refused(key, value):
    with pytest.raises(SettingsError) as error:
        settings(**{key: value})
    assert f"setting {key!r}" in str(error.value)
    # A webhook's URL is its credential: a refusal does not show it.
    assert key != "deploy_webhook" or "example.com" not in str(error.value)
