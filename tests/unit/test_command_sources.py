"""app_env values and secret files read from what a program prints on the control machine
(a password manager): run once per run before any host is touched, never printed."""

import stat
from pathlib import Path

import pytest

from apache_wsgi_deploy import schema, sources
from apache_wsgi_deploy.settings import SettingsError, validate_host

SECRET = "s3cr3t-9f1c"


@pytest.fixture
def project(monkeypatch, tmp_path) -> Path:
    """A project folder with an app, and no command output kept from another test."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sources, "_command_outputs", {})
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "requirements.txt").write_text("Flask==3.1.3\n")
    return tmp_path


def program(folder: Path, name: str, body: str) -> str:
    """An executable shell script in the project folder, by its absolute path."""
    script = folder / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def host_data(**site) -> dict:
    return {**schema.defaults(), "acme_agree_tos": True, **site}


def test_a_deploy_runs_each_command_once_however_many_hosts_and_checks_read_it(project):
    counted = program(project, "vault", f'echo run >> "{project}/runs"; printf "{SECRET}\\n\\n"')
    data = host_data(
        app_env={"API_TOKEN": {"from_command": counted}, "PLAIN": "x"},
        secret_files={"token": {"from_command": [counted]}},
    )
    for host in ("web1", "web2", "web3"):
        site = validate_host(host, data).sites[0]
    assert (project / "runs").read_text() == "run\n"
    assert sources.app_environment(site.app_env) == {"API_TOKEN": SECRET, "PLAIN": "x"}
    # A file is what the program printed, byte for byte.
    assert sources.secret_file_contents(site.secret_files) == {"token": f"{SECRET}\n\n".encode()}


def test_a_run_that_only_reads_runs_no_command(project):
    counted = program(project, "vault", f'echo run >> "{project}/runs"; echo {SECRET}')
    site = validate_host("web1", host_data(app_env={"API_TOKEN": {"from_command": counted}}), app_values=False).sites[0]
    assert not (project / "runs").exists()
    assert not sources.readable_here(site.app_env["API_TOKEN"])


def test_the_command_runs_in_the_project_folder_with_no_terminal(project):
    (project / "sealed").write_text("from the project folder\n")
    # A program that asks for a password on its standard input gets end of file at once.
    asks = program(project, "asks", 'read answer || { echo "no terminal to ask" >&2; exit 3; }')
    data = host_data(app_env={"A": {"from_command": "cat sealed"}}, secret_files={"b": {"from_command": asks}})
    with pytest.raises(SettingsError) as error:
        validate_host("web1", data)
    assert str(error.value) == (
        f"host web1: setting 'secret_files.b' runs {asks}, which failed with exit status 3: no terminal to ask"
    )
    assert sources.app_environment({"A": {"from_command": "cat sealed"}}) == {"A": "from the project folder"}


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (f"echo {SECRET}; echo 'vault: permission denied' >&2; exit 2", "failed with exit status 2: vault: permission"),
        ("echo '[ERROR] item not found' >&2", "printed nothing: [ERROR] item not found"),
        ("printf '  \\n'", "printed nothing"),
        ("printf '\\377\\376'", "printed what is not UTF-8 text"),
    ],
)
def test_a_command_that_cannot_give_a_value_stops_the_run_naming_the_setting_never_the_value(project, body, said):
    failing = program(project, "vault", body)
    with pytest.raises(SettingsError) as error:
        validate_host("web1", host_data(app_env={"KEY": {"from_command": [failing, "--field", "x"]}}))
    message = str(error.value)
    assert message.startswith(f"host web1: setting 'app_env.KEY' runs {failing}, which {said}")
    assert SECRET not in message


def test_a_program_that_is_not_there_or_hangs_is_named(project, monkeypatch):
    not_executable = project / "vault"
    not_executable.write_text("echo x\n")
    hangs = program(project, "hangs", "exec sleep 30")
    monkeypatch.setattr(sources, "COMMAND_TIMEOUT", 0.5)
    data = host_data(
        app_env={
            "A": {"from_command": "no-such-password-manager read x"},
            "B": {"from_command": str(not_executable)},
            "C": {"from_command": hangs},
        }
    )
    with pytest.raises(SettingsError) as error:
        validate_host("web1", data)
    assert str(error.value).splitlines() == [
        "host web1: setting 'app_env.A' runs no-such-password-manager, which is not a program on the control"
        " machine (not found in PATH)",
        f"host web1: setting 'app_env.B' runs {not_executable}, which the control machine cannot run (not executable)",
        f"host web1: setting 'app_env.C' runs {hangs}, which printed nothing within 0.5 s: is it waiting for a"
        " password?",
    ]
