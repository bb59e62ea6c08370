"""
A release's WSGI application, loaded as mod_wsgi loads it: the release's code first on
sys.path, its environment (environment.json) in os.environ before the app reads it, and
its entry point (wsgi-entry: module:callable, or module:factory() called once). The
site's .wsgi file loads the live release through it (live_application), and the health
check a new one (release_application), so both load an app the same way.
"""

import importlib
import json
import os
import sys
import threading
import traceback


def release_application(release: str):
    code = os.path.join(release, "app")
    if code not in sys.path:
        sys.path.insert(0, code)
    # The daemon process starts in the vhost's home=, current/app as it resolved then:
    # the release live at the start, which a switch before the first request left behind.
    # In its own code, the app's relative paths mean this release, and the verification
    # suite reads which release a process loaded from its working folder.
    os.chdir(code)
    # mod_wsgi daemon processes do not see SetEnv in os.environ.
    with open(os.path.join(release, "environment.json")) as environment:
        os.environ.update(json.load(environment))
    with open(os.path.join(release, "wsgi-entry")) as entry:
        module, _, name = entry.read().strip().partition(":")
    loaded = getattr(importlib.import_module(module), name.removesuffix("()"))
    return loaded() if name.endswith("()") else loaded


class _LoadingAgain:
    """The live release's app that failed to load in this process: each request tries
    again (the cause may have passed, a database back up) and is answered 500 until it
    loads; the traceback goes to the site's error log."""

    def __init__(self, release: str):
        self.release = release
        self.application = None
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            if self.application is None:
                try:
                    self.application = release_application(self.release)
                except BaseException:  # SystemExit too: the daemon process must live on
                    traceback.print_exc()
        if self.application is None:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"The application failed to load: see the site's error log.\n"]
        return self.application(environ, start_response)


def live_application(release: str):
    """What the site's .wsgi file serves. It never raises: mod_wsgi restarts a daemon
    process when the .wsgi file changes (a release switch) only if the file loaded; after
    a file that raised it loads it again into the same process, whose interpreter and
    virtualenv are the old release's (after Debian upgraded Python, a broken one)."""
    try:
        return release_application(release)
    except BaseException:  # SystemExit too (sys.exit() in the app's module or entry point)
        traceback.print_exc()
        return _LoadingAgain(release)
