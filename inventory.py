"""
Who the deploy and the verification suite target: `awd deploy` (`./run.sh deploy`), or
`pyinfra inventory.py deploy.py`.

Put your servers in `web_servers` (settings in group_data/web_servers.py apply to them).
While it is empty, both target the local throwaway test hosts that `./run.sh deploy`
(or `awd testhost up`) starts; AWD_TESTHOST_FLEET names which fleet ("" for none).
"""

import os
import sys

# Your servers: "host" or ("host", {host data}); host data overrides group_data. E.g. an
# SSH user with passwordless sudo (root login is best refused on the server):
#   ("web1.example.com", {"ssh_user": "deploy", "_sudo": True, "server_name": "www.example.com"}),
web_servers = []

if not web_servers and os.environ.get("AWD_TESTHOST_FLEET") != "":
    from apache_wsgi_deploy import testhost

    web_servers = [test_host.inventory_entry() for test_host in testhost.load()]
    print(
        f"inventory.py: no hosts configured; targeting local test hosts of fleet {testhost.DEFAULT_FLEET!r}: "
        + (", ".join(name for name, _ in web_servers) or "none is up (run ./run.sh deploy)"),
        file=sys.stderr,
    )
