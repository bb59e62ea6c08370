"""What breaks mod_wsgi sites most often, checked on the host."""

import re


def test_venv_is_built_from_the_python_mod_wsgi_links_against(site):
    linked = site.host.check_output("ldd /usr/lib/apache2/modules/mod_wsgi.so")
    mod_wsgi_python = re.search(r"libpython(\d+\.\d+)", linked).group(1)
    venv = site.host.file(f"{site.site.venv}/pyvenv.cfg").content_string
    venv_python = re.search(r"^version(?:_info)? = (\d+\.\d+)", venv, re.M).group(1)
    # A mismatch shows as "No module named 'encodings'" in the error log.
    assert venv_python == mod_wsgi_python


def test_daemon_user_can_run_the_venv_and_import_the_app(site):
    app = site.site
    result = site.host.run(
        "runuser -u %s -- %s/bin/python -c %s", app.wsgi_user, app.venv,
        f"import sys; sys.path.insert(0, '{app.app_code_dir}'); import {app.wsgi_module}; print(sys.prefix)",
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == app.venv


def test_daemon_sockets_are_reachable_by_apaches_children(target):
    """A 503 with 'Permission denied' otherwise: Apache's children connect to these sockets."""
    run_user = target.host.check_output(". /etc/apache2/envvars && echo $APACHE_RUN_USER")
    run_dir = target.host.check_output(". /etc/apache2/envvars && echo $APACHE_RUN_DIR")
    sockets = target.host.check_output("find %s -maxdepth 1 -name 'wsgi.*.sock' -type s", run_dir).split()
    assert sockets, f"no mod_wsgi daemon socket in {run_dir}"
    for socket_path in sockets:
        assert target.host.run("runuser -u %s -- test -w %s", run_user, socket_path).rc == 0, socket_path
