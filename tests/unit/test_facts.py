"""Our facts run the command we expect and parse its output into plain data."""

import grp
import os
from types import SimpleNamespace

import pytest
from pyinfra.context import ctx_host

from apache_wsgi_deploy.facts.cache import cached_fact
from tests.unit.harness import FakeHost, load, read, resolve


@pytest.mark.parametrize(("fact", "path"), load("facts"), ids=lambda value: getattr(value, "stem", value))
def test_fact_fixture(fact, path):
    fixture = read(path)
    fact_instance = resolve("facts", fact)()
    assert fact_instance.command(**fixture.get("kwargs", {})) == fixture["command"]
    assert fact_instance.process(fixture["output"]) == fixture["fact"]


def test_apache_links_is_unknown_before_apache_is_installed():
    fact_class = resolve("facts", "apache.ApacheLinks")
    assert fact_class().requires_command() == "a2enmod"
    assert fact_class.default() is None


def test_a_cached_fact_is_asked_again_only_after_a_command_ran_or_the_stage_changed():
    fact_class = resolve("facts", "apache.ApacheLinks")
    host = FakeHost({"apache.ApacheLinks": {"modules": {}}})
    with ctx_host.use(host):
        cached_fact(fact_class)
        cached_fact(fact_class)
        assert host.fact_calls == ["apache.ApacheLinks"]

        host.state.ops[host]["no-change"] = SimpleNamespace(operation_meta=SimpleNamespace(executed=False))
        cached_fact(fact_class)
        assert len(host.fact_calls) == 1

        host.state.ops[host]["a2enmod"] = SimpleNamespace(operation_meta=SimpleNamespace(executed=True))
        cached_fact(fact_class)
        assert len(host.fact_calls) == 2

        host.state.current_stage = "execute"
        cached_fact(fact_class)
        assert len(host.fact_calls) == 3


def test_hosts_never_see_each_others_cached_answers():
    """pyinfra's `host` is one proxy for every host of a run: answers must not live on it."""
    fact_class = resolve("facts", "apache.ApacheLinks")
    web1 = FakeHost({"apache.ApacheLinks": {"modules": {"dav": True}}})
    web2 = FakeHost({"apache.ApacheLinks": {"modules": {"dav": False}}})
    for fake, expected in ((web1, True), (web2, False), (web1, True)):
        with ctx_host.use(fake):
            assert cached_fact(fact_class)["modules"]["dav"] is expected


def test_releases_are_read_from_a_real_folder_and_a_missing_one(tmp_path):
    from apache_wsgi_deploy.facts.releases import Releases
    from tests.unit.harness import LocalHost

    site = tmp_path / "shop"
    assert LocalHost().get_fact(Releases, install_path=str(site))["releases"] == []
    (site / "releases" / "one").mkdir(parents=True)
    (site / "releases" / "two").mkdir()
    (site / "releases" / "one" / "venv").symlink_to("../../venvs/aa12b31ce288")
    (site / "current").symlink_to("releases/one")
    found = LocalHost().get_fact(Releases, install_path=str(site))
    assert (found["releases"], found["current"]) == (["one", "two"], "one")
    assert found["venvs"] == {"one": "../../venvs/aa12b31ce288"}


def test_a_release_is_loadable_only_with_a_virtualenv_of_the_hosts_python_as_it_is_now(tmp_path):
    """After Debian's Python was upgraded in place, a release whose virtualenv an older
    Python built cannot be loaded: rollback must not pick it."""
    from apache_wsgi_deploy.facts.python import HostPython
    from apache_wsgi_deploy.facts.releases import Releases
    from tests.unit.harness import LocalHost

    now = LocalHost().get_fact(HostPython)
    site = tmp_path / "shop"
    for release, python in (("built-now", now), ("built-before", "3.9")):
        venv = site / "venvs" / f"python{python}-aa12b31ce288"
        (venv / "bin").mkdir(parents=True)
        (venv / "bin" / "python").symlink_to("/usr/bin/python3")
        (venv / "lib" / f"python{python}").mkdir(parents=True)
        (site / "releases" / release).mkdir(parents=True)
        (site / "releases" / release / "wsgi-entry").write_text("")
        (site / "releases" / release / "venv").symlink_to(f"../../venvs/{venv.name}")
    assert LocalHost().get_fact(Releases, install_path=str(site))["loadable"] == ["built-now"]


def test_capacity_is_read_from_this_machines_own_files():
    import os
    import subprocess
    from pathlib import Path

    from apache_wsgi_deploy.facts.capacity import Capacity
    from tests.unit.harness import LocalHost

    found = LocalHost().get_fact(Capacity)
    limits = {
        "kernel.threads-max": int(Path("/proc/sys/kernel/threads-max").read_text()),
        "kernel.pid_max": int(Path("/proc/sys/kernel/pid_max").read_text()),
    }
    for pids_max in ("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"):
        if os.path.exists(pids_max):
            value = Path(pids_max).read_text().strip()
            if value.isdigit():
                limits["the cgroup's pids.max"] = int(value)
            break
    lowest = min(limits, key=limits.get)
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    assert found == {
        "cpus": int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout),
        "memory_kib": int(meminfo["MemTotal"].split()[0]),
        "task_limit": limits[lowest],
        "task_limit_from": lowest,
    }


def test_what_the_deploy_made_is_read_with_what_is_at_each_of_its_paths_now(tmp_path, monkeypatch):
    import pwd

    from apache_wsgi_deploy import layout
    from apache_wsgi_deploy.facts.record import MadeOnHost, entry_line
    from tests.unit.harness import LocalHost

    monkeypatch.setattr(layout, "MADE_RECORD", str(tmp_path / "made.tsv"))
    monkeypatch.setattr(layout, "TOOLS_DIR", str(tmp_path / "tools"))
    assert LocalHost().get_fact(MadeOnHost) == {"record": {}, "earlier": False, "states": {}}
    folder, file, link, gone = (tmp_path / name for name in ("shop folder", "-shop.conf", "link", "gone"))
    folder.mkdir(mode=0o751)
    file.write_text("x")
    file.chmod(0o640)
    link.symlink_to(tmp_path / "nothing")
    entries = {str(path): {"role": "app", "app_name": "shop", "adopted": None} for path in (folder, file, link, gone)}
    (tmp_path / "made.tsv").write_text("".join(entry_line(path, entry) + "\n" for path, entry in entries.items()))
    me = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    assert LocalHost().get_fact(MadeOnHost) == {
        "record": entries,
        "earlier": False,
        "states": {
            str(folder): {"kind": "directory", "user": me, "group": group, "mode": 0o751},
            str(file): {"kind": "file", "user": me, "group": group, "mode": 0o640},
            str(link): {"kind": "link", "user": me, "group": group, "mode": 0o777},
            str(gone): None,
        },
    }


def test_installed_packages_are_read_from_this_machines_dpkg_and_an_unknown_one_is_left_out():
    from apache_wsgi_deploy.facts.packages import InstalledPackages
    from tests.unit.harness import LocalHost

    asked = ["dpkg", "no-such-package-anywhere", "coreutils"]
    assert LocalHost().get_fact(InstalledPackages, packages=asked) == ["coreutils", "dpkg"]
