"""
Property-based: whatever string reaches a setting, validation refuses it, or every
rendered config keeps its shape: the same lines, each the same directive with the same
number of arguments. No value can add a directive, a section or an argument.
"""

import re

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.settings import SettingsError
from tests.unit.test_settings import FILES, validate
from tests.unit.test_templates import render

TEMPLATES = ["site.conf.j2", "hardening.conf.j2", "app.wsgi.j2", "acme-challenge.conf.j2", "logs.conf.j2"]
# Every setting a string from group_data can reach (lists get the string as their item).
STRING_SETTINGS = [
    "server_name",
    "server_aliases",
    "app_name",
    "app_install_path",
    "wsgi_entry",
    "wsgi_user",
    "wsgi_group",
    "log_dir",
    "tls_dir",
    "server_tokens",
    "server_signature",
    "trace_enable",
    "acme_directory_url",
    "acme_email",
    "static_url",
    "static_dir",
    "health_check_path",
]
# Characters that end or extend an Apache directive or a shell word, mixed into the values.
HOSTILE = st.text(alphabet=st.sampled_from(list("\n\r\t \"'<>`$;&|\\#%{}()") + list("az.-/_@09")), max_size=40)
# Settings whose accepted value adds lines (ServerAlias, the static Alias block) compare
# with a benign value's rendering.
BENIGN = {"server_aliases": ["alias.example.com"], "static_url": "/static", "static_dir": "static"}
BASELINES = {
    key: {name: render(name, **FILES, **({key: BENIGN[key]} if key in BENIGN else {})) for name in TEMPLATES}
    for key in STRING_SETTINGS
}
# An application factory's entry point has a line of its own, which calls it.
FACTORY_BASELINE = {name: render(name, **FILES, wsgi_entry="app:create_app()") for name in TEMPLATES}


def shape(config: str) -> list[tuple[str, int]]:
    """(first word, number of words) of every line: what a value must not change."""
    return [(line.split()[0] if line.split() else "", len(line.split())) for line in config.split("\n")]


@hypothesis_settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(STRING_SETTINGS), value=st.one_of(HOSTILE, st.text(max_size=40)))
def test_hostile_value_is_refused_or_stays_one_argument(key, value):
    overrides = {key: [value] if key == "server_aliases" else value}
    try:
        rendered = {name: render(name, **{**FILES, **overrides}) for name in TEMPLATES}
    except SettingsError as error:
        assert f"setting {key!r}" in str(error)
        return
    assert not re.search(r"[\s\"'<>`$;&|\\]", value), f"{key}={value!r} was accepted"
    baseline = FACTORY_BASELINE if key == "wsgi_entry" and value.endswith("()") else BASELINES[key]
    for name, config in rendered.items():
        assert shape(config) == shape(baseline[name]), name


def assert_refused(key: str, value) -> None:
    try:
        validate(**{key: value})
    except SettingsError as error:
        assert f"setting {key!r} = {value!r} is invalid" in str(error)
    else:
        raise AssertionError(f"{key}={value!r} was accepted")


SYSTEM_PATHS = st.sampled_from([*layout.SYSTEM_DIRS, *(f"{tree}/app" for tree in layout.SYSTEM_TREES)])
FOLDER_SETTINGS = ["app_install_path", "log_dir", "tls_dir"]


@hypothesis_settings(max_examples=200)
@given(key=st.sampled_from(FOLDER_SETTINGS), path=SYSTEM_PATHS)
def test_a_system_folder_or_one_inside_the_system_is_never_a_site_folder(key, path):
    """What the deploy makes it may remove: never a folder of the system, whatever the setting."""
    if key == "tls_dir" and path.startswith("/etc/"):
        return  # certificates may live under /etc, as Debian's own do
    assert_refused(key, path)


ACCOUNTS = st.sampled_from([*layout.DEBIAN_ACCOUNTS, layout.APACHE_USER])
NAMED = st.one_of(
    st.tuples(st.just("app_name"), st.one_of(ACCOUNTS, st.sampled_from(layout.DEBIAN_APACHE_NAMES))),
    st.tuples(st.just("wsgi_user"), ACCOUNTS),
)


@hypothesis_settings(max_examples=200)
@given(named=NAMED)
def test_debians_own_names_are_never_an_apps(named):
    assert_refused(*named)


# Paths made of the characters that could climb out of the site or break a word.
PATHS = st.text(alphabet=st.sampled_from(list("/.a~-?&% \n")), max_size=12)


@hypothesis_settings(max_examples=400)
@given(path=PATHS)
def test_a_health_check_path_never_climbs_or_carries_a_query(path):
    try:
        site = validate(health_check_path=path).sites[0]
    except SettingsError as error:
        assert f"setting 'health_check_path' = {path!r} is invalid" in str(error)
        return
    segments = site.health_check_path.split("/")
    assert segments[0] == "" and "." not in segments and ".." not in segments, path
    assert "" not in segments[1:-1] and not re.search(r"[?&% \n]", path), path


@hypothesis_settings(max_examples=300)
@given(call=st.text(alphabet=st.sampled_from(list("()a_1 ,'\"=*.:")), max_size=10))
def test_a_factory_is_called_with_no_arguments_or_refused(call):
    entry = f"app:create_app{call}"
    try:
        rendered = render("app.wsgi.j2", **FILES, wsgi_entry=entry)
    except SettingsError as error:
        assert f"setting 'wsgi_entry' = {entry!r} is invalid" in str(error)
        return
    assert re.fullmatch(r"[a_1]*(\(\))?", call), entry
    compile(rendered, "app.wsgi", "exec")
