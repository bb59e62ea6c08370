"""
The certificate check run on the host before every reload: each enabled VirtualHost that
names a certificate must have its key, cover its names and not be expired. A graceful
reload with a key that is not its certificate's stops Apache, every site with it, and
`apache2ctl configtest` does not look. Standard library and openssl only.

    python3 tlscheck.py /etc/apache2/sites-enabled

Prints one line per problem (file, server name, what is wrong); exit status 1 if any.
"""

import subprocess
import sys
from pathlib import Path


def virtual_hosts(config: str) -> list[dict]:
    """Each <VirtualHost> block's names and certificate files."""
    hosts, current = [], None
    for raw in config.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        directive = words[0].lower()
        if directive.startswith("<virtualhost"):
            current = {"names": [], "certificate": None, "key": None}
        elif directive == "</virtualhost>" and current is not None:
            hosts.append(current)
            current = None
        elif current is not None and directive in ("servername", "serveralias"):
            current["names"] += words[1:]
        elif current is not None and directive == "sslcertificatefile" and len(words) > 1:
            current["certificate"] = words[1].strip('"')
        elif current is not None and directive == "sslcertificatekeyfile" and len(words) > 1:
            current["key"] = words[1].strip('"')
    return hosts


def _openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True)


def problems(certificate: str, key: str | None, names: list[str]) -> list[str]:
    """What is wrong with a certificate and its key for these names."""
    if not Path(certificate).is_file():
        return [f"certificate {certificate} is missing"]
    if _openssl("x509", "-in", certificate, "-noout", "-checkend", "0").returncode:
        return [f"certificate {certificate} has expired (or is not a certificate)"]
    found = []
    key = key or certificate
    certificate_key = _openssl("x509", "-in", certificate, "-noout", "-pubkey").stdout
    private_key = _openssl("pkey", "-in", key, "-pubout")
    if private_key.returncode or private_key.stdout != certificate_key:
        found.append(f"key {key} is not the key of certificate {certificate}")
    for name in names:
        if "*" in name:
            continue  # a wildcard alias names no one host to check
        checked = _openssl("x509", "-in", certificate, "-noout", "-checkhost", name).stdout
        if "does match" not in checked:
            found.append(f"certificate {certificate} does not cover {name}")
    return found


def main(folder: str) -> int:
    failed = False
    for conf in sorted(Path(folder).glob("*.conf")):
        for host in virtual_hosts(conf.read_text(errors="replace")):
            if host["certificate"] is None or "$" in host["certificate"] + (host["key"] or ""):
                continue  # no TLS here, or a path only Apache's environment resolves
            for problem in problems(host["certificate"], host["key"], host["names"]):
                print(f"{conf}: {' '.join(host['names'][:1]) or '(no ServerName)'}: {problem}", file=sys.stderr)
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
