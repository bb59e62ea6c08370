"""Facts in one round trip: the batch's script run here by sh, each fact's answer as
pyinfra would have read it alone, and those whose command failed left to be read alone."""

import io
import subprocess

from pyinfra.api import FactBase, StringCommand
from pyinfra.connectors.util import CommandOutput, OutputLine
from pyinfra.facts.files import File

from apache_wsgi_deploy import prefetch


class Lines(FactBase):
    @staticmethod
    def command(text: str) -> str:
        return text

    @staticmethod
    def process(output: list[str]) -> list[str]:
        return output


class Missing(Lines):
    @staticmethod
    def requires_command(text: str) -> str:
        return "no-such-program-anywhere"

    @staticmethod
    def default() -> str:
        return "its default"


class LocalHost:
    """What the batch needs of a host: a shell command run, its output as pyinfra reads it."""

    print_prefix = "[local] "

    def __init__(self):
        self.commands = 0

    def run_shell_command(self, command: StringCommand, **executor):
        self.commands += 1
        run = subprocess.run(["sh", "-c", command.get_raw_value()], capture_output=True, text=True)
        lines = [OutputLine("stdout", line.rstrip("\n")) for line in io.StringIO(run.stdout)]
        return run.returncode == 0, CommandOutput(lines)


def batch(*facts):
    return [(f"key{index}", cls(), prefetch._command(cls(), kwargs)) for index, (cls, kwargs) in enumerate(facts)]


def test_each_fact_is_read_from_one_command_as_it_would_be_alone():
    host = LocalHost()
    answers = prefetch._answers(
        host,
        batch(
            (Lines, {"text": "printf 'a\\nb\\n'"}),
            # Output that does not end with a newline, and a comment that would swallow the rest.
            (Lines, {"text": "printf 'no newline' # a comment"}),
            (Lines, {"text": "echo '  spaced  '; echo"}),
            (Lines, {"text": "echo half; exit 3"}),
            (Lines, {"text": "true"}),
            (Missing, {"text": "echo never"}),
        ),
        {},
    )
    assert host.commands == 1
    assert answers == {
        "key0": ["a", "b"],
        "key1": ["no newline"],
        "key2": ["  spaced  ", ""],
        # key3 failed: read alone, where pyinfra reports it.
        "key4": None,
        "key5": "its default",
    }


def test_the_commands_run_at_once_and_each_answer_stays_its_own():
    """The first command ends last: its output is still the first fact's, whole."""
    host = LocalHost()
    slow, fast = "sleep 0.2; echo slow; printf 'no newline'", "echo fast"
    answers = prefetch._answers(host, batch((Lines, {"text": slow}), (Lines, {"text": fast})), {})
    assert answers == {"key0": ["slow", "no newline"], "key1": ["fast"]}


def test_a_fact_whose_command_is_a_method_is_keyed_without_its_instance():
    assert prefetch._key(File, {"self": File(), "path": "/etc/hosts"}) == (
        '["pyinfra.facts.files:File", {"path": "/etc/hosts"}]'
    )
    assert prefetch._fact_class("pyinfra.facts.files:File") is File
    assert prefetch._fact_class("pyinfra.facts.files:Nothing") is None
    assert prefetch._key(Lines, {"text": object()}) is None
