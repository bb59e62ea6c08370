"""apache-wsgi-deploy: a WSGI app behind Apache with mod_wsgi on Debian, with pyinfra."""

from pathlib import Path

# The project folder on the control machine: settings name its files relative to it.
PROJECT = Path(__file__).resolve().parent.parent
