"""The verification suite's HTTPS probe judges an answer as the deploy's health check does."""

from types import SimpleNamespace

import pytest

from apache_wsgi_deploy.probe import Probe

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
