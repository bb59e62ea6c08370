"""
The servers `awd deploy` (or `pyinfra inventory.py deploy.py`) deploys. The settings in
group_data/web_servers.py apply to every host of `web_servers`; a host's own data
overrides them.
"""

# Your servers: "host" or ("host", {host data}). The SSH user needs passwordless sudo;
# root login can stay refused. Any of pyinfra's SSH settings work (ssh_port, ssh_key...):
#   ("web1.example.com", {"ssh_user": "deploy", "_sudo": True, "server_name": "www.example.com"}),
web_servers = []

if not web_servers:
    # Until a server is listed: the local test hosts `awd testhost up` started in this folder.
    from apache_wsgi_deploy.testhost import load

    web_servers = [test_host.inventory_entry() for test_host in load()]
