"""
pyinfra 3 asks a host again for every fact each operation reads. A fact several of our
operations read (ApacheLinks: every module, site and conf operation) is asked once and
asked again only after a command has run on the host since, the only way its answer
can have changed during the run; a fact no command of a deploy changes (the host's CPUs,
memory and limits) is asked once a run.
"""

from __future__ import annotations

from typing import Any

from pyinfra.api.host import Host
from pyinfra.context import ctx_host

# The answers live on the host object itself (not on pyinfra's `host`, a proxy shared by
# every host of the run), so they end with it and no other host can read them.
ANSWERS = "_apache_wsgi_deploy_fact_answers"


def _moment(host: Host) -> tuple:
    """Changes only when the run moves on (prepare to execute) or the host runs a command."""
    state = host.state
    operations = state.ops[host].values()
    return (state.current_stage, sum(1 for operation in operations if operation.operation_meta.executed))


def cached_fact(fact: type, **kwargs) -> Any:
    """host.get_fact(fact, **kwargs) for the current host, asked only when it may have changed."""
    host = ctx_host.get()
    key = (fact, tuple(sorted(kwargs.items())))
    moment = _moment(host)
    answers = vars(host).setdefault(ANSWERS, {})
    if key in answers and answers[key][0] == moment:
        return answers[key][1]
    value = host.get_fact(fact, **kwargs)
    answers[key] = (moment, value)
    return value


def fixed_fact(fact: type, **kwargs) -> Any:
    """host.get_fact(fact, **kwargs) for the current host, asked once: for a fact the
    deploy's commands never change, from planning to the last operation."""
    host = ctx_host.get()
    key = (fact, tuple(sorted(kwargs.items())))
    answers = vars(host).setdefault(ANSWERS, {})
    if key not in answers:
        answers[key] = (None, host.get_fact(fact, **kwargs))
    return answers[key][1]
