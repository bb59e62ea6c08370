# Settings of every host in web_servers (inventory.py). A setting left out takes its
# default; every value is validated before any host is touched. The commented lines show
# the defaults of the settings teams set most; every setting, with what it allows, is in
# docs/settings.md of apache-wsgi-deploy (`awd --version` says which version).

# --- The site ---
# DNS name the HTTPS vhost serves; port 80 redirects to https://<server_name>.
# server_name = "www.example.com"
# More names served by the same vhosts (each must be on the certificate).
# server_aliases = []
# Short name: site file, daemon process group, log files, the app's own system user.
# app_name = "flaskapp"
# Folder of this project with the WSGI app and its pinned requirements.txt (or pyproject.toml),
# or {"git": URL, "ref": BRANCH_TAG_OR_COMMIT}.
# app_source = "app"
# module:callable of the WSGI application (Django: "mysite.wsgi:application").
# wsgi_entry = "app:app"
# The app's environment: literal strings, or {"from_env": "VARIABLE"} / {"from_file": "PATH"}
# read on this machine, for secrets.
# app_env = {}
# Shell commands run once in each new release before its health check (migrations).
# release_commands = []
# Path a new release must answer below 400 before it goes live.
# health_check_path = "/"
# URL prefix Apache serves static_dir under, without the app ("/static").
# static_url = None
# "own": the app runs in an Apache of its own, which no reload of the host's Apache
# (a certificate renewal, a vhost change) reaches (docs/own-instance.md).
# apache_instance = "shared"

# --- Certificates ---
# "acme" (Let's Encrypt, or acme_directory_url), "files" (tls_*_file) or "selfsigned".
# tls_certificate_source = "acme"
# Set True once you agree to the ACME CA's terms of service.
# acme_agree_tos = False
# acme_email = None

# --- Several sites on one host: a list of dicts, each overriding the settings above ---
# sites = [{}]
