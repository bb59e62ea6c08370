import sys

from apache_wsgi_deploy.cli import main

sys.exit(main())
