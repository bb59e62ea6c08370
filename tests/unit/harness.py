"""
Run our facts and operations without a host, from JSON fixtures, as pyinfra tests its own.

Operation fixture: {"args": [...], "kwargs": {...}, "facts": {"module.Fact": value},
"commands": [...], "noop_description": "..."}. Fact fixture: {"command": "...",
"output": [lines], "fact": expected}. Facts are keyed by module and class name; our
operations call each fact with fixed arguments, so arguments are not part of the key.
"""

from __future__ import annotations

import importlib
import json
import posixpath
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from pyinfra.api import FileUploadCommand, StringCommand
from pyinfra.context import ctx_host, ctx_state

from apache_wsgi_deploy.deploys.packages import HOST_TOOLS

FIXTURES = Path(__file__).parent / "fixtures"
PACKAGES = {
    name: f"apache_wsgi_deploy.{{kind}}.{name}"
    for name in (
        "accounts",
        "apache",
        "capacity",
        "packages",
        "tls",
        "certbot",
        "managed",
        "python",
        "releases",
        "files",
        "instance",
    )
}


def load(kind: str) -> list[tuple[str, Path]]:
    """(module.name, fixture path) for every fixture of facts or operations."""
    return [
        (folder.name, path) for folder in sorted((FIXTURES / kind).iterdir()) for path in sorted(folder.glob("*.json"))
    ]


def resolve(kind: str, dotted: str):
    module_name, _, attribute = dotted.partition(".")
    module = importlib.import_module(PACKAGES[module_name].format(kind=kind))
    return getattr(module, attribute)


class FakeHost:
    """Answers get_fact from the fixture and records noop descriptions and log lines."""

    name = "fake"
    print_prefix = "[fake] "

    def __init__(self, facts: dict, diff: bool = False):
        self.facts = facts
        self.noops: list[str] = []
        self.fact_calls: list[str] = []
        # What our operations read of pyinfra's state: no operation has run yet.
        self.state = SimpleNamespace(
            current_stage=None, ops={self: {}}, config=SimpleNamespace(DIFF=diff), callback_handlers=[]
        )

    def get_fact(self, fact_class, *args, **kwargs):
        key = f"{fact_class.__module__.rsplit('.', 1)[-1]}.{fact_class.__name__}"
        self.fact_calls.append(key)
        return self.facts[key]

    def noop(self, description: str) -> None:
        self.noops.append(description)

    def log(self, message: str, log_func) -> None:
        log_func(f"{self.print_prefix}{message}")

    def get_temp_filename(self, hash_key: str, temp_directory: str | None = None) -> str:
        return f"{temp_directory or '/tmp'}/pyinfra-upload"


class LocalHost(FakeHost):
    """Answers get_fact by running the fact's command here: operations meet real files."""

    def __init__(self, home: str = "/home/deploy", diff: bool = False):
        super().__init__({}, diff)
        self.home = home

    def get_fact(self, fact_class, *args, **kwargs):
        kwargs = {key: value for key, value in kwargs.items() if not key.startswith("_")}
        if fact_class.__name__ == "Home":
            return self.home
        fact = fact_class()
        command = fact.command(*args, **kwargs)
        command = command.get_raw_value() if isinstance(command, StringCommand) else command
        run = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
        return fact.process(run.stdout.splitlines())

    def execute(self, commands) -> None:
        """Run an operation's commands here: shell commands, and uploads as file writes."""
        for command in commands:
            if isinstance(command, FileUploadCommand):
                Path(command.dest).write_bytes(command.src.read())
            else:
                subprocess.run(["sh", "-c", command.get_raw_value()], check=True)


def host_tool(name: str):
    """A script of host_tools, imported as it runs on the host: its own folder on sys.path."""
    folder = str(HOST_TOOLS)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(name)


def render(command) -> str:
    if isinstance(command, FileUploadCommand):
        return f"upload {command.dest} through {posixpath.dirname(command.remote_temp_filename)}"
    return command.get_raw_value() if isinstance(command, StringCommand) else str(command)


def operation_commands(fake: FakeHost, operation, *args, **kwargs) -> list:
    """The commands an operation yields on this fake host."""
    with ctx_host.use(fake), ctx_state.use(fake.state):
        return list(operation._inner(*args, **kwargs))


def run_operation(dotted: str, fixture: dict) -> tuple[list[str], list[str]]:
    fake = FakeHost(fixture.get("facts", {}))
    commands = operation_commands(
        fake, resolve("operations", dotted), *fixture.get("args", []), **fixture.get("kwargs", {})
    )
    return [render(command) for command in commands], fake.noops


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def gone(pid: int) -> bool:
    """The process ended (a zombie waiting for its new parent to reap it counts), polled for a while."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False
