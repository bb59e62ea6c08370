"""
Several apps on one host: each with its own vhosts, daemon processes, system
user and certificate, kept out of each other's code; static files served by Apache; one
removed cleanly while the other keeps serving.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.probe import Probe
from apache_wsgi_deploy.testhost import pki
from apache_wsgi_deploy.testhost.fleet import STATE, ca_bundle
from tests import CHECKOUT
from tests.e2e.conftest import VENV_BIN

# Any WSGI app, not only the sample's app:app: a plain WSGI callable under another name.
# /env/<NAME> shows what the app finds in os.environ; every other path says "Blog!".
BLOG_APP = """import os


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    path = environ["PATH_INFO"]
    if path.startswith("/env/"):
        return [os.environ.get(path[len("/env/"):], "(unset)").encode()]
    return [b"Blog!"]
"""
TOKEN_VARIABLE = "AWD_E2E_BLOG_TOKEN"


class Sites:
    """The deployed fleet's host with the sample app and a second app, "blog"."""

    def __init__(self, fleet, folder: Path):
        self.fleet = fleet
        self.folder = folder
        test_host = fleet.hosts[0]
        self.host_data = test_host.inventory_entry()
        self.blog_name = f"blog.{test_host.server_name}"
        source = folder / "blog"
        source.mkdir()
        (source / "blog.py").write_text(BLOG_APP)
        (source / "static").mkdir()
        (source / "static" / "hello.txt").write_text("static hello\n")
        shutil.copy(CHECKOUT / "app" / "requirements.txt", source)
        certificate = pki.issue_certificate(STATE, [self.blog_name])
        # Outside the repository, as docs/sites.md advises for secrets.
        self.secret_file = folder / "blog-secret"
        self.secret_file.write_text("file-secret-4f1c\n")
        self.blog = {
            "app_name": "blog",
            "server_name": self.blog_name,
            "app_source": str(source),
            "wsgi_entry": "blog:application",
            "wsgi_processes": 1,
            "static_url": "/static",
            "app_env": {
                "BLOG_MODE": "test",
                "BLOG_SECRET": {"from_file": str(self.secret_file)},
                "BLOG_TOKEN": {"from_env": TOKEN_VARIABLE},
            },
            "tls_certificate_file": str(certificate / "cert.pem"),
            "tls_chain_file": str(certificate / "chain.pem"),
            "tls_key_file": str(certificate / "privkey.pem"),
        }
        _, data = self.host_data
        self.probe = Probe(
            data["verify_address"], data["verify_http_port"], data["verify_https_port"], str(ca_bundle())
        )

    def inventory(self, name: str, sites: list[dict]) -> str:
        """An inventory of the fleet's host serving these sites."""
        alias, data = self.host_data
        path = self.folder / f"{name}.py"
        path.write_text(f"web_servers = [({alias!r}, {{**{data!r}, 'sites': {sites!r}}})]\n")
        return str(path)

    def body(self, name: str) -> str:
        response = self.probe.get("https", name, "/")
        assert response.status_code == 200, (name, response.status_code)
        return response.text


@pytest.fixture(scope="module")
def sites(fleet, first_deploy, tmp_path_factory):
    assert first_deploy.returncode == 0, first_deploy.stderr[-4000:]
    return Sites(fleet, tmp_path_factory.mktemp("sites"))


@pytest.fixture(scope="module")
def two_deployed(sites):
    inventory = sites.inventory("two_sites", [{}, sites.blog])
    result = sites.fleet.deploy(inventory=inventory, env={TOKEN_VARIABLE: "env-token-9a7e"})
    assert result.returncode == 0, result.stderr[-4000:]
    sites.first_output = json.dumps(result.output) + result.stderr
    return inventory


def test_two_apps_serve_their_own_names(sites, two_deployed):
    assert sites.body(sites.fleet.hosts[0].server_name) == "Good!"
    assert sites.body(sites.blog_name) == "Blog!"


def test_static_files_are_served_by_apache_not_the_app(sites, two_deployed):
    """The blog app answers "Blog!" to every path: any other body came from Apache."""
    response = sites.probe.get("https", sites.blog_name, "/static/hello.txt")
    assert (response.status_code, response.text) == (200, "static hello\n")
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert "Strict-Transport-Security" in response.headers
    assert sites.body(sites.blog_name) == "Blog!"
    assert sites.probe.get("https", sites.blog_name, "/static/no-such-file").status_code == 404
    # A link in the static copy, root's like what it leads to, is not followed.
    sites.fleet.sudo("ln -s /etc/passwd /srv/blog/current/static/passwd")
    try:
        assert sites.probe.get("https", sites.blog_name, "/static/passwd").status_code == 403
    finally:
        sites.fleet.sudo("rm /srv/blog/current/static/passwd")


def test_secrets_reach_their_app_alone_and_are_never_printed(sites, two_deployed):
    env = {
        name: sites.probe.get("https", sites.blog_name, f"/env/{name}").text
        for name in ("BLOG_MODE", "BLOG_SECRET", "BLOG_TOKEN")
    }
    assert env == {"BLOG_MODE": "test", "BLOG_SECRET": "file-secret-4f1c", "BLOG_TOKEN": "env-token-9a7e"}
    assert "file-secret-4f1c" not in sites.first_output and "env-token-9a7e" not in sites.first_output
    other_app = sites.fleet.sudo("runuser -u flaskapp -- cat /srv/blog/current/environment.json 2>&1 || true").stdout
    assert "Permission denied" in other_app and "env-token" not in other_app

    # A new value is a new release of the same code, and the drift check hides both.
    drift = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "apache_wsgi_deploy.cli", "check", f"--inventory={two_deployed}"],
        cwd=CHECKOUT,
        env={**sites.fleet.env, TOKEN_VARIABLE: "env-token-rotated"},
        capture_output=True,
        text=True,
    )
    assert drift.returncode == 2, drift.stdout[-3000:] + drift.stderr[-3000:]
    assert "Release holds the app's environment, for the app alone" in drift.stdout
    assert "env-token" not in drift.stdout + drift.stderr
    rotated = sites.fleet.deploy(inventory=two_deployed, env={TOKEN_VARIABLE: "env-token-rotated"})
    assert rotated.returncode == 0, rotated.stderr[-4000:]
    assert "env-token" not in json.dumps(rotated.output) + rotated.stderr
    assert sites.probe.get("https", sites.blog_name, "/env/BLOG_TOKEN").text == "env-token-rotated"
    restored = sites.fleet.deploy(inventory=two_deployed, env={TOKEN_VARIABLE: "env-token-9a7e"})
    assert restored.returncode == 0, restored.stderr[-4000:]


def test_two_apps_rerun_changes_nothing(sites, two_deployed):
    result = sites.fleet.deploy(inventory=two_deployed, env={TOKEN_VARIABLE: "env-token-9a7e"})
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.changed == []


def test_each_app_is_verified_and_kept_out_of_the_others_code(sites, two_deployed):
    verify = sites.fleet.verify(f"--inventory={two_deployed}", "-v")
    assert verify.returncode == 0, verify.stdout[-6000:]
    host = sites.fleet.hosts[0].alias
    assert f"test_app_environment_is_readable_by_the_app_alone[{host}:blog] PASSED" in verify.stdout
    for app in ("flaskapp", "blog"):
        assert f"test_other_apps_cannot_read_the_code[{host}:{app}] PASSED" in verify.stdout
        assert f"test_daemon_processes_run_as_the_configured_user[{host}:{app}] PASSED" in verify.stdout
    assert f"test_https_serves_the_app_with_a_verified_certificate[{host}:{sites.blog_name}] PASSED" in verify.stdout
    assert f"test_static_files_are_served_by_apache_with_caching[{host}:blog] PASSED" in verify.stdout
    owners = sites.fleet.sudo("stat -c '%n %U:%G %a' /srv/flaskapp/current/app /srv/blog/current/app").stdout.split(
        "\n"
    )
    assert owners[:2] == ["/srv/flaskapp/current/app root:flaskapp 750", "/srv/blog/current/app root:blog 750"]


def test_a_site_dropped_from_sites_is_named_and_left_serving(sites, two_deployed):
    """Dropped instead of marked absent: the deploy cannot know what to remove, so it says so."""
    dropped = sites.inventory("blog_dropped", [{}])
    result = sites.fleet.deploy(inventory=dropped)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.changed == []
    assert "site 'blog' (sites-available/blog.conf) was deployed here but is not in `sites`" in result.stderr
    assert sites.body(sites.blog_name) == "Blog!"
    verify = sites.fleet.verify(f"--inventory={dropped}", "-v", "-k", "declared")
    assert f"test_every_site_of_ours_is_declared[{sites.fleet.hosts[0].alias}] FAILED" in verify.stdout


def test_an_absent_site_is_removed_and_the_other_keeps_serving(sites, two_deployed):
    removed = sites.inventory("blog_absent", [{}, {**sites.blog, "app_present": False}])
    result = sites.fleet.deploy(inventory=removed, env={TOKEN_VARIABLE: "env-token-9a7e"})
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.changed.count("Apache reloads after its configtest passed") == 1
    assert sites.body(sites.fleet.hosts[0].server_name) == "Good!"

    verify = sites.fleet.verify(f"--inventory={removed}", "-v")
    assert verify.returncode == 0, verify.stdout[-6000:]
    assert f"test_absent_site_is_gone[{sites.fleet.hosts[0].alias}:blog] PASSED" in verify.stdout
    leftovers = sites.fleet.sudo(
        f"ls /srv /etc/ssl/apache-wsgi-deploy {layout.APACHE_DIR}/sites-available;"
        " getent passwd blog || echo no-user-blog"
    ).stdout.split()
    assert {"blog", sites.blog_name, "blog.conf"} & set(leftovers) == set()
    assert "no-user-blog" in leftovers

    again = sites.fleet.deploy(inventory=removed, env={TOKEN_VARIABLE: "env-token-9a7e"})
    assert (again.returncode, again.changed) == (0, [])


def test_removing_a_site_keeps_what_the_deploy_did_not_make(sites, two_deployed):
    """Someone else's file in the app's folder: the folder stays, holding just that."""
    redeployed = sites.fleet.deploy(inventory=two_deployed, env={TOKEN_VARIABLE: "env-token-9a7e"})
    assert redeployed.returncode == 0, redeployed.stderr[-4000:]
    sites.fleet.sudo("echo 'a vendor keeps this' > /srv/blog/vendor-data")
    removed = sites.inventory("blog_absent", [{}, {**sites.blog, "app_present": False}])
    try:
        result = sites.fleet.deploy(inventory=removed, env={TOKEN_VARIABLE: "env-token-9a7e"})
        assert result.returncode == 0, result.stderr[-4000:]
        assert "/srv/blog is kept for what the deploy did not make: vendor-data" in result.stderr
        assert sites.fleet.sudo("ls -A /srv/blog").stdout.split() == ["vendor-data"]
        assert "no-user-blog" in sites.fleet.sudo("getent passwd blog || echo no-user-blog").stdout
        verify = sites.fleet.verify(f"--inventory={removed}", "-v", "-k", "absent")
        assert f"test_absent_site_is_gone[{sites.fleet.hosts[0].alias}:blog] PASSED" in verify.stdout
        again = sites.fleet.deploy(inventory=removed, env={TOKEN_VARIABLE: "env-token-9a7e"})
        assert (again.returncode, again.changed) == (0, [])
    finally:
        sites.fleet.sudo("rm -rf /srv/blog")


def test_a_second_vhost_with_a_sites_name_fails_the_reload_naming_both_files(sites):
    """A renamed site's old vhosts left enabled (here dropped in by hand, as the sample's
    under another daemon name): the reload is refused, the old config keeps serving."""
    server_name = sites.fleet.hosts[0].server_name
    sample = layout.site_link("flaskapp")
    old = layout.site_link("oldshop")
    sites.fleet.sudo(
        "sed 's/WSGIDaemonProcess flaskapp /WSGIDaemonProcess oldshop /; s/WSGIProcessGroup flaskapp/WSGIProcessGroup"
        f" oldshop/' {sample} > {old}"
    )
    # Anything that makes the deploy reload: here, drift in the sample's vhosts.
    sites.fleet.sudo(f"sed -i 's/Strict-Transport-Security/X-Drift/' {layout.site_file('flaskapp')}")
    try:
        result = sites.fleet.deploy()
        assert result.returncode != 0
        failed = result.last_operation
        assert failed.startswith("Apache service | Apache reloads after its configtest passed")
        for port in (80, 443):
            assert f"{server_name} on port {port} is served by two VirtualHosts: {sample}:" in failed
        assert f" and {old}:" in failed and "disable one (a renamed site's old vhost?)" in failed
        assert "apache-wsgi-deploy: two VirtualHosts claim one name; its config changes are undone" in failed
        assert sites.body(server_name) == "Good!"
    finally:
        sites.fleet.sudo(f"rm -f {old}")
    again = sites.fleet.deploy()
    assert again.returncode == 0, again.stderr[-4000:]
    assert "Apache reloads after its configtest passed" in again.changed
    assert sites.body(server_name) == "Good!"


def test_a_site_renamed_in_one_run_takes_over_its_names_and_certificate(sites):
    """The old entry marked absent beside the new one: one reload swaps their vhosts."""
    server_name = sites.fleet.hosts[0].server_name
    renamed = sites.inventory("renamed", [{"app_present": False}, {"app_name": "shop"}])
    result = sites.fleet.deploy(inventory=renamed)
    try:
        assert result.returncode == 0, result.stderr[-4000:]
        assert result.changed.count("Apache reloads after its configtest passed") == 1
        assert sites.body(server_name) == "Good!"
        assert sites.fleet.sudo(f"ls {layout.APACHE_DIR}/sites-enabled").stdout.split() == ["shop.conf"]
        verify = sites.fleet.verify(f"--inventory={renamed}")
        assert verify.returncode == 0, verify.stdout[-6000:]
    finally:
        back = sites.fleet.deploy(
            inventory=sites.inventory("renamed_back", [{"app_name": "shop", "app_present": False}, {}])
        )
        assert back.returncode == 0, back.stderr[-4000:]
