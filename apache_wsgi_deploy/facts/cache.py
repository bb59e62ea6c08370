"""
pyinfra 3 asks a host again for every fact each operation reads. A fact several of our
operations read (ApacheLinks: every module, site and conf operation) is asked once and
asked again only after a command has run on the host since, the only way its answer
can have changed during the run.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from pyinfra.api.host import Host

_answers: WeakKeyDictionary[Host, dict[tuple, tuple[tuple, Any]]] = WeakKeyDictionary()


def _moment(host: Host) -> tuple:
    """Changes only when the run moves on (prepare to execute) or the host runs a command."""
    state = host.state
    operations = state.ops[host].values()
    return (state.current_stage, sum(1 for operation in operations if operation.operation_meta.executed))


def cached_fact(host: Host, fact: type, **kwargs) -> Any:
    """host.get_fact(fact, **kwargs), asked on the host only when it may have changed."""
    key = (fact, tuple(sorted(kwargs.items())))
    moment = _moment(host)
    answers = _answers.setdefault(host, {})
    if key in answers and answers[key][0] == moment:
        return answers[key][1]
    value = host.get_fact(fact, **kwargs)
    answers[key] = (moment, value)
    return value
