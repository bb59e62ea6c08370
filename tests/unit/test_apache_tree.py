"""What the drift check expects in Apache's *-enabled folders: the deploy's own names,
Debian's defaults it leaves, the sites it wrote; every other file is named."""

from apache_wsgi_deploy import layout, schema
from apache_wsgi_deploy.deploys.server import expected_names, foreign_entries
from apache_wsgi_deploy.settings import Settings

SETTINGS = Settings.from_data("web1", {**schema.defaults(), "acme_agree_tos": True})
APP = SETTINGS.sites[0].app_name
# A deployed Debian 12 test host, as EnabledFiles reads it.
DEPLOYED = {
    "mods": sorted(
        f"{module}.{kind}"
        for module in {*layout.DEBIAN_DEFAULT_MODULES, *layout.APACHE_MODULES, layout.HTTP2_MODULE}
        for kind in ("load", "conf")
    ),
    "conf": [f"{conf}.conf" for conf in (*layout.DEBIAN_DEFAULT_CONFS, *layout.OWN_CONFS)],
    "sites": [f"{APP}.conf"],
}


def foreign(enabled: dict, ours: list[str] = (), kept: list[str] = ()) -> list[str]:
    return foreign_entries(enabled, expected_names(SETTINGS, list(ours)), list(kept))


def test_a_deployed_host_holds_nothing_foreign():
    assert foreign(DEPLOYED) == []


def test_a_dropped_conf_a_module_enabled_by_hand_and_an_old_vhost_are_named():
    planted = {
        "mods": [*DEPLOYED["mods"], "info.conf", "info.load"],
        "conf": [*DEPLOYED["conf"], "xyz.conf"],
        "sites": [*DEPLOYED["sites"], "old-shop.conf"],
    }
    assert foreign(planted) == [
        "conf-enabled/xyz.conf",
        "mods-enabled/info.conf",
        "mods-enabled/info.load",
        "sites-enabled/old-shop.conf",
    ]


def test_what_an_operation_of_the_deploy_already_reports_is_not_named_twice():
    """cgi, 000-default and Debian's security.conf are disabled by operations, whose
    pending change is the drift."""
    enabled = {
        "mods": [*DEPLOYED["mods"], "cgi.load"],
        "conf": [*DEPLOYED["conf"], "security.conf"],
        "sites": [*DEPLOYED["sites"], "000-default.conf"],
    }
    assert foreign(enabled) == []


def test_a_site_of_ours_not_in_sites_is_left_to_the_undeclared_report():
    enabled = {**DEPLOYED, "sites": [*DEPLOYED["sites"], "blog.conf"]}
    assert foreign(enabled, ours=[APP, "blog"]) == []
    assert foreign(enabled) == ["sites-enabled/blog.conf"]


def test_what_the_settings_expect_is_not_named():
    enabled = {**DEPLOYED, "sites": [*DEPLOYED["sites"], "monitoring.conf"], "conf": [*DEPLOYED["conf"], "x.conf"]}
    assert foreign(enabled, kept=["sites-enabled/monitoring.conf"]) == ["conf-enabled/x.conf"]
    # A name in another folder is another file.
    assert foreign(enabled, kept=["conf-enabled/monitoring.conf"]) == [
        "conf-enabled/x.conf",
        "sites-enabled/monitoring.conf",
    ]
