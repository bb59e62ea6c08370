"""apache-wsgi-deploy: a WSGI app behind Apache with mod_wsgi on Debian, with pyinfra."""

import importlib
import importlib.util
import sys
import types
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("apache-wsgi-deploy")
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"


class _ImportedWhenFirstUsed(types.ModuleType):
    """Stands in sys.modules for a module until one of its attributes is read, then
    imports it. (The standard library's LazyLoader imports as soon as an `import`
    statement reads the module's __spec__.)"""

    def __getattr__(self, attribute: str):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attribute)


def _imported_when_first_used(name: str) -> None:
    if name in sys.modules or (spec := importlib.util.find_spec(name)) is None:
        return
    stand_in = _ImportedWhenFirstUsed(name)
    stand_in.__spec__ = spec
    sys.modules[name] = stand_in


# paramiko imports invoke (with unittest.mock and a vendored YAML) for ssh_config's
# `Match exec` alone, which pyinfra runs without it: about 20 ms of every awd command.
_imported_when_first_used("invoke")
