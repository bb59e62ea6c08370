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
from pathlib import Path

from pyinfra.api import StringCommand
from pyinfra.context import ctx_host

FIXTURES = Path(__file__).parent / "fixtures"
PACKAGES = {
    name: f"apache_wsgi_deploy.{{kind}}.{name}" for name in ("apache", "packages", "tls", "certbot")
}


def load(kind: str) -> list[tuple[str, Path]]:
    """(module.name, fixture path) for every fixture of facts or operations."""
    return [
        (folder.name, path)
        for folder in sorted((FIXTURES / kind).iterdir())
        for path in sorted(folder.glob("*.json"))
    ]


def resolve(kind: str, dotted: str):
    module_name, _, attribute = dotted.partition(".")
    module = importlib.import_module(PACKAGES[module_name].format(kind=kind))
    return getattr(module, attribute)


class FakeHost:
    """Answers get_fact from the fixture and records noop descriptions."""

    def __init__(self, facts: dict):
        self.facts = facts
        self.noops: list[str] = []

    def get_fact(self, fact_class, *args, **kwargs):
        key = f"{fact_class.__module__.rsplit('.', 1)[-1]}.{fact_class.__name__}"
        return self.facts[key]

    def noop(self, description: str) -> None:
        self.noops.append(description)


def render(command) -> str:
    return command.get_raw_value() if isinstance(command, StringCommand) else str(command)


def run_operation(dotted: str, fixture: dict) -> tuple[list[str], list[str]]:
    operation = resolve("operations", dotted)
    fake = FakeHost(fixture.get("facts", {}))
    with ctx_host.use(fake):
        commands = [
            render(command)
            for command in operation._inner(*fixture.get("args", []), **fixture.get("kwargs", {}))
        ]
    return commands, fake.noops


def read(path: Path) -> dict:
    return json.loads(path.read_text())
