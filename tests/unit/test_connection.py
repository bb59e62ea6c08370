"""Our SSH connections send each packet at once (TCP_NODELAY), where there is a socket to set it on."""

import socket
from types import SimpleNamespace

from pyinfra.connectors.ssh import SSHConnector

from apache_wsgi_deploy.connection import disable_nagle


def host_with_transport_socket(sock) -> SimpleNamespace:
    connector = SSHConnector.__new__(SSHConnector)
    connector.client = SimpleNamespace(get_transport=lambda: SimpleNamespace(sock=sock))
    return SimpleNamespace(connector=connector)


def test_nagle_is_disabled_on_the_ssh_socket():
    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname()) as sock:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        disable_nagle(host_with_transport_socket(sock))
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_a_proxy_command_channel_and_other_connectors_are_left_alone():
    disable_nagle(host_with_transport_socket(SimpleNamespace()))  # a ProxyCommand has no setsockopt
    disable_nagle(SimpleNamespace(connector=SimpleNamespace()))  # @local, @docker...
