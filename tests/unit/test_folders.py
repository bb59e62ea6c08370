"""Folder settings name a folder the deploy makes for the app: one spelling of it, never
one that holds the system's, a package manager's, a service's or a user's state, and
never another setting's folder."""

import posixpath
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apache_wsgi_deploy import layout
from apache_wsgi_deploy import validators as v
from apache_wsgi_deploy.settings import Settings, SettingsError

AGREED = {"acme_agree_tos": True}
segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12).filter(
    lambda name: name not in (".", "..")
)
folders = st.lists(segment, min_size=1, max_size=5).map(lambda names: "/" + "/".join(names))


@given(folders, st.sampled_from(["/.", "/./", "//", "/../"]), st.integers(min_value=0, max_value=5))
def test_a_path_is_accepted_in_one_spelling_only(folder, oddity, where):
    names = folder.split("/")
    index = min(where, len(names) - 1) + 1
    odd = "/".join(names[:index]) + oddity + "/".join(names[index:])
    odd = odd.rstrip("/") if odd.rstrip("/") else odd
    if posixpath.normpath(odd) != odd:
        with pytest.raises(v.Invalid):
            v.absolute_path(odd)
    accepted = v.absolute_path(folder) if posixpath.normpath(folder) == folder else None
    assert accepted is None or accepted == posixpath.normpath(accepted)


@given(st.sampled_from(layout.SYSTEM_TREES + layout.STATE_TREES), st.lists(segment, max_size=3))
def test_nothing_inside_the_system_or_a_state_or_home_folder(tree, names):
    path = "/".join([tree, *names])
    if posixpath.normpath(path) != path:
        return
    with pytest.raises(v.Invalid):
        v.folder_of_its_own()(path)


@given(st.sampled_from(layout.SHARED_TREES), segment, st.lists(segment, max_size=2))
def test_inside_var_lib_and_var_log_only_a_folder_made_for_the_app(tree, own, names):
    path = "/".join([tree, own, *names])
    if posixpath.normpath(path) != path or path.startswith(layout.APACHE_LOG_DIR):
        return
    app_own = own == "shop" or own.startswith(("shop-", "shop_"))
    try:
        Settings.from_data("web1", {**AGREED, "app_name": "shop", "data_dir": path})
    except SettingsError as error:
        assert not app_own, str(error)
        assert f"is inside {tree}, which holds other packages' state" in str(error) or "overlaps" in str(error)
    else:
        assert app_own


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"data_dir": "/var/lib/dpkg"}, "setting 'data_dir' = '/var/lib/dpkg' is inside /var/lib"),
        ({"log_dir": "/var/log/apt"}, "setting 'log_dir' = '/var/log/apt' is inside /var/log"),
        ({"log_dir": "/var/log/."}, "setting 'log_dir' = '/var/log/.' is invalid: expected"),
        ({"log_dir": "/var//log/shop"}, "setting 'log_dir' = '/var//log/shop' is invalid"),
        ({"log_dir": "/home/deploy"}, "setting 'log_dir' = '/home/deploy' is invalid"),
        ({"data_dir": "/root/shop"}, "setting 'data_dir' = '/root/shop' is invalid"),
        ({"app_install_path": "/var/cache/shop"}, "setting 'app_install_path' = '/var/cache/shop' is invalid"),
        ({"log_dir": "/srv/shop"}, "setting 'log_dir' = '/srv/shop' overlaps app_install_path '/srv/shop'"),
        ({"log_dir": "/srv/shop/logs"}, "setting 'log_dir' = '/srv/shop/logs' overlaps app_install_path"),
        ({"tls_dir": "/srv/shop/tls"}, "setting 'app_install_path' = '/srv/shop' overlaps tls_dir '/srv/shop/tls'"),
        ({"tls_dir": "/var/lib/shop-tls"}, "setting 'tls_dir' = '/var/lib/shop-tls' is inside /var/lib"),
    ],
)
def test_a_folder_that_is_not_the_apps_own_is_refused(settings, problem):
    with pytest.raises(SettingsError, match=re.escape(f"host web1: {problem}")):
        Settings.from_data("web1", {**AGREED, "app_name": "shop", **settings})


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"log_dir": "/var/log/shop"},
        {"log_dir": "/var/log/apache2/shop"},
        {"data_dir": "/var/lib/shop-data"},
        {"app_install_path": "/opt/shop", "log_dir": "/srv/logs/shop"},
    ],
)
def test_the_apps_own_folders_are_accepted(settings):
    site = Settings.from_data("web1", {**AGREED, "app_name": "shop", **settings}).sites[0]
    assert all(getattr(site, key) for key in ("app_install_path", "data_dir", "log_dir"))
