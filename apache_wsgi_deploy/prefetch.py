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
"""

from __future__ import annotations

import importlib
import json
import re
import secrets
from pathlib import Path

from pyinfra import logger
from pyinfra.api import StringCommand
from pyinfra.api.arguments import CONNECTOR_ARGUMENT_KEYS
from pyinfra.api.exceptions import FactProcessError
from pyinfra.api.facts import FactBase, ShortFactBase, _handle_fact_kwargs, _make_command
from pyinfra.api.host import Host
from pyinfra.context import ctx_host

from apache_wsgi_deploy import project

# pyinfra's own marker (api/facts.py) for a fact whose requires_command is missing.
MISSING_COMMAND = "##PYINFRA_NOCMD##"
# One `sh -c` argument holds at most 128 KiB (MAX_ARG_STRLEN): a batch stays below.
BATCH_CHARS = 100_000


def _record(host: Host) -> Path:
    return project.path(project.CACHE_DIR) / "facts" / f"{host.name}.json"


def _key(cls: type, fact_kwargs: dict) -> str | None:
    """The fact and its arguments as a string, or None for a fact that cannot be batched."""
    if issubclass(cls, ShortFactBase) or cls.check_preconditions is not FactBase.check_preconditions:
        return None
    if cls.shell_executable:
        return None
    # getcallargs names the fact's own instance too, for a command that is a method.
    arguments = {name: value for name, value in fact_kwargs.items() if name != "self"}
    try:
        return json.dumps([f"{cls.__module__}:{cls.__qualname__}", arguments], sort_keys=True)
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


def _script(batch: list[tuple[str, FactBase, str]], nonce: str) -> str:
    """sh: every command of the batch at once (each only reads, and the lock is held),
    each writing its output between the nonce's lines, the last with its exit status,
    into a file of its own; then all of them in order, by one cat."""
    started = "\n".join(
        f'{{ echo {nonce}:{index}; (\n{command}\n) 2>/dev/null; echo {nonce}:{index}:$?; }} >"$d/{index}" &'
        for index, (_, _, command) in enumerate(batch)
    )
    told = " ".join(f'"$d/{index}"' for index in range(len(batch)))
    return f"d=$(mktemp -d) || exit 1\ntrap 'rm -rf \"$d\"' EXIT\n{started}\nwait\ncat {told}"


def _parsed(batch: list[tuple[str, FactBase, str]], nonce: str, output: list[str]) -> dict[str, object]:
    """Each fact's processed answer from the batch's output, for those whose command succeeded."""
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
        key, fact, _ = batch[current]
        if ended.group(3) == "0":
            try:
                if lines == [MISSING_COMMAND]:
                    answers[key] = fact.default()
                else:
                    answers[key] = fact.process(lines) if lines else fact.default()
            except FactProcessError:
                pass  # read alone, where pyinfra reports it
        current = None
    return answers


def _answers(host: Host, batch: list[tuple[str, FactBase, str]], executor: dict) -> dict[str, object]:
    """Run a batch of fact commands in one command; each fact's processed answer, for
    those whose command succeeded."""
    nonce = secrets.token_hex(8)
    try:
        succeeded, output = host.run_shell_command(StringCommand(_script(batch, nonce)), **executor)
    except Exception as error:  # the facts are then read one by one, which says what failed
        logger.debug(f"{host.print_prefix}facts batch failed: {error}")
        return {}
    return _parsed(batch, nonce, output.stdout_lines) if succeeded else {}


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
    batches: list[list] = [[]]
    try:
        recorded = json.loads(_record(host).read_text())
    except (OSError, ValueError):
        recorded = []
    for key in recorded if isinstance(recorded, list) else []:
        try:
            name, fact_kwargs = json.loads(key)
        except (ValueError, TypeError):
            continue
        cls = _fact_class(name)
        if cls is None or _key(cls, fact_kwargs) != key:
            continue
        fact = cls()
        try:
            command = _command(fact, fact_kwargs)
        except Exception:  # a fact whose arguments changed shape: read alone
            continue
        if sum(len(entry[2]) for entry in batches[-1]) + len(command) > BATCH_CHARS:
            batches.append([])
        batches[-1].append((key, fact, command))
    answers: dict[str, object] = {}
    with_the_lock = 0
    if with_lock is not None:
        nonce = secrets.token_hex(8)
        output = with_lock(_script(batches[0], nonce) if batches[0] else None)
        if output is not None:
            with_the_lock = len(batches[0])
            answers.update(_parsed(batches.pop(0), nonce, output))
    for batch in batches:
        if batch:
            answers.update(_answers(host, batch, executor))
    if state.print_fact_info and recorded:
        commands = sum(1 for batch in batches if batch)
        logger.info(
            f"{host.print_prefix}{len(answers)} of {len(recorded)} facts read at once:"
            f" {with_the_lock} with the deploy lock, the rest in {commands} command(s)"
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
    host._apache_wsgi_deploy_facts_asked = (asked, recorded)


def remember(host: Host) -> None:
    """As the host's run ends: keep the facts it asked for before anything changed, for
    its next run."""
    asked, recorded = getattr(host, "_apache_wsgi_deploy_facts_asked", (None, None))
    if asked is None or asked == recorded:
        return
    path = _record(host)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = path.with_suffix(".json.new")
    kept.write_text(json.dumps(asked, indent=1) + "\n")
    kept.replace(path)
