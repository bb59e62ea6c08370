import sys

from apache_wsgi_deploy.cli import command

sys.exit(command())
