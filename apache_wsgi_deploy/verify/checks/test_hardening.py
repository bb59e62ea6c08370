"""Server-wide hardening, observed on the running server: headers, methods, limits, users."""

import socket
import ssl

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.facts import answer
from apache_wsgi_deploy.facts.accounts import Identity
from apache_wsgi_deploy.operations.accounts import privileges


def raw_https(front, request: bytes) -> bytes:
    """Send request bytes as they are over TLS (SNI and certificate checked) and read the answer."""
    probe = front.probe
    name = front.site.server_name
    context = ssl.create_default_context(cafile=probe.ca_bundle)
    with socket.create_connection((probe.address or name, probe.https_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(request)
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
    return answer


def test_server_header_says_only_what_server_tokens_allows(front):
    server = front.probe.get("https", front.site.server_name, "/").headers["Server"]
    if front.settings.server_tokens == "Prod":
        assert server == "Apache"
    else:
        assert server.startswith("Apache/")


def test_trace_is_refused_without_a_signature(front):
    name = front.site.server_name
    answer = raw_https(front, f"TRACE / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
    status = answer.split(b"\r\n", 1)[0]
    if front.settings.trace_enable == "Off":
        assert status.endswith(b" 405 Method Not Allowed")
    if front.settings.server_signature == "Off":
        assert b"<address>" not in answer


def test_request_body_over_the_limit_is_refused_before_the_app(front):
    limit = front.settings.request_body_limit
    if limit == 0:
        return  # unlimited by configuration: nothing to refuse
    name = front.site.server_name
    # Only the headers: Apache refuses on the announced length, before reading a byte.
    answer = raw_https(
        front,
        f"POST / HTTP/1.1\r\nHost: {name}\r\nContent-Length: {limit + 1}\r\nConnection: close\r\n\r\n".encode(),
    )
    assert answer.split(b"\r\n", 1)[0].endswith(b" 413 Request Entity Too Large")


def test_daemon_user_has_no_login_shell(site):
    shell = site.host.user(site.site.wsgi_user).shell
    assert shell in layout.NO_LOGIN_SHELLS


def test_modules_no_site_needs_are_not_loaded(apache2ctl):
    loaded = apache2ctl("-M")
    assert [module for module in layout.UNUSED_MODULES if f" {module}_module " in loaded] == []


def test_daemon_user_and_group_have_no_privileges(site):
    """Not root, not gid 0, in no group that grants power, no sudo rights, not the SSH user."""
    user, group = site.site.wsgi_user, site.site.wsgi_group
    assert privileges(user, group, answer(Identity, site.host.check_output, user=user, group=group)) == []
