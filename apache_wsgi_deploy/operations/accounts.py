"""
The accounts an app runs as. A site's own system user is made for one app, and only ever
changed or removed by the deploy when its home is that app's folder, so an existing
account that happens to share the app's name (``backup``, ``www-data``) is never taken
over or deleted; and no app runs as an account that could become root.
"""

from __future__ import annotations

import shlex

from pyinfra import host
from pyinfra.api import OperationError, QuoteString, StringCommand, operation

from apache_wsgi_deploy import layout, outcome
from apache_wsgi_deploy.facts.accounts import Account, Identity
from apache_wsgi_deploy.layout import NOLOGIN

# userdel refuses a user whose processes still run: the daemon processes of a site whose
# vhost was just removed stop within mod_wsgi's shutdown timeout (5 s) of the reload.
PROCESSES_GONE_DEADLINE = 30


@operation()
def system_user(user: str, home: str):
    """
    A system user and group named ``user``, with no login shell and ``home`` as home
    (not created: the app's folder is made by its own operation).

    + user: the account and its group
    + home: the app's folder, which marks the account as this site's

    An account of that name with another home is left alone and fails the operation:
    the site must name its own user (``wsgi_user``).
    """
    current = host.get_fact(Account, user=user)
    if current is None:
        yield StringCommand(
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            QuoteString(home),
            "--shell",
            NOLOGIN,
            QuoteString(user),
        )
    elif current["home"] != home:
        raise OperationError(
            f"user {user!r} exists with home {current['home']!r}, so it is not the site's own account"
            f" (home {home!r}): set wsgi_user to it explicitly, or rename the app"
        )
    elif current["shell"] != NOLOGIN:
        yield StringCommand("usermod", "--shell", NOLOGIN, QuoteString(user))
    else:
        host.noop(f"user {user} exists")


@operation()
def system_user_removed(user: str, home: str):
    """
    Remove a site's own user and group once its processes have ended.

    + user: the account
    + home: the app's folder; an account with another home is not the site's and stays
    """
    current = host.get_fact(Account, user=user)
    if current is None or current["home"] != home:
        host.noop(f"no user {user} of {home}")
        return
    # Polls with a deadline: the processes end on their own after Apache's reload.
    yield (
        f"deadline=$(( $(date +%s) + {PROCESSES_GONE_DEADLINE} ));"
        f" while pgrep -u {shlex.quote(user)} >/dev/null && [ $(date +%s) -lt $deadline ]; do sleep 0.2; done"
    )
    yield StringCommand("userdel", QuoteString(user))


def privileges(user: str, group: str, identity: dict) -> list[str]:
    """Why this user and group could do more than run an app, if they could."""
    reasons = []
    if identity["uid"] == 0:
        reasons.append(f"user {user} has uid 0")
    if identity["group_gid"] == 0 or 0 in identity["gids"]:
        reasons.append(f"{'group ' + group if identity['group_gid'] == 0 else 'user ' + user} has gid 0")
    reasons += [f"user {user} is in group {name}" for name in identity["groups"] if name in layout.PRIVILEGED_GROUPS]
    if identity["sudo"]:
        reasons.append(f"sudo lets user {user} run commands")
    if identity["polkit"]:
        reasons.append(f"polkit lets user {user} (group {group}) do {', '.join(identity['polkit'])}")
    if user == identity["login"]:
        reasons.append(f"user {user} is the SSH user the deploy logs in as")
    return reasons


@operation()
def unprivileged(user: str, group: str):
    """
    Fail, before anything is changed, when the daemon processes' user or group could
    become root or read the host's secrets: uid or gid 0, a member of a privileged group
    (sudo, adm, shadow, docker...), a user sudo lets run commands, one polkit grants what
    it does not grant every account, or the SSH user.

    + user: the daemon processes' user (one the deploy makes may not exist yet)
    + group: their group
    """
    reasons = privileges(user, group, host.get_fact(Identity, user=user, group=group))
    if reasons:
        raise outcome.refused(
            host.name,
            f"refusing to run an app as user {user}, group {group}: {'; '.join(reasons)}.",
            'Set wsgi_user and wsgi_group to an unprivileged account of the app\'s own ("auto" makes one)',
        )
    host.noop(f"user {user} and group {group} have no privileges")
    # An operation is a generator, even one that only checks.
    yield from ()
