"""A costly fact's fingerprint: what its answer is read from, each entry's identity, size,
mode, owner and times, so that any write changes it, and racy where it cannot tell."""

import json
import os
import subprocess
import sys

import pytest

from apache_wsgi_deploy import prefetch
from apache_wsgi_deploy.facts import fingerprint
from apache_wsgi_deploy.facts.accounts import SUDO_ELSEWHERE, Identity
from apache_wsgi_deploy.facts.apache import EffectiveConfig
from apache_wsgi_deploy.facts.fingerprint import MARK_RACY, RACY, RACY_FD, entries
from apache_wsgi_deploy.facts.python import RECORD_OUTSIDE, Virtualenv
from apache_wsgi_deploy.host_tools import apacheconf
from apache_wsgi_deploy.layout import SUDO_TIMESTAMPS


def printed(command: str) -> list[str]:
    """A fingerprint's lines, its standard error and its RACY marks among them."""
    run = subprocess.run(["sh", "-c", f"(\n{command}\n) 2>&1 {RACY_FD}>&1"], capture_output=True, text=True)
    return run.stdout.splitlines()


@pytest.fixture
def settled(monkeypatch):
    """Entries written by the test itself are not racy (no test waits for seconds to pass)."""
    monkeypatch.setattr(fingerprint, "RACY_SECONDS", 0)


def test_an_edit_that_keeps_the_size_and_the_modification_time_changes_the_fingerprint(tmp_path, settled):
    code = tmp_path / "app.py"
    code.write_text("DEBUG = False\n")
    before = printed(entries(str(tmp_path)))
    assert len(before) == 2 and RACY not in before
    stat = code.stat()
    code.write_text("DEBUG = True!\n")
    os.utime(code, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert code.stat().st_size == stat.st_size
    assert printed(entries(str(tmp_path))) != before


def test_an_entry_changed_within_the_last_seconds_is_racy(tmp_path):
    (tmp_path / "just-written").write_text("x")
    assert RACY in printed(entries(str(tmp_path)))
    assert RACY not in printed(entries("/usr/bin/env", each=True))


def test_the_batch_digests_what_a_fingerprint_prints_and_runs_the_command_only_when_it_changed(
    tmp_path, settled, monkeypatch
):
    code = tmp_path / "app.py"
    code.write_text("DEBUG = False\n")

    def batch(kept: str, fingerprinted: str | None = None) -> list[str]:
        fingerprinted = fingerprinted or entries(str(tmp_path))
        script = prefetch._fingerprinted(fingerprinted, "echo read", prefetch.Kept("command", kept, []))
        return subprocess.run(["sh", "-c", script], capture_output=True, text=True).stdout.splitlines()

    digest, *read = batch(prefetch.NOTHING_KEPT)
    assert prefetch.DIGEST.fullmatch(digest) and read == ["read"]
    assert batch(digest) == [digest]
    code.write_text("DEBUG = True!\n")
    changed = batch(digest)
    assert changed[0] != digest and changed[1:] == ["read"]
    # Its standard error is digested too; its marks are not, and say it is racy.
    assert batch(digest, "echo one >&2")[0] != batch(digest, "echo two >&2")[0]
    assert batch(digest, f"echo one; {MARK_RACY}") == [RACY, "read"]
    monkeypatch.setattr(fingerprint, "RACY_SECONDS", 60)
    assert batch(changed[0]) == [RACY, "read"]


def test_each_entry_alone_is_read_through_its_links(tmp_path, settled):
    target = tmp_path / "target.conf"
    target.write_text("KeepAlive On\n")
    (tmp_path / "link.conf").symlink_to(target)
    before = printed(entries(str(tmp_path / "link.conf"), each=True))
    target.write_text("KeepAlive Of\n")
    assert printed(entries(str(tmp_path / "link.conf"), each=True)) != before
    assert len(before) == 1


def test_a_virtualenvs_fingerprint_sees_its_files_and_is_racy_where_the_check_reads_outside(tmp_path, settled):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site_packages,) = venv.glob("lib/python3*/site-packages")
    info = site_packages / "tool-1.0.dist-info"
    info.mkdir()
    (site_packages / "tool.py").write_text("x = 1\n")
    (info / "RECORD").write_text("tool.py,sha256=abc,6\n../../../bin/tool,,\ntool-1.0.dist-info/RECORD,,\n")
    command = Virtualenv.fingerprint([], venv=str(venv))
    before = printed(command)
    assert RACY not in before
    (site_packages / "tool.py").write_text("x = 2\n")
    assert printed(command) != before
    (site_packages / "elsewhere").symlink_to(tmp_path)
    assert RACY in printed(command)
    (site_packages / "elsewhere").unlink()
    assert RACY not in printed(command)
    (info / "RECORD").write_text("../../../../outside.py,sha256=abc,6\n")
    assert RACY in printed(command)
    # The interpreter bin/python leads to, replaced: the command's test of it may differ.
    (venv / "bin" / "python").unlink()
    interpreter = tmp_path / "python3"
    interpreter.write_text("#!/bin/sh\n")
    (venv / "bin" / "python").symlink_to(interpreter)
    before = printed(command)
    interpreter.chmod(0o755)
    assert printed(command) != before


@pytest.mark.parametrize(
    ("path", "racy"),
    [
        ("tool.py", False),
        ("../../../bin/tool", False),
        ("../../../share/man/tool.1", False),
        ("../../../../etc/tool.conf", True),
        ("/etc/tool.conf", True),
        ("a/../../../../../b", True),
        ("../../../x/../../../../y", True),
        ('"a,b.py"', True),
        ("..", True),
    ],
)
def test_a_record_path_outside_the_virtualenv_is_racy(path, racy):
    found = subprocess.run(["awk", "-F,", RECORD_OUTSIDE], input=f"{path},sha256=x,1\n", capture_output=True, text=True)
    assert (found.stdout.strip() == RACY) is racy


def conf(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_what_apache_read_from_outside_its_folder_is_watched(tmp_path):
    confdir, outside = tmp_path / "apache2", tmp_path / "opt"
    main = conf(
        confdir,
        "apache2.conf",
        "Include ports.conf\n"
        f"IncludeOptional {outside}/conf.d/*.conf\n"
        f'Include "{outside}/site.conf"\n'
        f"  include \\\n    {outside}/continued.conf\n"
        "IncludeOptional ${APACHE_LOG_DIR}/*.conf\n",
    )
    ports = conf(confdir, "ports.conf", "Listen 443\n")
    site = conf(outside, "site.conf", "KeepAlive On\n")
    (confdir / "sites-enabled").mkdir()
    (confdir / "sites-enabled" / "linked.conf").symlink_to(site)
    linked = str(confdir / "sites-enabled" / "linked.conf")
    directives = [
        [site, 1, [], "SSLCertificateFile /etc/ssl/site.pem"],
        [site, 2, ["<VirtualHost *:443>"], 'LoadModule x_module "/opt/mods/mod_x.so"'],
        [site, 3, ["<VirtualHost 10.0.0.1:443 [::1]:443 _default_:*>"], "ErrorLog /var/log/x.log"],
    ]
    found = apacheconf.watched(str(confdir), [main, ports, site, linked], directives, {"APACHE_LOG_DIR": "/var/log"})
    assert found == {
        "trees": [f"{outside}/continued.conf", site],
        "entries": sorted(["/etc/ssl/site.pem", "/opt/mods/mod_x.so", "/var/log", f"{outside}/conf.d", site, linked]),
        "racy": False,
    }


@pytest.mark.parametrize(
    "racy",
    [
        "Include ${UNDEFINED}/x.conf\n",
        "Include /opt/*/apache.conf\n",
        "ServerRoot /opt/apache\n",
        "<VirtualHost shop.example.com:443>\n",
    ],
)
def test_what_apacheconf_cannot_follow_is_racy(tmp_path, racy):
    main = conf(tmp_path, "apache2.conf", racy)
    directives = []
    if racy.startswith("ServerRoot"):
        directives = [[main, 1, [], racy.strip()]]
    elif racy.startswith("<"):
        directives = [[main, 2, [racy.strip()], "ServerName shop.example.com"]]
    assert apacheconf.watched(str(tmp_path), [main], directives, {})["racy"]


def test_the_effective_config_is_read_again_when_its_last_answer_cannot_say_what_it_read():
    watched = {"trees": ["/opt/conf"], "entries": ["/etc/ssl/a b.pem"], "racy": False}
    passing = {"error": None, "modules": [], "variables": {}, "stock": {}, "directives": [], "watched": watched}
    command = EffectiveConfig().fingerprint([json.dumps(passing)])
    assert "/etc/apache2 " in command and " /opt/conf " in command and "'/etc/ssl/a b.pem'" in command
    assert "/etc/ssl" not in EffectiveConfig().fingerprint([])
    for kept in (
        {"error": ["AH00526: Syntax error"]},
        {**passing, "watched": {**watched, "racy": True}},
        {**passing, "watched": {**watched, "entries": ["-delete"]}},
    ):
        assert EffectiveConfig().fingerprint([json.dumps(kept)]) == MARK_RACY
    assert "watched" not in EffectiveConfig().process([json.dumps(passing)])


def sudo_elsewhere(root, user: str = "shop") -> list[str]:
    """What SUDO_ELSEWHERE prints for a host whose files are below root."""
    command = SUDO_ELSEWHERE.replace(SUDO_TIMESTAMPS, f"{root}{SUDO_TIMESTAMPS}")
    command = command.replace("/etc/", f"{root}/etc/").replace("/proc/net/", f"{root}/proc/net/")
    return printed(f"set -- {user}; {command}")


@pytest.fixture
def sudo_host(tmp_path):
    """A host's files as Debian makes them: local accounts, sudoers.d included, no PAM module asking elsewhere."""
    files = {
        "proc/net/fib_trie": "Main:\n  +-- 10.0.0.0/8\n     |-- 10.0.0.5\n        /32 host LOCAL\n",
        "proc/net/if_inet6": "00000000000000000000000000000001 01 80 10 80       lo\n",
        "etc/nsswitch.conf": "passwd:         files\ngroup:          files\nhosts:          files dns\n",
        "etc/shadow": "root:*:20000:0:99999:7:::\nshop:!:20791::::::\n",
        "etc/pam.d/sudo": "@include common-account\n",
        "etc/pam.d/login": "# account  required  pam_access.so\n",
        # The folder Debian's sudoers includes, below root as every path the check reads.
        "etc/sudoers": f"Defaults use_pty\n# fqdn in a comment is a comment\n@includedir {tmp_path}/etc/sudoers.d\n",
        "etc/sudoers.d/README": f"#includedir {tmp_path}/etc/sudoers.d\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("etc/nsswitch.conf", "passwd: files sss\ngroup: files\n"),
        ("etc/nsswitch.conf", "passwd: files\ngroup: files systemd\n"),
        ("etc/nsswitch.conf", "passwd: files\nsudoers: files ldap\n"),
        ("etc/shadow", "shop:!:20791:::::21000:\n"),  # the account expires
        ("etc/shadow", "shop:!:20791:0:90:7:::\n"),  # its password ages
        ("etc/pam.d/sudo", "account required pam_time.so\n"),
        ("etc/pam.d/common-account", "account [default=bad success=ok] pam_sss.so\n"),
        ("etc/sudoers.d/extra", "@include /srv/shared/sudoers\n"),
        ("etc/sudoers", "#includedir /etc/sudoers.d.local\n"),
        ("etc/sudoers.d/extra", "shop ALL=(ALL) NOTAFTER=20270101000000Z ALL\n"),
        ("etc/sudoers.d/extra", "Defaults fqdn\n"),
        ("etc/sudoers.d/extra", 'Defaults group_plugin="group_file.so /etc/sudo.group"\n'),
    ],
)
def test_what_sudos_answer_depends_on_beyond_local_files_is_racy(sudo_host, path, text):
    assert RACY not in sudo_elsewhere(sudo_host)
    (sudo_host / path).write_text(text)
    assert RACY in sudo_elsewhere(sudo_host)


def test_a_file_sudos_answer_depends_on_that_cannot_be_read_is_racy(sudo_host):
    (sudo_host / "etc/nsswitch.conf").unlink()
    assert RACY in sudo_elsewhere(sudo_host)


def test_identitys_fingerprint_says_this_hosts_addresses_and_another_accounts_expiry_is_not_racy(sudo_host):
    (sudo_host / "etc/shadow").write_text("other:!:20791:::::21000:\nshop:!:20791::::::\n")
    assert sudo_elsewhere(sudo_host) == ["10.0.0.5", "00000000000000000000000000000001"]


@pytest.mark.parametrize(("password", "racy"), [("!", False), ("*", False), ("$y$j9T$salt$hash", True)])
def test_a_sudo_timestamp_is_racy_only_for_an_account_that_could_authenticate(sudo_host, password, racy):
    (sudo_host / "etc/shadow").write_text(f"shop:{password}:20791::::::\n")
    assert RACY not in sudo_elsewhere(sudo_host)
    # sudo 1.9.13 writes this at each sudo -l, password or not.
    (sudo_host / SUDO_TIMESTAMPS.lstrip("/")).mkdir(parents=True)
    (sudo_host / SUDO_TIMESTAMPS.lstrip("/") / "shop").write_bytes(b"")
    assert (RACY in sudo_elsewhere(sudo_host)) is racy
    assert RACY not in sudo_elsewhere(sudo_host, user="other")


def test_identitys_fingerprint_is_racy_where_polkit_decides():
    command = Identity.fingerprint([], "shop", "shop")
    assert f"! command -v pkcheck >/dev/null || {MARK_RACY}" in command
    # Who sudo ran it for is part of it: another login, another answer.
    assert printed(f"SUDO_USER=alice; {command}")[0] != printed(f"SUDO_USER=bob; {command}")[0]
