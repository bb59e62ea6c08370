#!/usr/bin/env bash
# Sets up this machine (idempotently: apt and pip only install what is missing), then:
#   ./run.sh deploy            deploy to inventory.py's hosts; with none configured, to a
#                              local throwaway test host it starts first; ends with a
#                              per-host summary (ARGS: --inventory=FILE, pyinfra options)
#   ./run.sh test [ARGS]       the whole test suite: ruff (format, lint), unit tests, end
#                              to end on Debian 13 test hosts, then the e2e tests marked
#                              both_suites again on Debian 12 (ARGS: one pytest run instead)
#   ./run.sh verify [ARGS]     the verification suite against inventory.py's hosts
#                              (ARGS go to pytest, e.g. --inventory=production.py)
#   ./run.sh check [ARGS]      drift check: what a deploy would change, changing nothing;
#                              exit 0 all match, 2 drifted, 1 not checked (--inventory=FILE)
#   ./run.sh rollback APP [ARGS]  the site APP (its app_name) back to its previous release
#                              (ARGS: --inventory=FILE, pyinfra options)
#   ./run.sh status [ARGS]     each host's live releases, their history and health now
#                              (--inventory=FILE)
#   ./run.sh app APP [ARGS] -- COMMAND  a command in the site APP's live release, as its
#                              user, on each host (--inventory=FILE, --limit=HOST)
#   ./run.sh bench [ARGS]      the benchmark on local test hosts (python -m bench --help)
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1

apt_install() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
    done
    if ((${#missing[@]})); then
        echo "run.sh: installing ${missing[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

python_env() {
    # Debian's python3: the same interpreter on every machine, whatever else is on PATH.
    [ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv
    local stamp=.venv/.requirements.sha256
    if ! sha256sum --status -c "$stamp" 2>/dev/null; then
        .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
        sha256sum requirements.txt >"$stamp"
    fi
}

setup() {
    apt_install python3 python3-venv openssh-client ca-certificates $(grep -v '^#' testhost/apt-packages.txt)
    python_env
}

hosts_configured() {
    AWD_TESTHOST_FLEET= .venv/bin/python -c \
        'import runpy, sys; sys.exit(0 if runpy.run_path("inventory.py")["web_servers"] else 1)'
}

job=${1:-}
shift || true
case "$job" in
deploy)
    setup
    # A throwaway test host only for inventory.py with no hosts, never for --inventory.
    testhost=
    [[ " $* " == *" --inventory"* ]] || hosts_configured || testhost=yes
    [ -z "$testhost" ] || .venv/bin/python -m testhost up
    .venv/bin/python -m apache_wsgi_deploy.runner "$@"
    [ -z "$testhost" ] || .venv/bin/python -m testhost status
    ;;
test)
    setup
    .venv/bin/ruff format --check --quiet . && .venv/bin/ruff check --quiet .
    .venv/bin/python -m pytest "$@"
    if (($# == 0)); then
        AWD_TESTHOST_SUITE=bookworm .venv/bin/python -m pytest -m both_suites tests/e2e
    fi
    ;;
verify)
    setup
    .venv/bin/python -m apache_wsgi_deploy.verify "$@"
    ;;
check)
    setup
    .venv/bin/python -m apache_wsgi_deploy.drift "$@"
    ;;
rollback)
    setup
    app=${1:?usage: ./run.sh rollback APP_NAME [--inventory=FILE] [pyinfra options]}
    shift
    AWD_ROLLBACK_APP=$app .venv/bin/python -m apache_wsgi_deploy.runner --deploy=rollback.py "$@"
    ;;
status)
    setup
    .venv/bin/python -m apache_wsgi_deploy.status "$@"
    ;;
app)
    setup
    .venv/bin/python -m apache_wsgi_deploy.appcommand "$@"
    ;;
bench)
    setup
    .venv/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
    .venv/bin/python -m bench "$@"
    ;;
*)
    sed -n '2,19p' "$0" >&2
    exit 2
    ;;
esac
