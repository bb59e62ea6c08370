"""
The whole server: `awd deploy`, or `pyinfra inventory.py deploy.py`.

Operations of your own go before or after whole_server() (a package the app needs, a
firewall rule); pyinfra's global arguments apply to it as to any deploy.
"""

from apache_wsgi_deploy.deploys import whole_server

whole_server()
