"""Which apps a change touches, on real git history (branches, merges, renames, shared code)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from boxwise.apps import apps_touched, changed_files
from boxwise.config import load_settings
from boxwise.errors import UserError

PINNED = "click==8.1.7\n"
FILES = {
    "pyproject.toml": '[tool.boxwise]\nshared = ["libs/**", "constraints.txt"]\n',
    "constraints.txt": PINNED,
    "apps/api/requirements.txt": PINNED,
    "apps/api/api/views.py": "x = 1\n",
    "apps/web/Procfile": "web: python -m web\n",
    "apps/web/web/__main__.py": "",
    "apps/worker/requirements.txt": PINNED,
    "libs/common/util.py": "y = 1\n",
    "docs/index.md": "docs\n",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def commit(repo: Path, message: str, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def touched(repo: Path, since: str) -> list[str]:
    settings = load_settings(repo)
    return [app.name for app in apps_touched(settings, changed_files(repo, since))]


def test_only_the_apps_a_branch_changed_since_the_merge_base(make_git_repo) -> None:
    repo = make_git_repo(FILES)
    git(repo, "checkout", "-qb", "feature")
    commit(repo, "api view", {"apps/api/api/views.py": "x = 2\n"})
    commit(repo, "docs", {"docs/index.md": "more\n"})
    # main moves on after the branch point: its changes are not the branch's
    git(repo, "checkout", "-q", "main")
    commit(repo, "worker on main", {"apps/worker/requirements.txt": "click==8.1.8\n"})
    git(repo, "checkout", "-q", "feature")
    assert changed_files(repo, "main") == ["apps/api/api/views.py", "docs/index.md"]
    assert touched(repo, "main") == ["apps/api"]


def test_a_change_to_shared_code_touches_every_app(make_git_repo) -> None:
    repo = make_git_repo(FILES)
    git(repo, "checkout", "-qb", "feature")
    commit(repo, "lib", {"libs/common/util.py": "y = 2\n"})
    assert touched(repo, "main") == ["apps/api", "apps/web", "apps/worker"]
    git(repo, "checkout", "-qb", "feature2", "main")
    commit(repo, "constraints", {"constraints.txt": "click==8.1.8\n"})
    assert touched(repo, "main") == ["apps/api", "apps/web", "apps/worker"]


def test_a_moved_file_touches_the_app_it_left_and_the_one_it_joined(make_git_repo) -> None:
    repo = make_git_repo(FILES)
    git(repo, "checkout", "-qb", "feature")
    git(repo, "mv", "apps/api/api/views.py", "apps/worker/views.py")
    git(repo, "commit", "-qm", "move")
    assert changed_files(repo, "main") == ["apps/api/api/views.py", "apps/worker/views.py"]
    assert touched(repo, "main") == ["apps/api", "apps/worker"]


def test_a_deleted_app_touches_nothing_and_nothing_changed_touches_nothing(make_git_repo) -> None:
    repo = make_git_repo(FILES)
    git(repo, "checkout", "-qb", "feature")
    assert touched(repo, "main") == []
    git(repo, "rm", "-rq", "apps/web")
    git(repo, "commit", "-qm", "drop web")
    assert changed_files(repo, "main") == ["apps/web/Procfile", "apps/web/web/__main__.py"]
    assert touched(repo, "main") == []


def test_bad_refs_and_non_repos_are_user_errors(make_git_repo, tmp_path: Path) -> None:
    repo = make_git_repo(FILES)
    with pytest.raises(UserError, match="no-such-branch: not a commit"):
        changed_files(repo, "no-such-branch")
    git(repo, "checkout", "-q", "--orphan", "unrelated")
    commit(repo, "unrelated root", {"other.txt": "x\n"})
    with pytest.raises(UserError, match="shares no history with HEAD"):
        changed_files(repo, "main")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(UserError, match="not a git repository"):
        changed_files(plain, "main")


def test_a_local_package_belongs_to_the_app_that_installs_it(make_git_repo) -> None:
    """`-e ../../libs/greet` (or a uv/Poetry/Pipenv path source): the package is no app of its own,
    and a change in it plans the apps that install it."""
    from boxwise.apps import apps_touched, discover_apps
    from boxwise.config import load_settings

    repo = make_git_repo(
        {
            "apps/api/requirements.txt": "-e ../../libs/greet\nflask==3.0.0\n",
            "apps/api/Procfile": "web: gunicorn api:app\n",
            "apps/worker/pyproject.toml": (
                '[project]\nname = "worker"\nversion = "1"\ndependencies = ["greet"]\n'
                '[tool.uv.sources]\ngreet = { path = "../../libs/greet", editable = true }\n'
            ),
            "apps/web/requirements.txt": "flask==3.0.0\n",
            "libs/greet/pyproject.toml": '[project]\nname = "greet"\nversion = "1"\n',
            "libs/greet/greet/__init__.py": "",
        }
    )
    settings = load_settings(repo)
    assert [app.name for app in discover_apps(settings)] == ["apps/api", "apps/web", "apps/worker"]
    touched = apps_touched(settings, ["libs/greet/greet/__init__.py"])
    assert [app.name for app in touched] == ["apps/api", "apps/worker"]
    assert [app.name for app in apps_touched(settings, ["apps/web/requirements.txt"])] == ["apps/web"]
