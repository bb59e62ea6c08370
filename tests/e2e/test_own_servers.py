"""
A user's own servers: an inventory of plain pyinfra SSH settings (no generated ssh
config), deployed to and verified with --inventory, as README.md tells users to.
"""

from apache_wsgi_deploy import testhost
from apache_wsgi_deploy.testhost.fleet import CLIENT_KEY


def test_inventory_of_plain_ssh_settings_deploys_and_verifies(deployed, tmp_path):
    test_host = deployed.hosts[0]
    _, data = test_host.inventory_entry()
    del data["ssh_config_file"]
    data.update(ssh_port=test_host.ssh_port, ssh_user="deploy", ssh_key=str(CLIENT_KEY))
    inventory = tmp_path / "production.py"
    inventory.write_text(f"web_servers = [('127.0.0.1', {data!r})]\n")

    result = deployed.deploy(inventory=str(inventory))
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.changed == []

    verify = deployed.verify(f"--inventory={inventory}", "-v")
    assert verify.returncode == 0, verify.stdout[-6000:]
    assert "test_apache_config_on_disk_passes_configtest[127.0.0.1] PASSED" in verify.stdout
    assert testhost.ca_bundle().exists()
