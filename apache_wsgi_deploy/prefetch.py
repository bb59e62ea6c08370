"""
Facts in one round trip. pyinfra reads a host's facts one at a time, a command and a
round trip each: 30 for a no-change rerun, most of its time over a real network link.
A run here first asks the host for every fact the host's last awd run asked for before it
changed anything (kept on the control machine, `.cache/facts/<host>.json`), in the
command that takes the deploy lock, the host running them all at once. Each later read
of one of them is answered from that batch, processed exactly as pyinfra processes the
fact's own output, until an operation runs a command or uploads a file on the host: from
then on every fact is read alone, as before. So is a fact not in the batch, one whose
command failed in it, and one asked with other connection arguments.

Facts of a class that gathers its reads (FileState: a file's owner, mode and digest) are
read by one command for them all, where each would start its own programs.

A costly fact with a fingerprint (facts/fingerprint.py) keeps its last output in the
record too, with the fingerprint it was read with: in the batch, the host runs its
command only when the fingerprint differs, and the kept output is processed otherwise.
The record is then readable by its owner only.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import secrets
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from pyinfra import logger
from pyinfra.api import StringCommand
from pyinfra.api.arguments import CONNECTOR_ARGUMENT_KEYS
from pyinfra.api.exceptions import FactProcessError
from pyinfra.api.facts import FactBase, ShortFactBase, _handle_fact_kwargs, _make_command
from pyinfra.api.host import Host
from pyinfra.context import ctx_host

from apache_wsgi_deploy import project
from apache_wsgi_deploy.facts.files import B2SUM, DIGEST_BITS
from apache_wsgi_deploy.facts.fingerprint import RACY, RACY_FD
from apache_wsgi_deploy.lock import run_sent

# pyinfra's own marker (api/facts.py) for a fact whose requires_command is missing.
MISSING_COMMAND = "##PYINFRA_NOCMD##"
# One `sh -c` argument holds at most 128 KiB (MAX_ARG_STRLEN): a batch stays below.
BATCH_CHARS = 100_000


# Never a fingerprint's digest, nor RACY: what a fact with nothing kept is compared with.
NOTHING_KEPT = "-"
# A fingerprint's digest: as a file's content's (facts/files.py).
DIGEST = re.compile(rf"[0-9a-f]{{{DIGEST_BITS // 4}}}")


class Kept(NamedTuple):
    """A fingerprinted fact's last output, with the fingerprint and the command it was read with."""

    command: str  # the command's sha256: another version of the fact reads again
    fingerprint: str
    output: list[str]


class Asked(NamedTuple):
    key: str
    fact: FactBase
    command: str
    # A fingerprinted fact's: what it last read (or nothing yet). None: a fact without one.
    kept: Kept | None = None


class Gathered(NamedTuple):
    """Facts of one class read by one command, the class's `gathered`: their keys and
    arguments, in order. A fact class gathers its reads when it has `gathers(**arguments)`
    (whether these may be), `gathered(arguments)` (the command) and `scattered(arguments,
    output)` (each fact's output, as its own command prints it)."""

    fact: FactBase
    keys: list[str]
    arguments: list[dict]


@dataclass
class Fingerprinted:
    """The fingerprinted facts' outputs the last run kept, those this run read afresh, and
    the facts it answered from what was kept."""

    kept: dict[str, Kept]
    # None: read afresh, but not to be kept (racy): what was kept no longer answers.
    read: dict[str, Kept | None] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)


def _record(host: Host) -> Path:
    return project.path(project.CACHE_DIR) / "facts" / f"{host.name}.json"


def _read_record(host: Host) -> tuple[list, dict[str, Kept]]:
    """The facts the host's last run asked for, and the outputs it kept. An earlier
    version's record is the list alone."""
    try:
        recorded = json.loads(_record(host).read_text())
    except (OSError, ValueError):
        return [], {}
    if isinstance(recorded, list):
        return recorded, {}
    if not isinstance(recorded, dict) or not isinstance(recorded.get("facts"), list):
        return [], {}
    kept = {}
    for key, entry in (recorded.get("kept") or {}).items():
        try:
            command, fingerprint, output = entry
        except (TypeError, ValueError):
            continue
        if isinstance(fingerprint, str) and DIGEST.fullmatch(fingerprint) and isinstance(output, list):
            kept[key] = Kept(str(command), fingerprint, [str(line) for line in output])
    return recorded["facts"], kept


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _arguments(fact_kwargs: dict) -> dict:
    """A fact's own arguments: getcallargs names the fact's instance too, for a command
    that is a method."""
    return {name: value for name, value in fact_kwargs.items() if name != "self"}


def _key(cls: type, fact_kwargs: dict) -> str | None:
    """The fact and its arguments as a string, or None for a fact that cannot be batched."""
    if issubclass(cls, ShortFactBase) or cls.check_preconditions is not FactBase.check_preconditions:
        return None
    if cls.shell_executable:
        return None
    try:
        return json.dumps([f"{cls.__module__}:{cls.__qualname__}", _arguments(fact_kwargs)], sort_keys=True)
    except TypeError:
        return None


def _fact_class(name: str) -> type | None:
    module, _, qualname = name.partition(":")
    try:
        found = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return found if isinstance(found, type) and issubclass(found, FactBase) else None


def _executor(global_kwargs: dict) -> dict:
    return {key: value for key, value in global_kwargs.items() if key in CONNECTOR_ARGUMENT_KEYS}


def _command(fact: FactBase, fact_kwargs: dict) -> str:
    """The fact's command as pyinfra runs it alone (with its requires_command guard)."""
    command = _make_command(fact.command, dict(fact_kwargs))
    requires = _make_command(fact.requires_command, dict(fact_kwargs))
    text = command.get_raw_value() if isinstance(command, StringCommand) else str(command)
    if requires:
        required = requires.get_raw_value() if isinstance(requires, StringCommand) else str(requires)
        text = f"if command -v {required} >/dev/null 2>&1; then ( {text} ); else echo '{MISSING_COMMAND}'; fi"
    return text


def _fingerprinted(fingerprint: str, command: str, kept: Kept) -> str:
    """sh: the digest of what the fingerprint prints (RACY when it says so), digested as
    it prints it; then the fact's output, only when that is not the kept fingerprint."""
    return (
        f"f=$( {{ {{\n{fingerprint}\n}} 2>&1 | {B2SUM}; }} {RACY_FD}>&1 )\n"
        f'case "\n$f\n" in *"\n{RACY}\n"*) s={RACY} ;; *) s=${{f%% *}} ;; esac\n'
        f'echo "$s"; [ "$s" = {shlex.quote(kept.fingerprint)} ] || (\n{command}\n)'
    )


def _asked(key: str, fact: FactBase, fact_kwargs: dict, kept: dict[str, Kept]) -> Asked:
    """A fact of the batch, with its fingerprint when it has one."""
    command = _command(fact, fact_kwargs)
    fingerprint = getattr(fact, "fingerprint", None)
    if fingerprint is None:
        return Asked(key, fact, command)
    before = kept.get(key)
    if before is None or before.command != _digest(command):
        before = Kept(_digest(command), NOTHING_KEPT, [])
    return Asked(
        key, fact, _fingerprinted(fingerprint(before.output, **_arguments(fact_kwargs)), command, before), before
    )


def _entries(facts: list[tuple[str, type, dict]], kept: dict[str, Kept]) -> list[Asked]:
    """The batch's commands for (key, class, arguments): each fact's own, but one for all
    the facts of a class that gathers its reads."""
    entries: list[Asked] = []
    gathering: dict[type, list[tuple[str, dict]]] = {}
    for key, cls, fact_kwargs in facts:
        arguments = _arguments(fact_kwargs)
        try:
            if getattr(cls, "fingerprint", None) is None and getattr(cls, "gathers", lambda **_: False)(**arguments):
                gathering.setdefault(cls, []).append((key, arguments))
            else:
                entries.append(_asked(key, cls(), fact_kwargs, kept))
        except Exception:  # a fact whose arguments changed shape: read alone
            continue
    for cls, group in gathering.items():
        # Commands of at most half a batch, so each fits one with room for others.
        chunks: list[list[tuple[str, dict]]] = [[]]
        for each in group:
            longer = [of_each for _, of_each in (*chunks[-1], each)]
            if chunks[-1] and len(cls.gathered(longer)) > BATCH_CHARS // 2:
                chunks.append([])
            chunks[-1].append(each)
        for chunk in chunks:
            keys, arguments = [key for key, _ in chunk], [each for _, each in chunk]
            entries.append(Asked(keys[0], Gathered(cls(), keys, arguments), cls.gathered(arguments)))
    return entries


def _script(batch: list[Asked], nonce: str) -> str:
    """sh: every command of the batch at once (each only reads, and the lock is held),
    each writing its output between the nonce's lines, the last with its exit status,
    into a file of its own; then all of them in order, by one cat. Each command runs in
    its job's own process: the job's exit trap writes the last line, where a subshell
    around the command would cost a process more."""
    started = "\n".join(
        f"{{ trap 'echo {nonce}:{index}:$?' EXIT; echo {nonce}:{index}; exec 2>/dev/null\n{asked.command}\n}}"
        f' >"$d/{index}" &'
        for index, asked in enumerate(batch)
    )
    told = " ".join(f'"$d/{index}"' for index in range(len(batch)))
    return f"d=$(mktemp -d) || exit 1\ntrap 'rm -rf \"$d\"' EXIT\n{started}\nwait\ncat {told}"


def _parsed(batch: list[Asked], nonce: str, output: list[str], fingerprinted: Fingerprinted) -> dict[str, object]:
    """Each fact's processed answer from the batch's output, for those whose command
    succeeded; what the fingerprinted facts read afresh, or answered from what was kept."""
    end = re.compile(rf"^(.*){nonce}:(\d+):(\d+)$")
    answers, lines, current = {}, [], None
    for line in output:
        if current is None:
            if line.startswith(f"{nonce}:"):
                current, lines = int(line.split(":")[1]), []
            continue
        ended = end.match(line)
        if ended is None:
            lines.append(line)
            continue
        if ended.group(1):
            lines.append(ended.group(1))  # its output did not end with a newline
        key, fact, _, kept = batch[current]
        succeeded, current, fresh, unchanged = ended.group(3) == "0", None, None, False
        if kept is not None:
            if not lines:
                continue  # not even its fingerprint: read alone
            fingerprint, lines = lines[0], lines[1:]
            if fingerprint == kept.fingerprint:
                lines, unchanged = kept.output, True
            else:
                # Stale, even when this read cannot replace it: else a racy read would
                # leave it to be fingerprinted, and read again, at every run.
                fingerprinted.read[key] = None
                if fingerprint != RACY:
                    fresh = Kept(kept.command, fingerprint, lines)
        if not succeeded:
            continue
        if isinstance(fact, Gathered):
            for each, own in zip(fact.keys, fact.fact.scattered(fact.arguments, lines), strict=True):
                _answer(answers, each, fact.fact, own)
            continue
        if not _answer(answers, key, fact, lines):
            continue
        if fresh is not None:
            fingerprinted.read[key] = fresh
        if unchanged:
            fingerprinted.unchanged.append(key)
    return answers


def _answer(answers: dict[str, object], key: str, fact: FactBase, lines: list[str]) -> bool:
    """Put the fact's answer from its output, processed as pyinfra processes it; False
    when it cannot be (it is then read alone, where pyinfra reports it)."""
    try:
        if lines == [MISSING_COMMAND]:
            answers[key] = fact.default()
        else:
            answers[key] = fact.process(lines) if lines else fact.default()
    except FactProcessError:
        return False
    return True


def _answers(host: Host, batch: list[Asked], executor: dict, fingerprinted: Fingerprinted) -> dict[str, object]:
    """Run a batch of fact commands in one command; each fact's processed answer, for
    those whose command succeeded."""
    nonce = secrets.token_hex(8)
    try:
        script = _script(batch, nonce)
        command = StringCommand(run_sent(len(script.encode())))
        succeeded, output = host.run_shell_command(command, _stdin=script, **executor)
    except Exception as error:  # the facts are then read one by one, which says what failed
        logger.debug(f"{host.print_prefix}facts batch failed: {error}")
        return {}
    return _parsed(batch, nonce, output.stdout_lines, fingerprinted) if succeeded else {}


def asked_at_once(with_lock=None) -> None:
    """Ask the host for the facts its last run asked for before it changed anything, in one
    command, and answer this run's reads from them until it changes something; remember
    what it asks. with_lock(command): takes the host's deploy lock and runs the command
    (the first batch) in the same round trip, its output lines, or None when it did not
    run it (lock.hold_deploy_lock's `then`)."""
    host: Host = ctx_host.get()
    state = host.state
    _, global_kwargs = _handle_fact_kwargs(state, host, FactBase, None, {})
    executor = _executor(global_kwargs)
    batches: list[list[Asked]] = [[]]
    recorded, kept = _read_record(host)
    fingerprinted = Fingerprinted(kept)
    facts = []
    for key in recorded:
        try:
            name, fact_kwargs = json.loads(key)
        except (ValueError, TypeError):
            continue
        cls = _fact_class(name)
        if cls is not None and _key(cls, fact_kwargs) == key:
            facts.append((key, cls, fact_kwargs))
    for entry in _entries(facts, kept):
        if sum(len(other.command) for other in batches[-1]) + len(entry.command) > BATCH_CHARS:
            batches.append([])
        batches[-1].append(entry)
    answers: dict[str, object] = {}
    with_the_lock = 0
    if with_lock is not None:
        nonce = secrets.token_hex(8)
        output = with_lock(_script(batches[0], nonce) if batches[0] else None)
        if output is not None:
            with_the_lock = sum(len(entry.fact.keys) if isinstance(entry.fact, Gathered) else 1 for entry in batches[0])
            answers.update(_parsed(batches.pop(0), nonce, output, fingerprinted))
    for batch in batches:
        if batch:
            answers.update(_answers(host, batch, executor, fingerprinted))
    if state.print_fact_info and recorded:
        commands = sum(1 for batch in batches if batch)
        logger.info(
            f"{host.print_prefix}{len(answers)} of {len(recorded)} facts read at once:"
            f" {with_the_lock} with the deploy lock, the rest in {commands} command(s);"
            f" {len(fingerprinted.unchanged)} unchanged by their fingerprints"
        )
    asked: list[str] = []
    # Until an operation runs a command or uploads a file, the host is as the batch saw it.
    moment = {"reading": False, "changed": False}
    read_alone, run_alone, put_alone = host.get_fact, host.run_shell_command, host.put_file

    def run_shell_command(*args, **kwargs):
        moment["changed"] = moment["changed"] or not moment["reading"]
        return run_alone(*args, **kwargs)

    def put_file(*args, **kwargs):
        moment["changed"] = True
        return put_alone(*args, **kwargs)

    def alone(cls, *args, **kwargs):
        moment["reading"] = True
        try:
            return read_alone(cls, *args, **kwargs)
        finally:
            moment["reading"] = False

    def get_fact(cls, *args, **kwargs):
        if moment["changed"] or not isinstance(cls, type):
            return alone(cls, *args, **kwargs)
        try:
            fact_kwargs, fact_globals = _handle_fact_kwargs(state, host, cls, args, kwargs)
        except TypeError:  # arguments the fact does not take: pyinfra says so
            return alone(cls, *args, **kwargs)
        key = _key(cls, fact_kwargs)
        if key is None or _executor(fact_globals) != executor:
            return alone(cls, *args, **kwargs)
        if key not in asked:
            asked.append(key)
        if key in answers:
            logger.debug(f"{host.print_prefix}Loaded fact {cls.__name__} ({fact_kwargs}) from the batch")
            return answers[key]
        return alone(cls, *args, **kwargs)

    host.get_fact, host.run_shell_command, host.put_file = get_fact, run_shell_command, put_file
    host._apache_wsgi_deploy_facts_asked = (asked, recorded, fingerprinted)


def remember(host: Host) -> None:
    """As the host's run ends: keep the facts it asked for before anything changed, and
    what its fingerprinted facts read, for its next run."""
    asked, recorded, fingerprinted = getattr(host, "_apache_wsgi_deploy_facts_asked", (None, None, None))
    if asked is None:
        return
    kept, read = fingerprinted.kept, fingerprinted.read
    keeping = {key: entry for key in asked if (entry := read[key] if key in read else kept.get(key)) is not None}
    if asked == recorded and keeping == kept:
        return
    path = _record(host)
    # Kept outputs say what the host runs with: readable by the owner alone.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = path.with_suffix(".json.new")
    descriptor = os.open(written, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as opened:
        opened.write(json.dumps({"facts": asked, "kept": keeping}, indent=1) + "\n")
    written.replace(path)
