"""apache-wsgi-deploy: a WSGI app behind Apache with mod_wsgi on Debian, with pyinfra."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("apache-wsgi-deploy")
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"
