"""What a client sees: HTTP probes from the control machine with requests."""

import uuid


def test_http_redirects_to_https_with_path_and_query(target, site_name):
    response = target.probe.get("http", site_name, "/a/b?x=1")
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://{target.settings.server_name}/a/b?x=1"


def test_https_serves_the_app_with_a_verified_certificate(target, site_name):
    response = target.probe.get("https", site_name, "/")
    assert response.status_code == 200
    assert response.text == "Good!"


def hsts_max_age(response) -> int:
    header = response.headers.get("Strict-Transport-Security", "")
    directives = dict(part.strip().partition("=")[::2] for part in header.split(";"))
    return int(directives.get("max-age", "-1"))


def test_hsts_on_success(target):
    response = target.probe.get("https", target.settings.server_name, "/")
    assert hsts_max_age(response) >= target.settings.hsts_max_age


def test_hsts_on_not_found(target):
    response = target.probe.get("https", target.settings.server_name, f"/no-such-page-{uuid.uuid4().hex}")
    assert response.status_code == 404
    assert hsts_max_age(response) >= target.settings.hsts_max_age


def test_http2_is_negotiated_as_configured(target):
    expected = "h2" if target.settings.http2 else "http/1.1"
    assert target.probe.negotiated_protocol(target.settings.server_name) == expected
