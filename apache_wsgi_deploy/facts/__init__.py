"""Facts of our own, each one question answered by one command on the host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def answer(fact_class: type, run: Callable[[str], str], **arguments) -> Any:
    """A fact's answer through another way of running a command on the host (testinfra's
    check_output, a test host's shell): the verification suite and the benchmark read the
    host exactly as the deploy does."""
    fact = fact_class()
    return fact.process(run(fact.command(**arguments)).splitlines())
