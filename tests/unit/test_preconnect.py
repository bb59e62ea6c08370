"""
A lone first host's connection opened ahead: where paramiko would connect, as pyinfra
reads the host's data and ssh_config; the greeting sent once, never twice; every other
host's connection closed in a host's process; and a connection that failed left to
paramiko, which then says why.
"""

import contextlib
import socket
import time

import pytest

from apache_wsgi_deploy import preconnect
from apache_wsgi_deploy.runner import RunHost


@pytest.fixture
def server():
    listening = socket.create_server(("127.0.0.1", 0))
    listening.settimeout(5)
    yield listening
    listening.close()
    preconnect.close_all()


def port_of(server) -> int:
    return server.getsockname()[1]


def refused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.create_server(("127.0.0.1", 0)) as bound:
        return bound.getsockname()[1]


@pytest.mark.parametrize(
    ("name", "data", "where"),
    [
        ("web1", {}, ("web1", 22)),
        ("web1", {"ssh_hostname": "10.0.0.5", "ssh_port": 2222}, ("10.0.0.5", 2222)),
        ("web1", {"ssh_paramiko_connect_kwargs": {"port": 2200}, "ssh_port": 2222}, ("web1", 2200)),
        ("@local", {}, None),
        ("@docker/web", {}, None),
        ("web1", {"ssh_connect_retries": 2}, None),
        ("web1", {"ssh_paramiko_connect_kwargs": {"sock": object()}}, None),
    ],
)
def test_the_destination_is_where_pyinfra_would_connect(name, data, where):
    assert preconnect.destination(name, data) == where


def test_ssh_config_names_the_address_and_the_data_port_wins(tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text("Host web1\n  HostName 192.0.2.7\n  Port 2022\n\nHost jumped\n  ProxyJump bastion\n")
    assert preconnect.destination("web1", {"ssh_config_file": str(config)}) == ("192.0.2.7", 2022)
    assert preconnect.destination("web1", {"ssh_config_file": str(config), "ssh_port": 22}) == ("192.0.2.7", 22)
    assert preconnect.destination("jumped", {"ssh_config_file": str(config)}) is None
    proxied = tmp_path / "ssh_config_proxied"
    proxied.write_text("Host *\n  ProxyCommand nc %h %p\n")
    assert preconnect.destination("web1", {"ssh_config_file": str(proxied)}) is None


def lone(port: int, name: str = "web1") -> list[RunHost]:
    return [RunHost(name, {"ssh_hostname": "127.0.0.1", "ssh_port": port})]


def test_a_lone_first_host_is_greeted_once_ahead_of_paramiko(server):
    preconnect.open_first(lone(port_of(server)))
    accepted, _ = server.accept()
    accepted.settimeout(5)
    preconnect.greet()
    greeting = preconnect.greeting()
    assert greeting.startswith(b"SSH-2.0-paramiko")
    assert accepted.recv(1024) == greeting

    connected = preconnect.take("web1")
    # paramiko's own greeting is taken as sent; what follows goes out.
    assert connected.send(greeting) == len(greeting)
    connected.sendall(b"key exchange")
    assert accepted.recv(1024) == b"key exchange"
    connected.close()
    accepted.close()


def test_a_first_send_that_is_not_the_greeting_is_refused(server):
    preconnect.open_first(lone(port_of(server)))
    accepted, _ = server.accept()
    preconnect.greet()
    with pytest.raises(ConnectionError, match="greeting"):
        preconnect.take("web1").send(b"SSH-2.0-other\r\n")
    accepted.close()


def test_hosts_that_do_not_start_alone_are_left_to_paramiko(server):
    both = lone(port_of(server), "web1") + lone(port_of(server), "web2")
    preconnect.open_first(both)
    assert preconnect.take("web1") is None


def test_a_refused_connection_is_left_to_paramiko():
    preconnect.open_first(lone(refused_port()))
    assert preconnect.take("web1") is None


def test_a_connection_not_up_in_time_is_left_to_paramiko(monkeypatch):
    """A socket that cannot be written to (its buffer full) stands for a connection whose
    TCP handshake is not answered: paramiko then tries with pyinfra's own timeout."""
    monkeypatch.setattr(preconnect, "PATIENCE_S", 0.2)
    stalled, peer = socket.socketpair()
    stalled.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:
            stalled.send(b"x" * 65536)
    preconnect._opened["web1"] = preconnect._Opening(stalled, time.monotonic())
    started = time.monotonic()
    assert preconnect.take("web1") is None
    assert time.monotonic() - started < 5
    assert stalled.fileno() == -1
    peer.close()


def test_a_hosts_process_closes_every_other_hosts_connection(server):
    preconnect.open_first(lone(port_of(server), "web1"))
    first, _ = server.accept()
    preconnect.open_first(lone(port_of(server), "web2"))
    second, _ = server.accept()
    second.settimeout(5)
    preconnect.greet()
    assert preconnect.take("web1") is not None
    second.recv(1024)  # its greeting, then the end of the connection
    assert second.recv(1024) == b""
    first.close()
    second.close()
