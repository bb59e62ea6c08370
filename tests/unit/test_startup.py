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
