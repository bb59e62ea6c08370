"""What a client sees: HTTP probes from the control machine with requests."""

import re
import uuid

import pytest

from apache_wsgi_deploy.probe import SENSITIVE_PATHS, Answer, aliased_urls, served


def test_http_redirects_to_https_with_path_and_query(site, site_name):
    response = site.probe.get("http", site_name, "/a/b?x=1")
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://{site.site.server_name}/a/b?x=1"


def test_https_serves_the_app_with_a_verified_certificate(site, site_name):
    # At the path the deploy's health check asks for, judged as it judges (an app's / may
    # be a 404 by design, Django's is): below 400, redirects within the site followed.
    answer = site.probe.get_within_site(site_name, site.site.server_name, site.site.health_check_path)
    assert answer.passed, f"https://{site_name}: {answer}"


def hsts_max_age(response) -> int:
    header = response.headers.get("Strict-Transport-Security", "")
    directives = dict(part.strip().partition("=")[::2] for part in header.split(";"))
    return int(directives.get("max-age", "-1"))


def test_hsts_on_success(site):
    response = site.probe.get("https", site.site.server_name, site.site.health_check_path)
    assert hsts_max_age(response) >= site.site.hsts_max_age


def test_hsts_on_not_found(site):
    # An encoded slash is refused by Apache itself (AllowEncodedSlashes Off), before any
    # app, which may answer every path: an error page Apache makes must carry HSTS too.
    response = site.probe.get("https", site.site.server_name, f"/no-such-page-{uuid.uuid4().hex}%2Fx")
    assert response.status_code == 404
    assert hsts_max_age(response) >= site.site.hsts_max_age


def test_http2_is_negotiated_as_configured(site):
    expected = "h2" if site.site.http2 else "http/1.1"
    assert site.probe.negotiated_protocol(site.site.server_name) == expected


def test_static_files_are_served_by_apache_with_caching(static_site):
    site = static_site.site
    first = static_site.host.check_output("cd %s && find . -type f | sort | head -n 1", static_site.paths.static_path)
    assert first, f"no static file in {static_site.paths.static_path} to ask for"
    response = static_site.probe.get("https", site.server_name, f"{site.static_url}/{first[2:]}")
    assert response.status_code == 200
    assert response.content == static_site.host.file(f"{static_site.paths.static_path}/{first[2:]}").content
    assert f"max-age={site.static_max_age}" in response.headers.get("Cache-Control", "")


def test_apache_never_compresses_the_apps_responses(site):
    """BREACH: the HTTPS vhost turns mod_deflate off for the app (SetEnv no-gzip 1 at its
    top level), whatever the app does itself."""
    vhost = site.host.file(site.paths.site_file).content_string
    https = vhost[vhost.index("<VirtualHost *:443>") :]
    assert re.search(r"^    SetEnv no-gzip 1$", https, re.MULTILINE), f"{site.paths.site_file}: no SetEnv no-gzip 1"


def test_the_apps_responses_are_not_compressed(site):
    """BREACH: a compressed response over TLS leaks the length of the secrets in it.
    Apache compresses none of them (the check above): an encoded answer is the app's own,
    accepted when app_compresses_responses says it is meant."""
    response = site.probe.get("https", site.site.server_name, site.site.health_check_path)
    assert response.request.headers["Accept-Encoding"].startswith("gzip")
    encoding = response.headers.get("Content-Encoding")
    assert encoding is None or site.site.app_compresses_responses, (
        f"the app answers {site.site.health_check_path} with Content-Encoding: {encoding} (Apache does not compress"
        " it): if meant, set app_compresses_responses = True"
    )


# What a client may send to pass for someone else: the forwarded address of a proxy on
# the host (mod_remoteip takes it from whatever its RemoteIPInternalProxy names, and
# "Require local" then lets the world in), and on port 80, where no certificate names
# the site, another vhost's name.
SPOOFED = {
    "as-sent": {},
    "forwarded-from-loopback": {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1", "Forwarded": "for=127.0.0.1"},
    "host-localhost": {"Host": "localhost"},
}
SPOOFED_ON = [
    (scheme, spoof)
    for scheme in ("https", "http")
    for spoof in SPOOFED
    if scheme == "http" or "Host" not in SPOOFED[spoof]
]


@pytest.mark.parametrize("path", SENSITIVE_PATHS)
@pytest.mark.parametrize(("scheme", "spoof"), SPOOFED_ON, ids=[f"{scheme}-{spoof}" for scheme, spoof in SPOOFED_ON])
def test_sensitive_path_is_not_served(site, site_name, scheme, spoof, path):
    """Whatever config serves it (a public mod_status, an Alias onto a checkout, a trusted
    forwarded address): refused, or answered as the app answers any unknown path (port 80:
    redirected like one), asked with and without headers that pass for another client."""
    headers = SPOOFED[spoof]
    unknown = f"/no-such-page-{uuid.uuid4().hex}"
    unknown_answer = Answer.of(site.probe.get(scheme, site_name, unknown, headers=headers))
    ask = _asker(site, scheme, site_name, headers)
    problem = served(path, ask, site.site.server_name, unknown, unknown_answer)
    assert problem is None, f"{scheme}://{site_name}{problem}" + (f" (sent with {headers})" if headers else "")


def _asker(site, scheme: str, name: str, headers: dict | None = None):
    return lambda path: Answer.of(site.probe.get(scheme, name, path, headers=headers))


def _exposed(site, name: str, scheme: str, paths) -> dict[str, str]:
    """What each of paths is served with, where it is not refused or answered as an
    unknown path is (exposure): path -> what."""
    unknown = f"/no-such-page-{uuid.uuid4().hex}"
    unknown_answer = Answer.of(site.probe.get(scheme, name, unknown))
    ask = _asker(site, scheme, name)
    return {
        path: problem
        for path in paths
        if (problem := served(path, ask, site.site.server_name, unknown, unknown_answer))
    }


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_no_aliased_folder_is_listed(site, site_name, scheme):
    """An Alias onto a folder with Options Indexes (a dump's folder, "for a minute") lists
    every file in it: each Alias in the files Apache reads must answer its own URL as an
    unknown path, or refuse it (a folder without an index file: 403)."""
    urls = {alias["url"].rstrip("/") + "/": alias["file"] for alias in site.target.aliases}
    exposed = _exposed(site, site_name, scheme, urls)
    assert exposed == {}, "; ".join(
        f"{scheme}://{site_name}{what} (Alias in {urls[url]})" for url, what in exposed.items()
    )


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_no_route_the_deploy_did_not_declare_serves_anything(site, site_name, scheme):
    """Besides an Alias, a URL reaches a port or a file through a ProxyPass (an internal
    admin page, "for a minute"), a ScriptAlias, an AliasMatch or a RewriteRule: each in a
    file the deploy did not write is asked for at the URL path it starts with, on both
    ports (a proxy at the server's level takes port 80's requests before its redirect),
    and must be refused or answered as an unknown path. Judged as the sensitive paths."""
    routes = {
        route["url"]: f"{route['directive']} in {route['file']}:{route['line']}"
        for route in site.target.undeclared_routes
    }
    exposed = _exposed(site, site_name, scheme, routes)
    assert exposed == {}, "; ".join(f"{scheme}://{site_name}{what} ({routes[url]})" for url, what in exposed.items())


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_no_alias_serves_an_apps_files(site, site_name, scheme):
    """An Alias onto a release, a code folder or an install path (a quick look at the code
    "from the browser") serves the app's source and its secrets as files: each site's
    entry module, live environment and .wsgi file, at every URL an Alias maps onto it."""
    aliases = [(alias["url"], alias["folder"]) for alias in site.target.aliases]
    urls = [url for path in site.target.app_files for url in aliased_urls(path, aliases)]
    exposed = _exposed(site, site_name, scheme, urls)
    assert exposed == {}, "; ".join(f"{scheme}://{site_name}{what}" for what in exposed.values())
