"""
Several apps on one host (issue 5): each with its own vhosts, daemon processes, system
user and certificate, kept out of each other's code; one removed cleanly while the other
keeps serving.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from apache_wsgi_deploy.probe import Probe
from testhost import pki
from testhost.fleet import STATE, ca_bundle

PROJECT = Path(__file__).resolve().parents[2]
# Any WSGI app, not only the sample's app:app: a plain WSGI callable under another name.
BLOG_APP = '''def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Blog!"]
'''


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
        shutil.copy(PROJECT / "app" / "requirements.txt", source)
        certificate = pki.issue_certificate(STATE, [self.blog_name])
        self.blog = {
            "app_name": "blog",
            "server_name": self.blog_name,
            "app_source": str(source),
            "wsgi_entry": "blog:application",
            "wsgi_processes": 1,
            "tls_certificate_file": str(certificate / "cert.pem"),
            "tls_chain_file": str(certificate / "chain.pem"),
            "tls_key_file": str(certificate / "privkey.pem"),
        }
        _, data = self.host_data
        self.probe = Probe(data["verify_address"], data["verify_http_port"], data["verify_https_port"], str(ca_bundle()))

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
    result = sites.fleet.deploy(inventory=inventory)
    assert result.returncode == 0, result.stderr[-4000:]
    return inventory


def test_two_apps_serve_their_own_names(sites, two_deployed):
    assert sites.body(sites.fleet.hosts[0].server_name) == "Good!"
    assert sites.body(sites.blog_name) == "Blog!"


def test_two_apps_rerun_changes_nothing(sites, two_deployed):
    result = sites.fleet.deploy(inventory=two_deployed)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.changed == []


def test_each_app_is_verified_and_kept_out_of_the_others_code(sites, two_deployed):
    verify = sites.fleet.verify(f"--inventory={two_deployed}", "-v")
    assert verify.returncode == 0, verify.stdout[-6000:]
    host = sites.fleet.hosts[0].alias
    for app in ("flaskapp", "blog"):
        assert f"test_other_apps_cannot_read_the_code[{host}:{app}] PASSED" in verify.stdout
        assert f"test_daemon_processes_run_as_the_configured_user[{host}:{app}] PASSED" in verify.stdout
    assert f"test_https_serves_the_app_with_a_verified_certificate[{host}:{sites.blog_name}] PASSED" in verify.stdout
    owners = sites.fleet.sudo("stat -c '%n %U:%G %a' /srv/flaskapp/app /srv/blog/app").stdout.split("\n")
    assert owners[:2] == ["/srv/flaskapp/app root:flaskapp 750", "/srv/blog/app root:blog 750"]


def test_an_absent_site_is_removed_and_the_other_keeps_serving(sites, two_deployed):
    removed = sites.inventory("blog_absent", [{}, {**sites.blog, "app_present": False}])
    result = sites.fleet.deploy(inventory=removed)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.changed.count("Apache reloads after its configtest passed") == 1
    assert sites.body(sites.fleet.hosts[0].server_name) == "Good!"

    verify = sites.fleet.verify(f"--inventory={removed}", "-v")
    assert verify.returncode == 0, verify.stdout[-6000:]
    assert f"test_absent_site_is_gone[{sites.fleet.hosts[0].alias}:blog] PASSED" in verify.stdout
    leftovers = sites.fleet.sudo(
        "ls /srv /etc/ssl/apache-wsgi-deploy /etc/apache2/sites-available; getent passwd blog || echo no-user-blog"
    ).stdout.split()
    assert {"blog", sites.blog_name, "blog.conf"} & set(leftovers) == set()
    assert "no-user-blog" in leftovers

    again = sites.fleet.deploy(inventory=removed)
    assert (again.returncode, again.changed) == (0, [])
