"""What the deploy units share: how a site's unit is named, and who owns what they write."""

from __future__ import annotations

import functools

from pyinfra import host

# Everything the deploy writes belongs to root: the daemon user can read, never write.
ROOT_OWNED = {"user": "root", "group": "root"}


def site_deploy(title: str):
    """@deploy for one site's operations, named "<title> <app_name>": several sites'
    operations stay apart in pyinfra's output and the drift check's report."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(site, *args, **kwargs):
            # The enclosing deploy's global arguments (_sudo...) and data stay in force; its
            # _if conditions too, which pyinfra adds to a nested deploy's own (none here).
            outer = host.current_deploy_kwargs
            deploy_kwargs = {**outer, "_if": []} if outer else None
            with host.deploy(name=f"{title} {site.app_name}", kwargs=deploy_kwargs, data=host.current_deploy_data):
                return func(site, *args, **kwargs)

        return wrapper

    return decorator
