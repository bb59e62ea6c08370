"""
One inventory loader for every command: what it reads of an inventory file and its
group_data, checked against pyinfra's own command line loading the same project, and the
hosts `--limit` and `--exclude` pick.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from apache_wsgi_deploy.hosts import SelectionError, load_inventory, selected

INVENTORY = """
from os import environ

web_servers = [("web1", {"hsts_max_age": 0, "ssh_port": 2222}), "web2"]
staging = (["web3", ("web1", {})], {"log_level": "info"})
_private = ["not-a-host"]
"""

PROJECT_ALL = """
import json

wsgi_processes = 3
log_level = "notice"
"""

PROJECT_WEB = """
server_name = "project.example.com"
hsts_max_age = 63072000
"""

BESIDE_WEB = """
from json import dumps as _dumps

__all__ = ["server_name", "from_inventory"]
from pyinfra import inventory as _inventory

server_name = "beside.example.com"
from_inventory = len(_inventory.get_group("web_servers"))
ignored = True
"""

# pyinfra's command line loading the same files: the reference this loader follows.
PYINFRA_CLI = """
import json, sys
from pyinfra.api import State
from pyinfra.context import ctx_state
from pyinfra_cli.inventory import make_inventory

with ctx_state.use(State()):
    inventory = make_inventory(sys.argv[1], cwd=sys.argv[2], override_data={"wsgi_threads": 4})
print(json.dumps({host.name: [host.data.dict(), sorted(host.groups)] for host in inventory}))
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "group_data").mkdir()
    (tmp_path / "group_data" / "all.py").write_text(textwrap.dedent(PROJECT_ALL))
    (tmp_path / "group_data" / "web_servers.py").write_text(textwrap.dedent(PROJECT_WEB))
    beside = tmp_path / "inventories"
    (beside / "group_data").mkdir(parents=True)
    (beside / "group_data" / "web_servers.py").write_text(textwrap.dedent(BESIDE_WEB))
    (beside / "production.py").write_text(textwrap.dedent(INVENTORY))
    monkeypatch.chdir(tmp_path)
    return beside / "production.py"


def test_hosts_data_and_groups_are_what_pyinfras_command_line_reads(project, tmp_path):
    ours = {
        host.name: [host.data.dict(), sorted(host.groups)]
        for host in load_inventory(str(project), override_data={"wsgi_threads": 4})
    }
    theirs = subprocess.run(
        [sys.executable, "-c", PYINFRA_CLI, str(project), str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert ours == json.loads(theirs.stdout)
    web1 = ours["web1"][0]
    # Host data over its groups' (the folder beside the inventory over the project's), over all.py.
    assert (web1["hsts_max_age"], web1["server_name"], web1["log_level"]) == (0, "beside.example.com", "info")
    assert (web1["wsgi_processes"], web1["wsgi_threads"], web1["from_inventory"]) == (3, 4, 2)
    assert "ignored" not in web1 and "json" not in ours["web3"][0]
    assert ours["web1"][1] == ["production", "staging", "web_servers"]


def test_a_list_of_hosts_is_an_inventory_too():
    assert [host.name for host in load_inventory("@local")] == ["@local"]
    assert [host.name for host in load_inventory("web1.example.com,web2.example.com")] == [
        "web1.example.com",
        "web2.example.com",
    ]


def test_an_inventory_that_cannot_be_read_says_so(tmp_path):
    with pytest.raises(SelectionError, match="^no inventory file missing.py$"):
        load_inventory("missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("web_servers = [undefined_name]\n")
    with pytest.raises(SelectionError, match="cannot read the inventory .*broken.py: name 'undefined_name'"):
        load_inventory(str(broken))


def test_limit_and_exclude_pick_hosts_and_groups_as_pyinfra_does(tmp_path):
    inventory = tmp_path / "inventory.py"
    data = "{'acme_agree_tos': True}"
    inventory.write_text(f"web_servers = [('web1', {data}), ('web2', {data})]\nstaging = [('web3', {data})]\n")

    def picked(limit=None, exclude=None) -> list[str]:
        return selected(str(inventory), limit, exclude, deploys=False).names

    assert picked() == ["web1", "web2", "web3"]
    assert picked(limit=["web_servers"], exclude=["web2"]) == ["web1"]
    assert picked(limit=["web*", "staging"]) == ["web1", "web2", "web3"]


def test_data_given_for_the_run_is_over_every_hosts_own(tmp_path):
    inventory = tmp_path / "inventory.py"
    inventory.write_text("web_servers = [('web1', {'acme_agree_tos': True, 'wsgi_processes': 2})]\n")
    selection = selected(str(inventory), deploys=False, override_data={"wsgi_processes": 5})
    assert selection.data["web1"]["wsgi_processes"] == 5
    assert selection.settings["web1"].sites[0].wsgi_processes == 5
    assert selection.groups["web1"] == ["web_servers", "inventory"]
