"""
A release's WSGI application, loaded as mod_wsgi loads it: the release's code first on
sys.path, its environment (environment.json) in os.environ before the app reads it, and
its entry point (wsgi-entry: module:callable, or module:factory() called once). The
site's .wsgi file loads the live release through it, and the health check a new one, so
both load an app the same way.
"""

import importlib
import json
import os
import sys


def release_application(release: str):
    sys.path.insert(0, os.path.join(release, "app"))
    # mod_wsgi daemon processes do not see SetEnv in os.environ.
    with open(os.path.join(release, "environment.json")) as environment:
        os.environ.update(json.load(environment))
    with open(os.path.join(release, "wsgi-entry")) as entry:
        module, _, name = entry.read().strip().partition(":")
    loaded = getattr(importlib.import_module(module), name.removesuffix("()"))
    return loaded() if name.endswith("()") else loaded
