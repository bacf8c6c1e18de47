"""Which folders are apps, and which app a changed file belongs to."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from boxwise.apps import App, apps_for_paths, discover_apps, load_ignore
from boxwise.config import load_settings
from boxwise.errors import UserError

from .helpers import detect_json

PINNED = "click==8.1.7\n"
MONOREPO = {
    "pyproject.toml": '[tool.boxwise]\nshared = ["libs/**"]\n[tool.ruff]\nline-length = 100\n',
    "apps/api/requirements.txt": PINNED,
    "apps/api/Procfile": "web: gunicorn api:app\n",
    "apps/api/src/api/views.py": "x = 1\n",
    "apps/web/pyproject.toml": '[project]\nname = "web"\nversion = "1"\n[build-system]\nrequires = []\n',
    "apps/web/__main__.py": "",
    "apps/worker/Procfile": "worker: python -m worker\n",
    "apps/worker/nested/job/requirements.txt": PINNED,
    "apps/worker/nested/job/main.py": "",
    "libs/common/README.md": "not an app\n",
    # never apps: vendored, virtualenvs, dependency trees, build output
    "apps/api/node_modules/x/requirements.txt": PINNED,
    "apps/api/.venv/lib/requirements.txt": PINNED,
    "apps/api/env2/pyvenv.cfg": "home = /usr\n",
    "apps/api/env2/sub/requirements.txt": PINNED,
    "apps/api/build/lib/requirements.txt": PINNED,
    "apps/api/dist/requirements.txt": PINNED,
    "apps/api/pkg.egg-info/requirements.txt": PINNED,
}


def names(apps: list[App]) -> list[str]:
    return [app.name for app in apps]


def test_discovery_finds_marked_folders_and_skips_venvs_deps_and_build_output(make_git_repo) -> None:
    repo = make_git_repo(MONOREPO)
    settings = load_settings(repo)
    # the root pyproject only holds [tool.*] settings: it configures, it is no app
    assert names(discover_apps(settings)) == ["apps/api", "apps/web", "apps/worker", "apps/worker/nested/job"]
    report = detect_json(repo)
    assert list(report.apps) == ["apps/api", "apps/web", "apps/worker", "apps/worker/nested/job"]
    assert report.rules() == [
        ("apps/api/env2", None, "venv-dir"),  # a committed virtualenv: never an app, and an error
        ("apps/worker/Procfile", None, "procfile-no-web"),
        ("apps/worker/nested/job", None, "no-process"),  # an empty main.py starts nothing
    ]


def test_a_root_pyproject_with_a_project_makes_the_root_an_app(make_git_repo) -> None:
    repo = make_git_repo(
        {"pyproject.toml": '[project]\nname = "a"\nversion = "1"\n[build-system]\nrequires = []\n'}
    )
    (repo / ".dockerignore").write_text(".git\n")
    apps = discover_apps(load_settings(repo))
    assert names(apps) == ["."]
    assert apps[0].slug == "repo"
    report = detect_json(repo)
    assert report.apps["."]["group"] == ["pyproject-toml-install"]


def test_each_changed_file_maps_to_the_nearest_app_upward(make_git_repo) -> None:
    repo = make_git_repo(MONOREPO)
    settings = load_settings(repo)
    got = apps_for_paths(
        settings,
        [
            repo / "apps/api/src/api/views.py",
            repo / "apps/worker/nested/job/requirements.txt",
            repo / "apps/worker/Procfile",
            repo / "libs/common/README.md",  # in no app: nothing to check
            repo / "apps/api/node_modules/x/requirements.txt",  # vendored: never an app
        ],
    )
    assert names(got) == ["apps/api", "apps/worker", "apps/worker/nested/job"]
    # the way pre-commit passes them: relative names from the repo root
    report = detect_json(repo, "apps/web/pyproject.toml", "apps/api/Procfile")
    assert list(report.apps) == ["apps/api", "apps/web"]
    assert report.apps["apps/web"]["slug"] == "apps-web"


def test_a_folder_path_means_every_app_in_it_or_the_app_around_it(make_git_repo) -> None:
    repo = make_git_repo(MONOREPO)
    assert list(detect_json(repo, "apps/worker").apps) == ["apps/worker", "apps/worker/nested/job"]
    assert list(detect_json(repo / "apps/api/src", ".").apps) == ["apps/api"]


def test_apps_and_exclude_globs_override_discovery(make_git_repo) -> None:
    config = (
        '[tool.boxwise]\napps = ["apps/*", "apps/worker/nested/*"]\nexclude = ["apps/web", "**/nested/**"]\n'
    )
    repo = make_git_repo({**MONOREPO, "pyproject.toml": config, "apps/docs/README.md": "no marker\n"})
    settings = load_settings(repo)
    assert names(discover_apps(settings)) == ["apps/api", "apps/docs", "apps/worker"]
    report = detect_json(repo)
    assert list(report.apps) == ["apps/api", "apps/docs", "apps/worker"]
    # a listed app no buildpack detects is an error, named
    assert report.code == 1
    assert report.errors() == [("apps/api/env2", None, "venv-dir"), ("apps/docs", None, "no-buildpack")]
    # an excluded app is not checked even when its files change
    assert list(detect_json(repo, "apps/web/pyproject.toml").apps) == []


def test_discovery_survives_a_symlink_loop_in_the_tree(make_git_repo) -> None:
    repo = make_git_repo({"apps/api/requirements.txt": PINNED, "apps/api/Procfile": "web: x\n"})
    os.symlink(".", repo / "apps/api/loop")
    os.symlink("b", repo / "apps/api/a")
    os.symlink("a", repo / "apps/api/b")
    report = detect_json(repo)
    assert list(report.apps) == ["apps/api"]
    assert report.code == 0


def test_ignore_files_follow_dockerignore_rules(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text(
        "# comment\n*.pem\n!keep.pem\n/secrets\n**/__pycache__\ndocs/*.md\n"
    )
    (tmp_path / ".boxwiseignore").write_text(".env\n!secrets/public\n")
    excluded = load_ignore(tmp_path)
    assert excluded("server.pem")
    assert not excluded("keep.pem")
    assert not excluded("sub/server.pem")  # like Docker: `*` does not cross folders
    assert excluded("secrets") and excluded("secrets/db/password")  # a folder excludes its contents
    assert not excluded("secrets/public")  # .boxwiseignore comes last and can re-include
    assert excluded("a/b/__pycache__/x.pyc")
    assert excluded("docs/index.md") and not excluded("docs/sub/index.md")
    assert excluded(".env") and not excluded("app.py")


def test_an_unreadable_ignore_file_is_named(make_git_repo) -> None:
    repo = make_git_repo({"apps/a/Procfile": "web: x\n", "apps/a/.boxwiseignore": b"\xff.env\n"})
    (repo / "apps/a/.dockerignore").mkdir()
    with pytest.raises(UserError, match=r"apps/a/\.dockerignore: is a folder"):
        load_ignore(repo / "apps/a")
    report = detect_json(repo)
    assert report.code == 2
    assert report.rules() == [
        ("apps/a/.boxwiseignore", 1, "encoding"),
        ("apps/a/.dockerignore", None, "unreadable"),
    ]


def test_outside_a_git_repo_the_current_folder_is_the_root(tmp_path: Path) -> None:
    for name in ("api", "web"):
        (tmp_path / "apps" / name).mkdir(parents=True)
        (tmp_path / "apps" / name / "Procfile").write_text("web: python -m app\n")
    report = detect_json(tmp_path, "apps/web", "apps/api/Procfile")
    assert list(report.apps) == ["apps/api", "apps/web"]
    assert report.code == 0
    # run from elsewhere, the path's own folder is the root
    (tmp_path / "elsewhere").mkdir()
    report = detect_json(tmp_path / "elsewhere", str(tmp_path / "apps/api"))
    assert list(report.apps) == ["."]
    assert report.apps["."]["group"] == ["procfile-run"]


@pytest.mark.parametrize(
    "dockerignore",
    [
        "docs\n!docs/readme.md\n",  # an exception inside an excluded folder
        "*\n!src\n!Procfile\nsrc/**/*.txt\n!src/keep.txt\n",  # the allow-list style
        "**/*.log\n!logs/keep.log\nsecrets/\n!secrets/public/\n",
        "src/\n!src/pkg/\nsrc/pkg/tests\n",
    ],
)
def test_the_app_layer_keeps_exactly_what_docker_build_keeps(tmp_path: Path, dockerignore: str) -> None:
    """The Docker SDK's own matcher (what docker-py sends as a build context) is the oracle."""
    from docker.utils.build import exclude_paths

    from boxwise.appfiles import walk

    files = [
        "Procfile",
        "app.py",
        "docs/readme.md",
        "docs/guide.md",
        "src/pkg/__init__.py",
        "src/pkg/tests/test_x.py",
        "src/keep.txt",
        "src/notes/a.txt",
        "logs/keep.log",
        "logs/other.log",
        "secrets/key",
        "secrets/public/cert",
    ]
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / ".dockerignore").write_text(dockerignore)
    oracle = {p for p in exclude_paths(str(tmp_path), dockerignore.splitlines()) if (tmp_path / p).is_file()}
    oracle.discard(".dockerignore")  # docker-py always sends it to the daemon, which drops it from COPY
    ours = {rel for rel, st in walk(tmp_path, load_ignore(tmp_path)) if (tmp_path / rel).is_file()}
    ours.discard(".dockerignore")
    assert ours == oracle
