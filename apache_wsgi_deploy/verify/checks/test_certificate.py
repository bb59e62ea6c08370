"""The certificate each host serves: its key, every name, time left, and its renewal."""

from apache_wsgi_deploy import layout
from apache_wsgi_deploy.facts.tls import certificate_fields


def on_disk(site) -> dict:
    path = site.paths.certificate_path
    return certificate_fields(
        site.host.check_output("openssl x509 -in %s -noout -serial -ext subjectAltName", path).splitlines()
    )


def test_certificate_matches_its_key(site):
    certificate_key = site.host.check_output("openssl x509 -in %s -noout -pubkey", site.paths.certificate_path)
    private_key = site.host.check_output("openssl pkey -in %s -pubout", site.paths.key_path)
    assert certificate_key == private_key


def test_certificate_covers_the_name(site, site_name):
    assert site_name in on_disk(site)["names"]


def test_certificate_stays_valid_long_enough(site):
    days = site.settings.verify_certificate_min_days
    check = site.host.run(
        "openssl x509 -in %s -noout -enddate -checkend %s", site.paths.certificate_path, str(days * 86400)
    )
    assert check.rc == 0, f"{check.stdout.strip()}: fewer than {days} days left"


def test_served_certificate_is_the_one_on_disk(site, site_name):
    """A renewed certificate that Apache was not reloaded for fails here."""
    served = site.probe.served_certificate(site_name)
    assert f"{served.serial_number:X}" == on_disk(site)["serial"].lstrip("0")


def test_renewal_timer_is_active(acme_target):
    timer = acme_target.host.service(layout.CERTBOT_TIMER)
    assert timer.is_running
    assert timer.is_enabled


def test_renewal_reloads_apache(acme_target):
    hook = acme_target.host.file(layout.RENEWAL_HOOK)
    assert (hook.user, hook.mode) == ("root", 0o755)
    assert layout.RELOAD_TOOL in hook.content_string
