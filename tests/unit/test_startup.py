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


def test_entry_points_are_read_once_and_pyinfras_connectors_come_from_them():
    printed = run_python(
        """
        from importlib import metadata
        entry_points = metadata.entry_points
        from apache_wsgi_deploy import runner
        runner.prepare()
        reads = []
        metadata.Distribution.discover = lambda *args, **kwargs: reads.append(1) or []
        from pyinfra.api import connectors
        found = connectors.get_execution_connectors()
        print(metadata.entry_points is entry_points, "ssh" in found and "local" in found, len(reads))
        """
    )
    assert printed == "True True 0"
