"""apache-wsgi-deploy: a WSGI app behind Apache with mod_wsgi on Debian, with pyinfra."""

from importlib.metadata import PackageNotFoundError, version

from apache_wsgi_deploy import startup

try:
    __version__ = version("apache-wsgi-deploy")
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"


# paramiko imports invoke (with unittest.mock and a vendored YAML) for ssh_config's
# `Match exec` alone, which pyinfra runs without it.
startup.imported_when_first_used("invoke")
