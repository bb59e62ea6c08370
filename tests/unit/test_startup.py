"""What every awd command pays before it reaches a host: modules it never uses are not
imported, and what a process reads once it does not read again per host. Each check runs
in a fresh interpreter, as `awd` starts."""

import subprocess
import sys
import textwrap


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_invoke_is_imported_only_when_used():
    """paramiko imports invoke for ssh_config's `Match exec` alone (which pyinfra runs
    with its own stand-in)."""
    printed = run_python(
        """
        import sys
        import apache_wsgi_deploy.cli
        before = "invoke.tasks" in sys.modules
        import invoke
        invoke.Context
        print(before, "invoke.tasks" in sys.modules, type(sys.modules["invoke"]).__name__)
        """
    )
    assert printed == "False True module"


def test_installed_packages_are_read_once_for_every_entry_point_asked():
    """gevent's plugins before each module it patches, and pyinfra's connectors, for the
    command's inventory and again for each host's run."""
    printed = run_python(
        """
        from importlib import metadata
        from pyinfra.api import Inventory
        from pyinfra.api.connectors import get_execution_connectors
        from apache_wsgi_deploy import hosts, runner
        discover, reads = metadata.Distribution.discover, []

        def counted(**kwargs):
            reads.append(kwargs.get("name"))
            return discover(**kwargs)

        metadata.Distribution.discover = counted
        entry_points = metadata.entry_points
        hosts.load_inventory("@local")
        runner.prepare()
        Inventory((["@local"], {}))
        found = get_execution_connectors()
        print(metadata.entry_points is entry_points, "ssh" in found, reads.count(None))
        """
    )
    assert printed == "True True 1"


def test_a_lone_first_host_prepares_the_deploy_in_its_own_process_while_it_connects(tmp_path):
    """The command's process forks the lone host before importing the deploy (that host's
    process imports it, yielding to the SSH handshake between modules); hosts after the
    first start with it imported, as a fleet's all do."""
    seen = tmp_path / "seen"
    deploy_file = tmp_path / "deploy.py"
    deploy_file.write_text(
        "import sys\n"
        f"with open({str(seen)!r}, 'a') as seen:\n"
        "    print('apache_wsgi_deploy.deploys.whole_server' in sys.modules, file=seen)\n"
    )
    printed = run_python(
        f"""
        import sys
        from apache_wsgi_deploy import runner

        local = runner.RunHost("@local")
        gone = runner.RunHost("gone", {{"ssh_hostname": "127.0.0.1", "ssh_port": 9}})
        runner.prepare([local])
        before = "apache_wsgi_deploy.deploys" in sys.modules
        runs = runner.run_hosts([local], runner.Job({str(deploy_file)!r}))
        alone = "apache_wsgi_deploy.deploys" in sys.modules
        runs.update(runner.run_hosts([local, gone], runner.Job({str(deploy_file)!r}), concurrency=1))
        print(before, alone, "apache_wsgi_deploy.deploys" in sys.modules, runs["@local"][0].exit_status)
        """
    )
    assert printed == "False False True 0"
    assert seen.read_text().split() == ["True", "True"]


def test_a_hosts_connection_imports_nothing_the_command_had_not(tmp_path):
    """What connecting imports on first use (gevent's resolver, which paramiko's SSH
    config lookup asks for this machine's name; the IDNA codec) is imported before the
    forks: each host's process would import it again."""
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text("Host gone\n    IdentityFile ~/.ssh/none\n")
    printed = run_python(
        f"""
        import sys
        from pyinfra.api import Config, Inventory, State
        from pyinfra.api.exceptions import PyinfraError
        from apache_wsgi_deploy import runner

        runner.prepare()
        data = {{"ssh_hostname": "127.0.0.1", "ssh_port": 9, "ssh_config_file": {str(ssh_config)!r}}}
        inventory = Inventory(([("gone", data)], {{}}))
        before = set(sys.modules)
        from pyinfra.api.connect import connect_all
        try:
            connect_all(State(inventory, Config()))
        except PyinfraError:  # nothing listens on port 9
            pass
        print(sorted(set(sys.modules) - before))
        """
    )
    assert printed == "[]"


def test_the_ssh_files_a_hosts_connection_reads_are_read_before_the_forks(tmp_path):
    """pyinfra reads a host's SSH config and known_hosts once per process: the command
    reads them, so that no host's process reads them again."""
    ssh_config, known_hosts = tmp_path / "ssh_config", tmp_path / "known_hosts"
    ssh_config.write_text("Host gone\n    User deploy\n")
    known_hosts.write_text("")
    printed = run_python(
        f"""
        import builtins
        from pyinfra.api import Config, Inventory, State
        from pyinfra.api.exceptions import PyinfraError
        from apache_wsgi_deploy import runner, startup

        runner.prepare()
        data = {{"ssh_hostname": "127.0.0.1", "ssh_port": 9, "ssh_config_file": {str(ssh_config)!r},
                 "ssh_known_hosts_file": {str(known_hosts)!r}}}
        startup.ssh_files_read_once([data, dict(data)])
        opened, open_ = [], builtins.open
        builtins.open = lambda file, *args, **kwargs: opened.append(str(file)) or open_(file, *args, **kwargs)
        from pyinfra.api.connect import connect_all
        try:
            connect_all(State(Inventory(([("gone", data)], {{}})), Config()))
        except PyinfraError:  # nothing listens on port 9
            pass
        print(sorted(set(opened) & {{{str(ssh_config)!r}, {str(known_hosts)!r}}}))
        """
    )
    assert printed == "[]"
