"""Facts in one round trip: the batch's script run here by sh, each fact's answer as
pyinfra would have read it alone, and those whose command failed left to be read alone."""

import hashlib
import io
import json
import os
import subprocess
from types import SimpleNamespace

from pyinfra.api import FactBase, StringCommand
from pyinfra.connectors.util import CommandOutput, OutputLine
from pyinfra.facts.files import File

from apache_wsgi_deploy import prefetch
from apache_wsgi_deploy.facts.files import FileState
from apache_wsgi_deploy.facts.fingerprint import RACY, RACY_FD


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
        self.command_lines = []

    def run_shell_command(self, command: StringCommand, _stdin: str = "", **executor):
        self.command_lines.append(command.get_raw_value())
        run = subprocess.run(["sh", "-c", command.get_raw_value()], input=_stdin, capture_output=True, text=True)
        lines = [OutputLine("stdout", line.rstrip("\n")) for line in io.StringIO(run.stdout)]
        return run.returncode == 0, CommandOutput(lines)


def batch(*facts, kept=None):
    return [prefetch._asked(f"key{index}", cls(), kwargs, kept or {}) for index, (cls, kwargs) in enumerate(facts)]


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
        prefetch.Fingerprinted({}),
    )
    assert len(host.command_lines) == 1
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
    answers = prefetch._answers(
        host, batch((Lines, {"text": slow}), (Lines, {"text": fast})), {}, prefetch.Fingerprinted({})
    )
    assert answers == {"key0": ["slow", "no newline"], "key1": ["fast"]}


def test_file_states_read_in_one_command_are_each_what_its_own_command_reads(tmp_path):
    (tmp_path / "file").write_text("content\n")
    (tmp_path / "empty").write_text("")
    (tmp_path / "folder").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "file")
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    # Never read: a FIFO would block b2sum for ever.
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "it's spaced").write_text("x")
    (tmp_path / "new\nline").write_text("y")
    names = ("file", "empty", "folder", "link", "broken", "fifo", "it's spaced", "new\nline", "missing")
    paths = {f"key{index}": str(tmp_path / name) for index, name in enumerate(names)}
    entries = prefetch._entries([(key, FileState, {"path": path}) for key, path in paths.items()], {})
    # The path b2sum would print escaped keeps its own command.
    assert [len(entry.fact.keys) if isinstance(entry.fact, prefetch.Gathered) else 1 for entry in entries] == [1, 8]
    answers = prefetch._answers(LocalHost(), entries, {}, prefetch.Fingerprinted({}))
    alone = {
        key: FileState.process(
            subprocess.run(["sh", "-c", FileState.command(path)], capture_output=True, text=True).stdout.splitlines()
        )
        for key, path in paths.items()
    }
    assert answers == alone
    assert (answers["key0"]["digest"], answers["key3"]["kind"], answers["key3"]["digest"]) == (
        hashlib.blake2b(b"content\n", digest_size=16).hexdigest(),
        "link",
        None,
    )
    assert answers["key5"]["kind"] == "other" and answers["key8"] is None


def test_many_file_states_are_gathered_in_commands_that_each_fit_a_batch():
    paths = [f"/srv/site{index:04}/" + "x" * 80 for index in range(2000)]
    entries = prefetch._entries([(path, FileState, {"path": path}) for path in paths], {})
    assert len(entries) > 1 and all(len(entry.command) <= prefetch.BATCH_CHARS // 2 for entry in entries)
    assert [key for entry in entries for key in entry.fact.keys] == paths


def test_a_fact_whose_command_is_a_method_is_keyed_without_its_instance():
    assert prefetch._key(File, {"self": File(), "path": "/etc/hosts"}) == (
        '["pyinfra.facts.files:File", {"path": "/etc/hosts"}]'
    )
    assert prefetch._fact_class("pyinfra.facts.files:File") is File
    assert prefetch._fact_class("pyinfra.facts.files:Nothing") is None
    assert prefetch._key(Lines, {"text": object()}) is None


class Counted(Lines):
    """Its command counts its runs; its answer is read from the file its fingerprint prints,
    racy when the file beside it says so."""

    @staticmethod
    def command(text: str, folder: str) -> str:
        return f"echo run >> {folder}/runs; cat {folder}/answer"

    @staticmethod
    def fingerprint(kept: list[str], text: str, folder: str) -> str:
        return f"cat {folder}/fingerprint; cat {folder}/marks >&{RACY_FD}"


def test_a_fingerprinted_facts_command_runs_only_when_its_fingerprint_changed(tmp_path):
    """Its output is kept with the fingerprint it was read with; the next batch runs it
    only when the fingerprint differs, racy or another version of its command."""
    (tmp_path / "answer").write_text("first\n")
    (tmp_path / "fingerprint").write_text("one\n")
    (tmp_path / "marks").write_text("")
    arguments = {"text": "", "folder": str(tmp_path)}

    def asked(kept):
        """The answer, what was read afresh, the command's runs so far, and whether the kept output answered."""
        fingerprinted = prefetch.Fingerprinted(kept)
        answers = prefetch._answers(LocalHost(), batch((Counted, arguments), kept=kept), {}, fingerprinted)
        runs = (tmp_path / "runs").read_text().count("run")
        return answers["key0"], fingerprinted.read, runs, fingerprinted.unchanged == ["key0"]

    answer, read, runs, unchanged = asked({})
    assert (answer, runs, unchanged) == (["first"], 1, False)
    (tmp_path / "answer").write_text("changed, with a fingerprint that did not\n")
    assert asked(read) == (["first"], {}, 1, True)
    (tmp_path / "fingerprint").write_text("two\n")
    answer, read_again, runs, unchanged = asked(read)
    assert (answer, runs, unchanged) == (["changed, with a fingerprint that did not"], 2, False)
    assert read_again["key0"].fingerprint != read["key0"].fingerprint
    # Another version of the command: its kept output is not this one's.
    other = {"key0": read_again["key0"]._replace(command="another")}
    assert asked(other)[2] == 3
    # Racy: read again, and what was kept no longer answers (None: nothing to keep).
    (tmp_path / "marks").write_text(f"{RACY}\n")
    assert asked(read_again) == (["changed, with a fingerprint that did not"], {"key0": None}, 4, False)
    assert asked({})[2] == 5


def test_the_record_keeps_what_fingerprinted_facts_read_for_the_owner_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    host = SimpleNamespace(name="web1")
    key = prefetch._key(Counted, {"text": "", "folder": "/x"})
    kept = prefetch.Kept("digest", "0123456789abcdef0123456789abcdef", ["output"])
    host._apache_wsgi_deploy_facts_asked = ([key], [key], prefetch.Fingerprinted({}, read={key: kept}))
    prefetch.remember(host)
    record = tmp_path / ".cache" / "facts" / "web1.json"
    assert record.stat().st_mode & 0o777 == 0o600
    assert prefetch._read_record(host) == ([key], {key: kept})
    # An earlier version's record: the facts alone.
    record.write_text(json.dumps([key]))
    assert prefetch._read_record(host) == ([key], {})
    record.write_text("{not json")
    assert prefetch._read_record(host) == ([], {})
    # What reaches the host's shell is a digest, or nothing is kept.
    record.write_text(json.dumps({"facts": [key], "kept": {key: ["digest", "$(reboot)", ["output"]]}}))
    assert prefetch._read_record(host) == ([key], {})


def test_what_a_racy_read_found_stale_is_no_longer_kept(tmp_path, monkeypatch):
    """Else its fingerprint, made from the stale output (an Apache not installed yet),
    would be racy at every run, and the fact never answered from what is kept."""
    monkeypatch.chdir(tmp_path)
    host = SimpleNamespace(name="web1")
    key = prefetch._key(Counted, {"text": "", "folder": "/x"})
    kept = prefetch.Kept("digest", "0123456789abcdef0123456789abcdef", ["##PYINFRA_NOCMD##"])
    host._apache_wsgi_deploy_facts_asked = ([key], [], prefetch.Fingerprinted({key: kept}))
    prefetch.remember(host)
    assert prefetch._read_record(host) == ([key], {key: kept})
    host._apache_wsgi_deploy_facts_asked = ([key], [key], prefetch.Fingerprinted({key: kept}, read={key: None}))
    prefetch.remember(host)
    assert prefetch._read_record(host) == ([key], {})


def test_the_batch_is_sent_on_stdin_and_a_fact_reading_its_own_stdin_reads_nothing():
    """Not on the command line (sudo logs it, ps shows it), and not the rest of the batch."""
    host = LocalHost()
    answers = prefetch._answers(
        host, batch((Lines, {"text": "cat; echo after"}), (Lines, {"text": "echo 2"})), {}, None
    )
    assert answers == {"key0": ["after"], "key1": ["2"]}
    assert all("echo after" not in line for line in host.command_lines)
