"""The check before every reload that no name is claimed by two VirtualHosts, on
`apache2ctl -S` output captured on a test host (Debian 12, Apache 2.4.71)."""

import os
import subprocess
import sys
from pathlib import Path

from tests.unit.harness import HOST_TOOLS, host_tool

vhostcheck = host_tool("vhostcheck")

# The sample site alone: each address holds one vhost.
ALONE = """VirtualHost configuration:
*:80                   awd-vr-1.awd.test (/etc/apache2/sites-enabled/flaskapp.conf:5)
*:443                  awd-vr-1.awd.test (/etc/apache2/sites-enabled/flaskapp.conf:15)
ServerRoot: "/etc/apache2"
Main DocumentRoot: "/var/www/html"
Main ErrorLog: "/var/log/apache2/error.log"
Mutex ssl-stapling: using_defaults
Mutex ssl-cache: using_defaults
Mutex default: dir="/var/run/apache2/" mechanism=default
Mutex watchdog-callback: using_defaults
Mutex ssl-stapling-refresh: using_defaults
PidFile: "/var/run/apache2/apache2.pid"
Define: DUMP_VHOSTS
Define: DUMP_RUN_CFG
User: name="www-data" id=33
Group: name="www-data" id=33
"""

# A renamed site's old vhosts left enabled: the sample's with another daemon name and an alias.
RENAMED = """VirtualHost configuration:
*:80                   is a NameVirtualHost
         default server awd-vr-1.awd.test (/etc/apache2/sites-enabled/flaskapp.conf:5)
         port 80 namevhost awd-vr-1.awd.test (/etc/apache2/sites-enabled/flaskapp.conf:5)
         port 80 namevhost awd-vr-1.awd.test (/etc/apache2/sites-enabled/oldshop.conf:5)
*:443                  is a NameVirtualHost
         default server awd-vr-1.awd.test (/etc/apache2/sites-enabled/flaskapp.conf:15)
         port 443 namevhost awd-vr-1.awd.test (/etc/apache2/sites-enabled/flaskapp.conf:15)
         port 443 namevhost awd-vr-1.awd.test (/etc/apache2/sites-enabled/oldshop.conf:15)
                 alias www.awd-vr-1.awd.test
ServerRoot: "/etc/apache2"
Main DocumentRoot: "/var/www/html"
PidFile: "/var/run/apache2/apache2.pid"
Define: DUMP_VHOSTS
Define: DUMP_RUN_CFG
"""

# A hand-made oldshop.conf: <VirtualHost *:80> named like the sample; <VirtualHost *:80
# [::]:8080> with the sample's name among its aliases (upper case added here);
# <VirtualHost 127.0.0.1:80> named like the sample too.
BY_ALIAS_AND_ADDRESS = """VirtualHost configuration:
127.0.0.1:80           awd-vr-1.awd.test (/etc/apache2/sites-enabled/oldshop.conf:8)
*:443                  awd-vr-1.awd.test (/etc/apache2/sites-enabled/flaskapp.conf:15)
*:8080                 other.awd.test (/etc/apache2/sites-enabled/oldshop.conf:4)
*:80                   is a NameVirtualHost
         default server awd-vr-1.awd.test (/etc/apache2/sites-enabled/flaskapp.conf:5)
         port 80 namevhost awd-vr-1.awd.test (/etc/apache2/sites-enabled/flaskapp.conf:5)
         port 80 namevhost awd-vr-1.awd.test (/etc/apache2/sites-enabled/oldshop.conf:1)
         port 80 namevhost other.awd.test (/etc/apache2/sites-enabled/oldshop.conf:4)
                 alias www.other.awd.test
                 alias AWD-VR-1.awd.test
                 wild alias *.wild.awd.test
ServerRoot: "/etc/apache2"
"""


def test_each_name_is_claimed_on_its_port_by_its_vhosts_in_apaches_order():
    assert vhostcheck.claims(BY_ALIAS_AND_ADDRESS) == {
        ("80", "awd-vr-1.awd.test"): [
            "/etc/apache2/sites-enabled/oldshop.conf:8",
            "/etc/apache2/sites-enabled/flaskapp.conf:5",
            "/etc/apache2/sites-enabled/oldshop.conf:1",
            "/etc/apache2/sites-enabled/oldshop.conf:4",
        ],
        ("443", "awd-vr-1.awd.test"): ["/etc/apache2/sites-enabled/flaskapp.conf:15"],
        ("8080", "other.awd.test"): ["/etc/apache2/sites-enabled/oldshop.conf:4"],
        ("80", "other.awd.test"): ["/etc/apache2/sites-enabled/oldshop.conf:4"],
        ("80", "www.other.awd.test"): ["/etc/apache2/sites-enabled/oldshop.conf:4"],
        ("80", "*.wild.awd.test"): ["/etc/apache2/sites-enabled/oldshop.conf:4"],
    }


def test_one_vhost_per_name_and_port_passes():
    assert vhostcheck.problems(ALONE) == []


def test_a_renamed_sites_old_vhost_is_named_with_the_live_one_on_each_port():
    assert vhostcheck.problems(RENAMED) == [
        "awd-vr-1.awd.test on port 80 is served by two VirtualHosts: /etc/apache2/sites-enabled/flaskapp.conf:5"
        " and /etc/apache2/sites-enabled/oldshop.conf:5: disable one (a renamed site's old vhost?)",
        "awd-vr-1.awd.test on port 443 is served by two VirtualHosts: /etc/apache2/sites-enabled/flaskapp.conf:15"
        " and /etc/apache2/sites-enabled/oldshop.conf:15: disable one (a renamed site's old vhost?)",
    ]


def test_an_alias_or_another_address_of_the_port_claims_the_name_too():
    assert vhostcheck.problems(BY_ALIAS_AND_ADDRESS) == [
        "awd-vr-1.awd.test on port 80 is served by 4 VirtualHosts: /etc/apache2/sites-enabled/oldshop.conf:8,"
        " /etc/apache2/sites-enabled/flaskapp.conf:5, /etc/apache2/sites-enabled/oldshop.conf:1 and"
        " /etc/apache2/sites-enabled/oldshop.conf:4: disable all but one (a renamed site's old vhost?)",
    ]


def fake_tools(folder: Path, dump: str) -> Path:
    """apache2ctl (configtest passes, -S prints dump) and systemctl (records its calls)."""
    folder.mkdir()
    (folder / "dump").write_text(dump)
    (folder / "apache2ctl").write_text(
        f'#!/bin/sh\n[ "$1" = -S ] && cat {folder}/dump\n[ "$1" = configtest ] && echo "Syntax OK" >&2\nexit 0\n'
    )
    (folder / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {folder}/systemctl.calls\nexit 0\n')
    for tool in ("apache2ctl", "systemctl"):
        (folder / tool).chmod(0o755)
    return folder


def test_the_reload_puts_the_files_back_and_reloads_nothing_when_two_vhosts_claim_a_name(tmp_path):
    """reload.py as on the host: a new vhost the deploy wrote (absent before) is removed."""
    tools = fake_tools(tmp_path / "bin", RENAMED)
    vhost = tmp_path / "apache2" / "sites-enabled" / "shop.conf"
    vhost.parent.mkdir(parents=True)
    vhost.write_text("<VirtualHost *:443>\n</VirtualHost>\n")
    before = tmp_path / "before"
    kept = before / vhost.relative_to("/")
    kept.parent.mkdir(parents=True)
    kept.with_name("shop.conf.absent").touch()
    reload = subprocess.run(
        [
            sys.executable,
            str(HOST_TOOLS / "reload.py"),
            str(before),
            str(tmp_path / "apache2"),
            str(tmp_path / "error.log"),
            str(tmp_path / "apache2.pid"),
            "apache2",
        ],
        env={**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
    )
    assert reload.returncode == 1
    assert "awd-vr-1.awd.test on port 443 is served by two VirtualHosts: " in reload.stderr
    assert "apache-wsgi-deploy: two VirtualHosts claim one name; its config changes are undone" in reload.stderr
    assert not vhost.exists() and not before.exists()
    assert not (tools / "systemctl.calls").exists()
