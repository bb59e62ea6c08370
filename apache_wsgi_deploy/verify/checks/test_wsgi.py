"""What breaks mod_wsgi sites most often, checked on the host."""

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from apache_wsgi_deploy import layout, sources
from apache_wsgi_deploy.facts.python import VENV_PINS, normalise
from apache_wsgi_deploy.operations.python import VENV_TOOLS
from apache_wsgi_deploy.polling import poll
from apache_wsgi_deploy.verify.plugin import app_processes

# Requests sent at once to reach every daemon process, and how long they may take to.
REACHING_REQUESTS = 16
REACHING_DEADLINE = 20


def test_venv_is_built_from_the_python_mod_wsgi_links_against(site):
    linked = site.host.check_output("ldd %s", layout.MOD_WSGI_SO)
    mod_wsgi_python = re.search(r"libpython(\d+\.\d+)", linked).group(1)
    venv = site.host.file(f"{site.paths.venv}/pyvenv.cfg").content_string
    venv_python = re.search(r"^version(?:_info)? = (\d+\.\d+)", venv, re.M).group(1)
    # A mismatch shows as "No module named 'encodings'" in the error log.
    assert venv_python == mod_wsgi_python


def test_the_venv_holds_exactly_its_pins(site):
    # A package installed by hand, one pip resolved on the side or an upgrade: the app
    # still imports, so only the listing shows it.
    found = site.venv
    assert found is not None, f"{site.paths.venv} is no virtualenv"
    assert found["pins"] is not None, f"{site.paths.venv} records no pins ({VENV_PINS}): deploy again to record them"
    pinned = {normalise(name): version for name, _, version in (pin.partition("==") for pin in found["pins"])}
    held = found["distributions"]
    differ = {
        name: f"{held.get(name, 'missing')}, pinned {pinned.get(name, 'nowhere')}"
        for name in set(held) | set(pinned)
        if held.get(name) != pinned.get(name) and not (name in VENV_TOOLS and name not in pinned)
    }
    assert differ == {}
    # The virtualenv is named by the digest of the pins it was made for: the record is theirs.
    folder = site.host.check_output("readlink -f %s", site.paths.venv).rsplit("/", 1)[-1]
    assert folder.endswith(f"-{sources.requirements_digest(found['pins'])}")


def test_the_venvs_files_are_as_pip_installed_them(site):
    """Each file a distribution's RECORD lists, with its hash, and no file none lists: a
    .pth file planted in site-packages runs at every start of the app, which still imports."""
    assert site.venv is not None, f"{site.paths.venv} is no virtualenv"
    files = site.venv["files"]
    findings = [f"{path} differs from {name}'s RECORD" for name, paths in files["modified"].items() for path in paths]
    findings += [f"{path} of {name} is missing" for name, paths in files["missing"].items() for path in paths]
    findings += [f"{path} was installed by no distribution" for path in files["extra"]]
    assert findings == [], f"in {site.paths.venv}: " + "; ".join(findings) + ": deploy again to put it back"


# What the site's .wsgi file does in a daemon process (templates/app.wsgi.j2), in its
# folder (the vhost's home=): the app's environment first, which an app may read at import.
LOAD_THE_APP = """
import importlib, json, os, sys
code, environment, module, name, factory = sys.argv[1:]
os.chdir(code)
sys.path.insert(0, code)
with open(environment) as values:
    os.environ.update(json.load(values))
application = getattr(importlib.import_module(module), name)
if factory == "factory":
    application()
print(sys.prefix)
"""


def test_daemon_user_can_run_the_venv_and_import_the_app(site):
    app, paths = site.site, site.paths
    result = site.run_as(
        app.wsgi_user,
        "%s/bin/python -c %s %s %s %s %s %s",
        paths.venv,
        LOAD_THE_APP,
        paths.app_code_dir,
        paths.env_file,
        app.wsgi_module,
        app.wsgi_callable,
        "factory" if app.wsgi_factory else "callable",
    )
    assert result.rc == 0, result.stderr
    # The last line: the app may print at import.
    assert result.stdout.strip().splitlines()[-1:] == [paths.venv]


def test_daemon_sockets_are_reachable_by_apaches_children(target):
    """A 503 with 'Permission denied' otherwise: Apache's children connect to these sockets."""
    if all(site.site.own_instance for site in target.sites):
        return  # no site runs in mod_wsgi's daemon processes
    run_user = target.host.check_output(f". {layout.APACHE_ENVVARS} && echo $APACHE_RUN_USER")
    run_dir = target.host.check_output(f". {layout.APACHE_ENVVARS} && echo $APACHE_RUN_DIR")
    sockets = target.host.check_output("find %s -maxdepth 1 -name 'wsgi.*.sock' -type s", run_dir).split()
    assert sockets, f"no mod_wsgi daemon socket in {run_dir}"
    for socket_path in sockets:
        assert target.run_as(run_user, "test -w %s", socket_path).rc == 0, socket_path


def test_no_request_ran_in_embedded_mode(site):
    """Observed, not read from config: a request that reached mod_wsgi without a daemon
    process group lands in the site's embedded-mode log. One request of ours must reach
    the access log (written after that one), and the embedded-mode log must be empty."""
    app, paths = site.site, site.paths
    marker = f"apache-wsgi-deploy-verify/{uuid.uuid4().hex}"
    site.probe.get("https", app.server_name, app.health_check_path, user_agent=marker)
    # The ends of both logs only: a production access log can be gigabytes.
    poll(
        lambda: site.host.run("tail -c 16M %s | grep -qF %s", paths.access_log, marker).rc == 0,
        10,
        f"our request in {paths.access_log}",
    )
    assert site.host.check_output("head -n 5 %s", paths.embedded_mode_log) == ""


def test_script_reloading_is_not_turned_off(target):
    """WSGIScriptReloading Off, in any file Apache reads, keeps a site's daemon processes
    on the code they started with: every release switch after it is a lie."""
    # Our own paths (layout), safe in the command as they are.
    read = " ".join(layout.APACHE_CONFIG_READ)
    found = target.host.run(f"grep -RIilE %s {read}", r"^\s*WSGIScriptReloading\s+Off")
    assert found.stdout.split() == [], "WSGIScriptReloading Off in " + found.stdout


def test_authorization_reaches_the_app_as_its_setting_says(site):
    """The site's HTTPS vhost, or its own instance, passes the Authorization header on as
    wsgi_pass_authorization says, and no file Apache reads but a site's own sets
    WSGIPassAuthorization, which could override it for the site's paths."""
    instances = [layout.instance_file(other.site.app_name, layout.INSTANCE_CONF) for other in site.target.sites
                 if other.site.own_instance]  # fmt: skip
    read = " ".join([*layout.APACHE_CONFIG_READ, *instances])
    found = site.host.run(f"grep -RIiH -E %s {read}", r"^\s*WSGIPassAuthorization\s").stdout.splitlines()
    ours = {other.paths.site_link for other in site.target.sites} | set(instances)
    app = site.site
    where = layout.instance_file(app.app_name, layout.INSTANCE_CONF) if app.own_instance else site.paths.site_link
    declared = [line.split(":", 1)[1].split()[1].lower() for line in found if line.startswith(f"{where}:")]
    assert declared == ["on" if app.wsgi_pass_authorization else "off"], found
    assert [line for line in found if line.split(":", 1)[0] not in ours] == []
    if app.own_instance:
        assert [line for line in found if line.startswith(f"{site.paths.site_link}:")] == []


def _loaded_elsewhere(site, live: str) -> dict[int, str]:
    """The site's daemon processes whose working folder is not the live release's code:
    pid -> folder. The entry point enters the release it loads; a process that has not
    loaded the app yet is still in the vhost's home=, as it resolved when it started."""
    elsewhere = {}
    for daemon in app_processes(site, site.site):
        folder = site.host.run("readlink /proc/%s/cwd", str(daemon.pid))
        if folder.rc != 0 and site.host.run("test -d /proc/%s", str(daemon.pid)).rc == 0:
            raise AssertionError(f"cannot read /proc/{daemon.pid}/cwd as root (needs CAP_SYS_PTRACE)")
        if folder.rc == 0 and folder.stdout.strip() != live:
            elsewhere[daemon.pid] = folder.stdout.strip()
    return elsewhere


def test_daemon_processes_run_the_live_release(site):
    """Every daemon process has loaded the release `current` names. Requests go out until
    each process has had one (a process loads the app at its first, and one that loaded
    it before a switch restarts at its next: the .wsgi file's mtime); a process then in
    another release never restarts (reloading turned off) and serves old code under the
    new release's name."""
    app = site.site
    live = site.host.check_output("readlink -e %s", site.paths.app_code_dir)
    deadline = time.monotonic() + REACHING_DEADLINE
    with ThreadPoolExecutor(REACHING_REQUESTS) as pool:
        while True:
            ask = lambda _: site.probe.get("https", app.server_name, app.health_check_path)  # noqa: E731
            list(pool.map(ask, range(REACHING_REQUESTS)))
            elsewhere = _loaded_elsewhere(site, live)
            if not elsewhere or time.monotonic() > deadline:
                break
    assert elsewhere == {}, f"daemon processes in another release than the live {live}: {elsewhere}"
