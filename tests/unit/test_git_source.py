"""A git source's ref is resolved to its commit on the control machine, for the release's name."""

import subprocess

import pytest
from pyinfra.api.exceptions import DeployError

from apache_wsgi_deploy.deploys import git_commit


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
