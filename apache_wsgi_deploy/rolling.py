"""
Rolling deploys (`awd deploy --canary N --batch M --max-failed K`): the first N hosts
first, then M at a time, each host's sites probed over HTTPS from the control machine as
soon as its run ends; once K hosts failed (their run, or the probe), no further batch
starts, and the hosts left are not touched.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from apache_wsgi_deploy import project
from apache_wsgi_deploy.settings import Settings


@dataclass(frozen=True)
class Rollout:
    """canary: hosts deployed first, on their own; batch: hosts at a time after them (None:
    all the rest at once); max_failed: failed hosts that stop the run before its next stage."""

    canary: int = 0
    batch: int | None = None
    max_failed: int | None = None

    @property
    def rolling(self) -> bool:
        return bool(self.canary or self.batch or self.max_failed)

    def stages(self, hosts: list[str]) -> list[list[str]]:
        """The hosts in the order their stages run, inventory order within."""
        if not self.rolling:
            return [hosts]
        rest = hosts[self.canary :]
        size = self.batch or len(rest) or 1
        return [
            stage for stage in [hosts[: self.canary], *(rest[i : i + size] for i in range(0, len(rest), size))] if stage
        ]

    def stopped(self, failed: int) -> bool:
        """Whether `failed` failed hosts stop the run before its next stage."""
        return self.rolling and failed >= (self.max_failed or 1)


def probe_failures(settings: Settings) -> list[str]:
    """Why a host's sites do not answer their health check path over HTTPS from here, as
    the verification suite reaches them (verify_address, verify_https_port,
    verify_ca_bundle); the redirects within a site followed, an answer below 400 passes.
    A self-signed certificate is not checked: nothing here holds it."""
    # Here, not at the top: the runner imports this module before gevent patches ssl.
    import requests
    from urllib3.exceptions import InsecureRequestWarning

    from apache_wsgi_deploy.probe import UNVERIFIED, Probe

    problems = []
    for site in settings.present_sites:
        ca_bundle = settings.verify_ca_bundle
        if ca_bundle is not None:
            probe = Probe.for_settings(settings, str(project.path(ca_bundle)))
        elif site.tls_certificate_source == "selfsigned":
            probe = Probe.for_settings(settings, UNVERIFIED)
        else:
            probe = Probe.for_settings(settings, None)
        url = f"https://{site.server_name}{site.health_check_path}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InsecureRequestWarning)
                answer = probe.get_within_site(site.server_name, site.server_name, site.health_check_path)
        except requests.RequestException as error:
            problems.append(f"GET {url} from here failed: {type(error).__name__}")
            continue
        if answer.status >= 400:
            problems.append(f"GET {url} from here answered {answer.status}")
    return problems
