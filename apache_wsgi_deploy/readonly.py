"""
Whether this process's runs only read the hosts: the runner's dry runs (`awd check`,
`awd status`) say so before their first host. Such a run takes the deploy lock shared,
and what the control machine cannot read here (an app_env value or a secret file kept
elsewhere) is taken as the host's live release has it rather than refused.

Nothing says so under pyinfra's own command line: a `--dry` run there is held to a
deploy's rules (the lock alone, every secret read), which is never wrong, only stricter.
"""

from __future__ import annotations

_declared = False


def declare() -> None:
    """This process's runs only read the hosts."""
    global _declared
    _declared = True


def declared() -> bool:
    return _declared
