"""A TLS scan of every host (sslyze) against Mozilla's intermediate profile. HSTS, which
sslyze's profile check leaves out, is test_http's."""


def test_tls_meets_mozilla_intermediate_profile(site):
    issues = site.probe.mozilla_intermediate_issues(site.site.server_name)
    assert not issues, "\n".join(f"{check}: {problem}" for check, problem in sorted(issues.items()))
