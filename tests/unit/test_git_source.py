"""Where a release comes from: a git ref resolved to its commit on the control machine, for
the release's name; the requirements of a folder source."""

import subprocess

import pytest
from pyinfra.api.exceptions import DeployError

from apache_wsgi_deploy.sources import git_commit


def git(repo, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    for number in (1, 2):
        (tmp_path / "app.py").write_text(f"version = {number}\n")
        git(tmp_path, "add", "app.py")
        git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", f"v{number}")
        git(tmp_path, "tag", f"light{number}")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "tag", "-a", "-m", "one", "v1", "light1")
    return tmp_path


def test_branches_and_tags_resolve_to_their_commits(repo):
    first, second = git(repo, "rev-parse", "light1"), git(repo, "rev-parse", "light2")
    url = str(repo)
    # An annotated tag is its own object: the release is named by the commit it tags.
    assert git_commit(url, "v1") == first
    assert git_commit(url, "light2") == second
    assert git_commit(url, "main") == second
    assert git_commit(url, first) == first


def test_an_unknown_ref_or_repository_stops_the_deploy(repo, tmp_path_factory):
    with pytest.raises(DeployError, match="has no branch or tag 'v9'"):
        git_commit(str(repo), "v9")
    with pytest.raises(DeployError, match="git ls-remote .* failed"):
        git_commit(str(tmp_path_factory.mktemp("empty") / "missing"), "main")


def test_requirements_come_from_requirements_txt_or_else_pyproject(tmp_path):
    from apache_wsgi_deploy.sources import pinned_requirements

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\ndependencies = ["Flask==3.1.3"]\n')
    assert pinned_requirements(tmp_path) == ["Flask==3.1.3"]
    (tmp_path / "requirements.txt").write_text("# pinned\nWerkzeug==3.1.3  # a comment\n\n")
    assert pinned_requirements(tmp_path) == ["Werkzeug==3.1.3"]
    (tmp_path / "requirements.txt").write_text("Werkzeug>=3\n")
    with pytest.raises(DeployError, match="pin every requirement as name==version"):
        pinned_requirements(tmp_path)
    with pytest.raises(DeployError, match="no requirements.txt or pyproject.toml"):
        pinned_requirements(tmp_path / "app")


def commit_files(repo, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "files")
    return git(repo, "rev-parse", "HEAD")


def test_a_commit_is_read_by_the_same_rules_as_a_folder_once(repo, tmp_path, monkeypatch):
    from apache_wsgi_deploy import sources

    # The cache is the project folder's (.cache/git): the current folder's.
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    url = f"file://{repo}"
    commit = commit_files(repo, {"pyproject.toml": '[project]\nname = "shop"\ndependencies = ["Flask==3.1.3"]\n'})
    assert sources.git_requirements(url, "main", commit) == ["Flask==3.1.3"]
    assert list((tmp_path / "project" / ".cache" / "git").iterdir())
    unpinned = commit_files(repo, {"requirements.txt": "Flask>=3\n"})
    with pytest.raises(DeployError, match=f"{url}@{unpinned[:12]}/requirements.txt: pin every requirement"):
        sources.git_requirements(url, "main", unpinned)
    # A commit never changes: once read, the repository is not asked again.
    git(repo, "update-ref", "-d", "refs/heads/main")
    assert sources.git_requirements(url, "main", commit) == ["Flask==3.1.3"]


def test_equal_pins_name_one_virtualenv_whatever_their_order_or_source(tmp_path):
    from apache_wsgi_deploy.sources import pinned_requirements, requirements_digest

    (tmp_path / "requirements.txt").write_text("Werkzeug==3.1.3\nFlask==3.1.3\n")
    assert requirements_digest(pinned_requirements(tmp_path)) == requirements_digest(
        ["Flask==3.1.3", "Werkzeug==3.1.3"]
    )
