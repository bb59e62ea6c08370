"""A TLS scan of every site (sslyze), once, against Mozilla's intermediate profile and
what the vhost declares. HSTS, which sslyze's profile check leaves out, is test_http's."""

from cryptography.x509.ocsp import OCSPCertStatus, OCSPResponseStatus
from sslyze import TlsResumptionSupportEnum

from apache_wsgi_deploy.probe import mozilla_intermediate_issues


def test_tls_meets_mozilla_intermediate_profile(site):
    issues = mozilla_intermediate_issues(site.tls_scan)
    assert not issues, "\n".join(f"{check}: {problem}" for check, problem in sorted(issues.items()))


def test_the_certificate_chain_is_sent_in_order_without_its_root(site):
    """Each certificate signed by the next, as clients build the path; the root is the
    client's own and only costs bytes in every handshake (a fullchain with the root
    appended, or the intermediate before the leaf's issuer)."""
    for deployment in site.tls_scan.scan_result.certificate_info.result.certificate_deployments:
        sent = [certificate.subject.rfc4514_string() for certificate in deployment.received_certificate_chain]
        assert deployment.received_chain_has_valid_order, f"the chain is sent out of order: {sent}"
        assert deployment.received_chain_contains_anchor_certificate is not True, f"the chain includes its root: {sent}"


def test_session_tickets_are_off(site):
    """SSLSessionTickets off, as the vhost declares: a ticket key Apache keeps for its
    whole life would let whoever steals it decrypt every recorded session (no forward
    secrecy)."""
    resumption = site.tls_scan.scan_result.session_resumption.result
    assert resumption.tls_ticket_resumption_result not in (
        TlsResumptionSupportEnum.FULLY_SUPPORTED,
        TlsResumptionSupportEnum.PARTIALLY_SUPPORTED,
    ), f"TLS session tickets resume sessions: {resumption.tls_ticket_resumption_result.name}"


def test_ocsp_stapling_is_as_declared(site):
    """A certificate that names an OCSP responder is sent with its CA's signed answer that
    it is good (SSLUseStapling: clients ask no one, and learn of a revocation); one that
    names none (Let's Encrypt's since 2025) has nothing to staple, and none is sent."""
    declared = site.target.stapling[site.site.app_name]
    for deployment in site.tls_scan.scan_result.certificate_info.result.certificate_deployments:
        response = deployment.ocsp_response
        if not declared:
            assert response is None, "an OCSP response is stapled, where the deploy declares no stapling"
            continue
        assert response is not None, (
            "no OCSP response is stapled: is the certificate's responder reachable from the host?"
        )
        assert response.response_status == OCSPResponseStatus.SUCCESSFUL, (
            f"the stapled OCSP response is {response.response_status.name}: Apache got no answer from the responder"
        )
        assert deployment.ocsp_response_is_trusted, "the stapled OCSP response is not signed by the certificate's CA"
        assert response.certificate_status == OCSPCertStatus.GOOD, f"stapled: {response.certificate_status.name}"
