"""
A command in a release's context, run on the host as the app's user: in the release's
code folder, its virtualenv first on PATH, with the app's environment, HOME in the
app's data folder. What release commands run.

    python inapp.py <release folder> <data folder> -- COMMAND [ARGS...]
"""

import json
import os
import sys


def main(release: str, data_dir: str, separator: str, *command: str) -> int:
    if separator != "--" or not command:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    with open(os.path.join(release, "environment.json")) as values:
        app_environment = json.load(values)
    venv = os.path.join(release, "venv")
    os.environ.update(app_environment)
    os.environ["VIRTUAL_ENV"] = venv
    os.environ["PATH"] = os.pathsep.join((os.path.join(venv, "bin"), "/usr/local/bin", "/usr/bin", "/bin"))
    # Tools that keep a cache or history in ~ (pip, a shell) write where the app may.
    os.environ["HOME"] = data_dir
    os.chdir(os.path.join(release, "app"))
    os.execvp(command[0], list(command))


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
