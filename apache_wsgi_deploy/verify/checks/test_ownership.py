"""Who can write what root reads or runs, across the host: a file an app's user (or
anyone but root) can change there is root's code or configuration in that user's hands."""

from apache_wsgi_deploy import layout

# More than this many findings: the first ones say enough.
SHOWN = 20


def root_read_trees(target) -> list[str]:
    """What root reads or runs, on this host: the system's (layout.ROOT_ONLY_TREES) and
    each site's install path (code, virtualenvs, .wsgi file) and own instance."""
    trees = list(layout.ROOT_ONLY_TREES)
    for site in target.settings.present_sites:
        trees.append(site.app_install_path)
        if site.own_instance:
            trees.append(layout.instance_dir(site.app_name))
    return trees


def find_as_root(target, trees: list[str], condition: str) -> list[str]:
    """Paths in the existing trees that meet find's condition, links never followed (a
    release links into the app's data on purpose)."""
    listed = " ".join(["%s"] * len(trees))
    found = target.host.run(
        f'for tree in {listed}; do [ -e "$tree" ] && printf \'%%s\\0\' "$tree"; done'
        f" | xargs -0 -r sh -c 'find \"$@\" ! -type l {condition} -print' find",
        *trees,
    )
    assert found.rc == 0, found.stderr
    return found.stdout.splitlines()


def test_nothing_root_reads_or_runs_is_writable_but_by_root(target):
    """Owned by root, and neither writable by others nor by a group other than root's:
    Apache's configuration, the deploy's tools, systemd units and timers, the loader's
    preload, cron, logrotate, certbot's hooks, /usr/local's programs, and each site's
    code, virtualenvs and instance."""
    writable = find_as_root(
        target, root_read_trees(target), r"\( ! -user root -o -perm -0002 -o \( -perm -0020 ! -group root \) \)"
    )
    assert writable == [], f"writable by another user than root: {', '.join(writable[:SHOWN])}"


def test_no_setuid_or_setgid_file_in_what_the_deploy_made(target):
    """A setuid program in a release or a virtualenv runs as its owner whoever starts it."""
    made = [site.app_install_path for site in target.settings.present_sites] + [layout.STATE_DIR]
    found = find_as_root(target, made, "-perm /6000")
    assert found == [], f"setuid or setgid: {', '.join(found[:SHOWN])}"


def test_the_sites_folders_have_their_declared_owner_and_mode(site):
    """The install path, data, log, certificate and instance folders, as the deploy makes them."""
    wrong = {}
    for role, folder in site.site.own_folders.items():
        found = site.host.file(folder["path"])
        expected = (folder["user"], folder["group"], int(folder["mode"], 8))
        if (found.user, found.group, found.mode) != expected:
            wrong[role] = (
                f"{folder['path']} {found.user}:{found.group} {found.mode:o} (declared {folder['user']}:"
                f"{folder['group']} {folder['mode']})"
            )
    assert wrong == {}, "; ".join(wrong.values())


# What every PEM private key starts with: "-----BEGIN PRIVATE KEY-----", "... EC PRIVATE KEY-----".
PRIVATE_KEY = "-----BEGIN [A-Z ]*PRIVATE KEY-----"


def test_private_keys_are_only_where_declared(target):
    """A key copied beside Apache's configuration "as a backup", or shipped in a release,
    is one more copy to steal: in what root reads or runs (the virtualenvs' packages left
    out, which ship test keys), the only private keys are the sites' own."""
    # certbot's own store keeps every renewal's key; Debian's units hold none.
    trees = [tree for tree in root_read_trees(target) if tree not in (layout.CERTBOT_DIR, "/usr/lib/systemd/system")]
    found = target.host.run(
        f"grep -rlIs --exclude-dir={layout.VENVS} -e %s -- {' '.join(['%s'] * len(trees))} | xargs -r readlink -f --",
        PRIVATE_KEY,
        *trees,
    ).stdout.split()
    keys = [site.paths.key_path for site in target.sites]
    declared = target.host.run(f"readlink -f -- {' '.join(['%s'] * len(keys))}", *keys).stdout.split() if keys else []
    stray = sorted(set(found) - set(declared))
    assert stray == [], f"private keys the settings do not name: {', '.join(stray[:SHOWN])}: remove them"
