"""
Facts about the accounts an app's daemon processes run as.
"""

from __future__ import annotations

import shlex
from typing import TypedDict

from pyinfra.api import FactBase

from apache_wsgi_deploy.facts.fingerprint import MARK_RACY, RACY, RACY_PATH, entries
from apache_wsgi_deploy.layout import ACCOUNT_FILES, SUDO_FILES, SUDO_TIMESTAMPS


class IdentityDict(TypedDict):
    login: str
    uid: int | None
    groups: list[str]
    gids: list[int]
    group_gid: int | None
    sudo: bool
    # polkit actions granted to the identity and not to an account with no privileges.
    polkit: list[str]


def _as_it_will_run(user: str, group: str) -> str:
    """A command prefix (setpriv) that runs what follows as the daemon processes will run:
    the user (nobody until the deploy makes it) with the group as its group, and the group
    among its groups beside the user's own, as mod_wsgi's initgroups() gives them. sudo
    matches its group rules (%group) on a process's groups, which `sudo -l -U` never
    sees. Quoted already (shlex)."""
    return (
        f'gid="$(getent group {group} | cut -d: -f3)" && [ -n "$gid" ] && command -v setpriv >/dev/null &&'
        f' setpriv --reuid="$(id -u {user} 2>/dev/null || echo nobody)" --regid="$gid"'
        f" --groups=\"$gid$(id -G {user} 2>/dev/null | sed 's/^/,/; s/ /,/g')\""
    )


# One awk over what else sudo's answer depends on: this host's addresses (sudoers may
# name a host by one; without the lifetimes that count down), then RACY for what the
# fingerprint cannot follow: accounts or rules read from elsewhere than local files (LDAP,
# sssd, systemd's dynamic users), sudoers included from elsewhere, rules that change with
# time (NOTBEFORE, NOTAFTER) or ask DNS (fqdn), a group plugin, PAM asked without a
# password (noninteractive_auth), PAM modules that ask a network service, a program or
# the clock, an account that expires or whose password ages, and one whose password is not
# locked that has a sudo timestamp (sudo 1.9.13 writes one at each sudo -l: it could let the
# account list without a password only if it could authenticate). A file it cannot open: RACY.
SUDO_ELSEWHERE_RULES = (
    'FILENAME == "/proc/net/fib_trie" { if (/32 host/) print previous; previous = $2; next }',
    'FILENAME == "/proc/net/if_inet6" { print substr($0, 1, 32); next }',
    'FILENAME == "/etc/nsswitch.conf" { if (/^[ \\t]*(passwd|group|initgroups|shadow|sudoers)[ \\t]*:/)'
    ' for (i = 2; i <= NF; i++) if ($i != "files") print "RACY"; next }',
    'FILENAME == "/etc/shadow" { split($0, field, ":"); if (field[1] == user'
    ' && (field[5] != "" && field[5] != 99999 || field[7] != "" || field[8] != ""'
    ' || timestamp && field[2] !~ /^[!*]/)) print "RACY"; next }',
    "FILENAME ~ /\\/pam\\.d\\// { if (!/^[ \\t]*#/"
    " && /pam_(time|sss|ldap|krb5|winbind|exec|script|access|ssh_agent_auth|u2f|oath|yubico|google_authenticator)/)"
    ' print "RACY"; next }',
    "tolower($0) ~ /^[ \\t]*[@#]include/"
    ' { if (!(NF == 2 && $1 ~ /^[@#]includedir$/ && $2 == "/etc/sudoers.d")) print "RACY"; next }',
    "/^[ \\t]*#/ { next }",
    'tolower($0) ~ /notbefore|notafter|fqdn|group_plugin|noninteractive_auth/ { print "RACY" }',
)
# RACY printed where a fingerprint marks it, apart from the addresses, which are digested.
SUDO_ELSEWHERE_PROGRAM = "\n".join(SUDO_ELSEWHERE_RULES).replace('print "RACY"', f'print "{RACY}" > "{RACY_PATH}"')
SUDO_ELSEWHERE = (
    f'awk -v user="$1" -v timestamp="$([ ! -e {SUDO_TIMESTAMPS}/"$1" ] || echo 1)"'
    f" {shlex.quote(SUDO_ELSEWHERE_PROGRAM)}"
    " /proc/net/fib_trie /proc/net/if_inet6 /etc/nsswitch.conf /etc/shadow /etc/pam.d/* /etc/sudoers /etc/sudoers.d/*"
    f" || {MARK_RACY}"
)


# polkit's answer for each action it knows, asked by a shell running as an identity about
# itself (a subject that is already what it will be): the authorised actions, one a line.
POLKIT_GRANTS = (
    "sh -c 'pkaction | xargs -r -P 8 -I @ sh -c \"pkcheck --action-id @ --process $$ >/dev/null 2>&1 && echo @\"'"
)


def _polkit_grants(user: str, group: str) -> str:
    """Lines polkit=<action> for what polkit lets the daemons' identity do that it does not
    let nobody do: its rules may grant a user or a group (polkit reads the user's groups
    from the account database, as a daemon's own). Nothing when polkit is not running."""
    return (
        "if command -v pkcheck >/dev/null && command -v pkaction >/dev/null && pkaction >/dev/null 2>&1; then"
        f" {_as_it_will_run(user, group)} {POLKIT_GRANTS} | while read -r action; do"
        " setpriv --reuid=nobody --regid=nogroup --clear-groups"
        ' sh -c \'pkcheck --action-id "$1" --process $$ >/dev/null 2>&1\' _ "$action" || echo "polkit=$action";'
        " done; fi"
    )


class Identity(FactBase[IdentityDict]):
    """
    Returns what a user and a group could do on the host: the user's uid, groups and
    gids (None and empty when there is no such user), the group's gid (None when there is
    none), whether sudo lets the user run anything (by a rule for the user or its groups,
    or for the group it will run with), the polkit actions it may take that an account
    with no privileges may not, and the SSH user the deploy logs in as (who sudo ran the
    fact for).

    + user: the daemon processes' user
    + group: their group

    .. code:: python

        {"login": "deploy", "uid": 998, "groups": ["shop"], "gids": [998], "group_gid": 998, "sudo": False,
         "polkit": []}
    """

    @staticmethod
    def command(user: str, group: str) -> str:
        user, group = shlex.quote(user), shlex.quote(group)
        return (
            'echo "login=${SUDO_USER:-$(id -un)}";'
            f' if id {user} >/dev/null 2>&1; then echo "uid=$(id -u {user})";'
            f' echo "groups=$(id -Gn {user})"; echo "gids=$(id -G {user})"; fi;'
            f' echo "group_gid=$(getent group {group} | cut -d: -f3)";'
            f" if command -v sudo >/dev/null && {{ sudo -n -l -U {user} 2>/dev/null | grep -q ' may run '"
            f" || {{ {_as_it_will_run(user, group)} sudo -n -l 2>/dev/null | grep -q ' may run '; }}; }}; then"
            f" echo sudo=yes; fi; {_polkit_grants(user, group)}"
        )

    @staticmethod
    def fingerprint(kept: list[str], user: str, group: str) -> str:
        """What the answer is read from (facts/fingerprint.py): who sudo ran it for, the
        host's name and addresses, the programs it runs, and the files the accounts and
        sudo's rules are read from. Racy: the accounts or rules read from elsewhere, what
        changes with time (the account's expiry or password age, a sudo timestamp, a time
        rule) and polkit, whose rules are programs."""
        return (
            f"set -- {shlex.quote(user)}; "
            'echo "login=${SUDO_USER:-$(id -un)} host=$(uname -n)"; '
            'programs=$(for program in sudo setpriv getent id; do command -v "$program"; done); '
            f"echo $programs; {SUDO_ELSEWHERE}; "
            f"{entries(' '.join((*ACCOUNT_FILES, *SUDO_FILES)))}; "
            f"{entries('$programs', each=True)}; "
            f"! command -v pkcheck >/dev/null || {MARK_RACY}"
        )

    @staticmethod
    def process(output: list[str]) -> IdentityDict:
        fields = dict(line.split("=", 1) for line in output if "=" in line)
        return {
            "login": fields.get("login", ""),
            "uid": int(fields["uid"]) if fields.get("uid") else None,
            "groups": fields.get("groups", "").split(),
            "gids": [int(gid) for gid in fields.get("gids", "").split()],
            "group_gid": int(fields["group_gid"]) if fields.get("group_gid") else None,
            "sudo": fields.get("sudo") == "yes",
            "polkit": sorted(line.split("=", 1)[1] for line in output if line.startswith("polkit=")),
        }


class AccountDict(TypedDict):
    home: str
    shell: str


class Account(FactBase[AccountDict | None]):
    """
    Returns one account's home and login shell, from the host's user database (NSS, as
    ``useradd`` and ``userdel`` see it); None when there is no such user. pyinfra's
    ``server.Users`` reads every account's groups, last login and password to answer
    the same question.

    + user: the account

    .. code:: python

        {"home": "/srv/shop", "shell": "/usr/sbin/nologin"}
    """

    @staticmethod
    def command(user: str) -> str:
        return f"getent passwd {shlex.quote(user)} || true"

    @staticmethod
    def process(output: list[str]) -> AccountDict | None:
        fields = output[0].split(":") if output else []
        if len(fields) < 7:
            return None
        return {"home": fields[5], "shell": fields[6]}
