"""Facts about where Debian's packages put their files."""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase


class Diversion(FactBase[str | None]):
    """
    Returns the name a package's file is diverted to (dpkg-divert), or None when dpkg
    puts it where the package has it.

    .. code:: python

        "/etc/logrotate.d/apache2.disabled"
    """

    @staticmethod
    def command(path: str) -> str:
        quoted = shlex.quote(path)
        return f'diverted=$(dpkg-divert --truename {quoted}) && [ "$diverted" = {quoted} ] || echo "$diverted"'

    @staticmethod
    def default() -> None:
        return None

    @staticmethod
    def process(output: list[str]) -> str | None:
        return output[0] if output else None
