"""The certificate each host serves: its key, every name, time left, and its renewal."""

from apache_wsgi_deploy.deploys import RENEWAL_HOOK
from apache_wsgi_deploy.facts.tls import certificate_fields


def on_disk(target) -> dict:
    path = target.settings.certificate_path
    return certificate_fields(
        target.host.check_output("openssl x509 -in %s -noout -serial -ext subjectAltName", path).splitlines()
    )


def test_certificate_matches_its_key(target):
    settings = target.settings
    certificate_key = target.host.check_output("openssl x509 -in %s -noout -pubkey", settings.certificate_path)
    private_key = target.host.check_output("openssl pkey -in %s -pubout", settings.key_path)
    assert certificate_key == private_key


def test_certificate_covers_the_name(target, site_name):
    assert site_name in on_disk(target)["names"]


def test_certificate_stays_valid_long_enough(target):
    days = target.settings.verify_certificate_min_days
    check = target.host.run("openssl x509 -in %s -noout -enddate -checkend %s", target.settings.certificate_path,
                            str(days * 86400))
    assert check.rc == 0, f"{check.stdout.strip()}: fewer than {days} days left"


def test_served_certificate_is_the_one_on_disk(target, site_name):
    """A renewed certificate that Apache was not reloaded for fails here."""
    served = target.probe.served_certificate(site_name)
    assert f"{served.serial_number:X}" == on_disk(target)["serial"].lstrip("0")


def test_renewal_timer_is_active(acme_target):
    timer = acme_target.host.service("certbot.timer")
    assert timer.is_running
    assert timer.is_enabled


def test_renewal_reloads_apache(acme_target):
    hook = acme_target.host.file(RENEWAL_HOOK)
    assert (hook.user, hook.mode) == ("root", 0o755)
    assert "systemctl reload apache2.service" in hook.content_string
