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


# dpkg's state of a package that is installed: wanted installed (or held), and installed
# without error, as pyinfra's DebPackages counts them.
INSTALLED_STATES = ("ii", "hi")


class InstalledPackages(FactBase[list[str]]):
    """
    Returns which of the packages dpkg has installed. pyinfra's ``DebPackages`` lists
    every installed package (about 170 lines on a test host) to answer the same question.

    + packages: Debian package names

    .. code:: python

        ["apache2", "python3-venv"]
    """

    @staticmethod
    def command(packages: list[str]) -> str:
        # An unknown package is left out (dpkg-query's status would say it failed), as is
        # every package where dpkg-query cannot run.
        names = " ".join(shlex.quote(package) for package in packages)
        return f"dpkg-query --show --showformat='${{db:Status-Abbrev}} ${{Package}}\\n' {names} 2>/dev/null || true"

    @staticmethod
    def process(output: list[str]) -> list[str]:
        installed = (line.split() for line in output)
        return sorted({fields[1] for fields in installed if len(fields) == 2 and fields[0] in INSTALLED_STATES})
