#!/usr/bin/env bash
# This repository's development entry: sets up this Debian machine (idempotently: apt and
# pip only install what is missing, into .venv with the package installed editable), then:
#   ./run.sh deploy [ARGS]     awd deploy to inventory.py's hosts; with none configured, to
#                              a local throwaway test host it starts first (awd testhost up)
#   ./run.sh test [ARGS]       the whole test suite: ruff (format, lint), unit tests, end
#                              to end on Debian 13 test hosts, then the e2e tests marked
#                              both_suites again on Debian 12 (ARGS: one pytest run instead)
#   ./run.sh bench [ARGS]      the benchmark on local test hosts (python -m bench --help)
#   ./run.sh COMMAND [ARGS]    any other awd command: verify, check, status, rollback APP,
#                              restore APP, logs APP, maintenance on|off APP,
#                              app APP -- CMD, testhost up|status|down, init (awd --help)
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
        .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
        sha256sum requirements-dev.txt pyproject.toml >"$stamp"
    fi
    # The package's bytecode, as pip writes an installed wheel's (Python writes none as it
    # goes under PYTHONDONTWRITEBYTECODE): only what changed is compiled again.
    .venv/bin/python -m compileall -q apache_wsgi_deploy >/dev/null
}

setup() {
    apt_install python3 python3-venv openssh-client ca-certificates $(grep -v '^#' apache_wsgi_deploy/testhost/apt-packages.txt)
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
    [[ " $* " == *" --inventory"* || " $* " == *" -i "* ]] || hosts_configured || testhost=yes
    [ -z "$testhost" ] || .venv/bin/awd testhost up
    .venv/bin/awd deploy "$@"
    [ -z "$testhost" ] || .venv/bin/awd testhost status
    ;;
test)
    setup
    .venv/bin/ruff format --check --quiet . && .venv/bin/ruff check --quiet .
    (($# == 0)) || exec .venv/bin/python -m pytest "$@"
    # The Debian 12 pass runs beside the Debian 13 one (fleets of its own: most of a test's
    # time is spent waiting on a host); its output follows the Debian 13 pass's.
    bookworm_log=$(mktemp)
    AWD_TESTHOST_SUITE=bookworm .venv/bin/python -m pytest -m both_suites tests/e2e >"$bookworm_log" 2>&1 &
    bookworm=$!
    status=0
    # Two workers, each given whole files (a module's fleet is made once), each with its
    # own fleets: a test host mostly waits, so two keep the cores busier.
    .venv/bin/python -m pytest --numprocesses 2 --dist loadfile --durations 15 || status=$?
    wait "$bookworm" || status=$?
    echo "run.sh: the Debian 12 pass (AWD_TESTHOST_SUITE=bookworm pytest -m both_suites tests/e2e):"
    cat "$bookworm_log"
    rm -f "$bookworm_log"
    exit "$status"
    ;;
bench)
    setup
    .venv/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
    .venv/bin/python -m bench "$@"
    ;;
verify | check | status | rollback | restore | app | logs | maintenance | testhost | init)
    setup
    exec .venv/bin/awd "$job" "$@"
    ;;
*)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
