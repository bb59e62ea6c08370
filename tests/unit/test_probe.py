"""The verification suite's HTTPS probe judges an answer as the deploy's health check does."""

from types import SimpleNamespace

import pytest

from apache_wsgi_deploy.probe import Answer, Probe, aliased_urls, exposure, served

# What the app answers to GET path: status, Location.
ROUTES = {
    "/": (302, "/accounts/login/?next=/"),
    "/accounts/login/?next=/": (200, None),
    "/moved": (301, "https://www.example.com:443/gone"),
    "/gone": (404, None),
    "/sso": (302, "https://login.example.net/gone"),
    "/elsewhere": (302, "https://www.example.com:8443/gone"),
    "/loop": (302, "/loop"),
}


@pytest.fixture
def asked(monkeypatch) -> list[tuple[str, str]]:
    """The (name, path) of each GET the probe sends, answered from ROUTES."""
    sent = []

    def get(self, scheme, name, path, user_agent=None):
        assert scheme == "https"
        sent.append((name, path))
        status, location = ROUTES[path]
        return SimpleNamespace(status_code=status, headers={"Location": location} if location else {})

    monkeypatch.setattr(Probe, "get", get)
    return sent


def answer(path: str, name: str = "www.example.com"):
    return Probe(None, 80, 443, None).get_within_site(name, "www.example.com", path)


def test_a_redirect_within_the_site_is_followed_on_the_name_asked(asked):
    login = answer("/", name="example.com")
    assert login.passed and (login.status, login.asked) == (200, ["/", "/accounts/login/?next=/"])
    assert asked == [("example.com", "/"), ("example.com", "/accounts/login/?next=/")]


@pytest.mark.parametrize("path", ["/sso", "/elsewhere"])
def test_a_redirect_leaving_the_site_is_the_answer(asked, path):
    left = answer(path)
    assert left.passed and (left.status, left.asked) == (302, [path])


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/moved", "GET /gone answered 404 after redirects from /moved"),
        ("/loop", "GET /loop answered 302 after redirects from /loop -> /loop -> /loop -> /loop -> /loop: more than 5"),
    ],
)
def test_a_final_answer_of_400_or_more_or_a_loop_fails_naming_the_chain(asked, path, said):
    failed = answer(path)
    assert not failed.passed
    assert str(failed).startswith(said)


NOT_FOUND = Answer(404, None, b"<h1>Not Found</h1>")


def test_a_refused_sensitive_path_exposes_nothing():
    for status in (401, 403, 404, 410):
        assert exposure("/.env", Answer(status, None, b"Forbidden"), "/no-such-x", NOT_FOUND) is None


def test_an_answer_as_for_any_unknown_path_exposes_nothing():
    """An app that answers every path (a single-page app's index), and port 80's redirect."""
    index = Answer(200, None, b"<div id=app></div>")
    assert exposure("/.git/", index, "/no-such-x", index) is None
    redirect = Answer(301, "https://www.example.com/.env", b'<a href="https://www.example.com/.env">')
    unknown = Answer(301, "https://www.example.com/no-such-x", b'<a href="https://www.example.com/no-such-x">')
    assert exposure("/.env", redirect, "/no-such-x", unknown) is None


def test_a_served_page_or_a_redirect_of_its_own_is_named():
    status_page = Answer(200, None, b"<h1>Apache Server Status for www.example.com</h1>")
    assert exposure("/server-status", status_page, "/no-such-x", NOT_FOUND) == (
        "/server-status answers 200 with 49 bytes: b'<h1>Apache Server Status for www.example.com</h1>'"
    )
    # mod_dir's redirect onto a folder listing.
    listing = Answer(301, "https://www.example.com/.git/", b"Moved")
    assert exposure("/.git", listing, "/no-such-x", NOT_FOUND).startswith("/.git answers 301 to https://")


def test_an_alias_onto_a_files_folder_or_any_above_it_serves_the_file_at_its_url():
    aliases = [("/code", "/srv/shop/releases/r1/app"), ("/all/", "/srv"), ("/icons/", "/usr/share/apache2/icons/")]
    assert aliased_urls("/srv/shop/releases/r1/app/shop.py", aliases) == [
        "/code/shop.py",
        "/all/shop/releases/r1/app/shop.py",
    ]
    # A folder whose name only starts like the file's is not above it.
    assert aliased_urls("/srv/shop/releases/r1/app2/shop.py", aliases[:1]) == []
    assert aliased_urls("/etc/passwd", [("/root/", "/")]) == ["/root/etc/passwd"]


def test_a_redirect_that_serves_nothing_exposes_what_it_leads_to():
    """pypiserver sends every unknown path to /simple/<path>/ with an empty 303: a path
    counts as served only where content comes back."""
    unknown_path = "/no-such-x"
    unknown = Answer(303, "https://www.example.com/simple/no-such-x/", b"")
    pages = {
        "/.git/": Answer(303, "https://www.example.com/simple/.git/", b""),
        "/simple/.git/": Answer(404, None, b"Not Found"),
        "/.env": Answer(303, "https://pypi.example.org/simple/.env/", b""),
        "/server-status": Answer(302, "/status-page", b""),
        "/status-page": Answer(200, None, b"<h1>Apache Server Status</h1>"),
    }
    assert served("/.git/", pages.get, "www.example.com", unknown_path, unknown) is None
    assert served("/.env", pages.get, "www.example.com", unknown_path, unknown) is None  # leaves the site
    assert served("/server-status", pages.get, "www.example.com", unknown_path, unknown) == (
        "/status-page answers 200 with 29 bytes: b'<h1>Apache Server Status</h1>'"
    )
