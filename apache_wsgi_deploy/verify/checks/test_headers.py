"""The security headers on the app's answers, as a browser reads them (Mozilla's HTTP
Observatory's tests): what the vhost sets, what the app may set itself, its cookies and
its CORS answer. A site's accepted_header_findings accepts the app's own choice."""

import uuid

import pytest

# A site a browser might come from, which no app trusts.
FOREIGN_ORIGIN = "https://foreign-origin.invalid"


def health_answer(site):
    return site.probe.get("https", site.site.server_name, site.site.health_check_path)


def apache_error_answer(site):
    # An encoded slash: refused by Apache itself (AllowEncodedSlashes Off), before the app.
    return site.probe.get("https", site.site.server_name, f"/no-such-page-{uuid.uuid4().hex}%2Fx")


@pytest.mark.parametrize("answer", [health_answer, apache_error_answer], ids=["app", "apache"])
def test_answers_forbid_mime_sniffing_and_say_the_referrer_policy(site, answer):
    headers = answer(site).headers
    found = {name: headers.get(name) for name in ("X-Content-Type-Options", "Referrer-Policy")}
    assert found == {"X-Content-Type-Options": "nosniff", "Referrer-Policy": site.site.referrer_policy}


def frame_ancestors(csp: str) -> str | None:
    """The frame-ancestors directive's sources in a Content-Security-Policy, None without one."""
    for directive in csp.split(";"):
        name, _, sources = directive.strip().partition(" ")
        if name.lower() == "frame-ancestors":
            return sources.strip()
    return None


def test_the_app_cannot_be_framed_by_other_sites(site):
    """Clickjacking: the answer's CSP frame-ancestors (the deploy's default policy where the
    app sends none) names no source but the site's own, or X-Frame-Options says DENY or
    SAMEORIGIN."""
    if "frame-ancestors" in site.site.accepted_header_findings:
        return  # other sites may frame the app by the site's settings
    headers = health_answer(site).headers
    sources = frame_ancestors(headers.get("Content-Security-Policy", ""))
    frame_options = headers.get("X-Frame-Options", "").upper()
    protected = sources in ("'none'", "'self'") if sources is not None else frame_options in ("DENY", "SAMEORIGIN")
    assert protected, (
        f"{site.site.health_check_path}: Content-Security-Policy frame-ancestors {sources!r}, X-Frame-Options"
        f" {frame_options!r}: other sites may frame the app (if meant, add 'frame-ancestors' to"
        " accepted_header_findings)"
    )


def set_cookies(response) -> list[tuple[str, str]]:
    """(name, attributes in lower case) of each Set-Cookie header."""
    cookies = []
    for header in response.raw.headers.getlist("Set-Cookie"):
        name = header.split("=", 1)[0].strip()
        cookies.append((name, header.lower()))
    return cookies


def cookie_findings(name: str, header: str) -> list[str]:
    """What a cookie lacks, by the names accepted_header_findings uses."""
    parts = [part.strip() for part in header.split(";")[1:]]
    flags = {part.partition("=")[0].strip() for part in parts}
    samesite = next((part.partition("=")[2].strip() for part in parts if part.startswith("samesite=")), "")
    findings = []
    if "secure" not in flags:
        findings.append("cookie-secure")
    # A session cookie is what a script must never read; a CSRF token cookie is read on purpose.
    if "sess" in name.lower() and "httponly" not in flags:
        findings.append("cookie-httponly")
    if samesite not in ("lax", "strict"):
        findings.append("cookie-samesite")
    return findings


def test_cookies_are_secure_httponly_and_samesite(site):
    """Each cookie the health check path's answer sets: Secure (never sent over plain
    HTTP), SameSite Lax or Strict (not sent with another site's forms), and a session
    cookie HttpOnly (no script reads it)."""
    accepted = set(site.site.accepted_header_findings)
    findings = {
        name: missing
        for name, header in set_cookies(health_answer(site))
        if (missing := [finding for finding in cookie_findings(name, header) if finding not in accepted])
    }
    assert findings == {}, "; ".join(
        f"cookie {name} lacks {', '.join(finding.removeprefix('cookie-') for finding in missing)}"
        f" (if meant, add {', '.join(missing)} to accepted_header_findings)"
        for name, missing in findings.items()
    )


def test_no_origin_may_read_answers_with_the_users_credentials(site):
    """CORS: an answer that lets any origin (a wildcard, or whatever Origin the request
    names) read it with the user's cookies hands every site the user's session. Never
    accepted."""
    headers = site.probe.get(
        "https", site.site.server_name, site.site.health_check_path, headers={"Origin": FOREIGN_ORIGIN}
    ).headers
    allowed = headers.get("Access-Control-Allow-Origin")
    credentials = headers.get("Access-Control-Allow-Credentials", "").lower() == "true"
    assert not (credentials and allowed in ("*", FOREIGN_ORIGIN)), (
        f"Access-Control-Allow-Origin: {allowed} with Access-Control-Allow-Credentials: true"
    )
