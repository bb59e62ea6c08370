"""
The whole server, declared: `pyinfra inventory.py deploy.py` (or `awd deploy`).

Apache with mod_wsgi in daemon mode serving each site's app over HTTPS, port 80
redirecting, and one configtested reload when anything Apache reads changed. A team's
own operations go before or after it.
"""

from apache_wsgi_deploy.deploys import whole_server

whole_server()
