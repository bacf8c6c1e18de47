"""The buildpacks are real CNB buildpacks: bin/detect runs alone, and boxwise agrees with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from boxwise.config import tomllib

from .helpers import detect_json

REPO = Path(__file__).resolve().parents[2]
BUILDPACKS = REPO / "buildpacks"
IDS = (
    "pip-install",
    "pipenv-install",
    "poetry-install",
    "uv-install",
    "pyproject-toml-install",
    "setup-py-install",
    "procfile-run",
)
PROJECT = '[project]\nname = "p"\nversion = "1"\n'
# The files that make each buildpack pass on their own; the first is the one its plan names.
MARKER = {
    "pip-install": {"requirements.txt": ""},
    "pipenv-install": {"Pipfile.lock": '{"_meta": {}, "default": {}}'},
    "poetry-install": {"poetry.lock": "", "pyproject.toml": PROJECT},
    "uv-install": {"uv.lock": "", "pyproject.toml": PROJECT},
    "pyproject-toml-install": {"pyproject.toml": PROJECT},
    "setup-py-install": {"setup.py": "from setuptools import setup\nsetup()\n"},
    "procfile-run": {"Procfile": ""},
}
# Why each fails on an empty folder.
MISSING = {bp: f"no {next(iter(files))}" for bp, files in MARKER.items()} | {"pipenv-install": "no Pipfile"}


def run_bin_detect(buildpack: str, app: Path, plan: Path) -> subprocess.CompletedProcess[str]:
    """Run bin/detect as a CNB platform does: cwd the app, inputs in CNB_* variables."""
    env = {
        "PATH": os.environ["PATH"],
        "CNB_BUILD_PLAN_PATH": str(plan),
        "CNB_PLATFORM_DIR": str(app.parent / "platform"),
        "CNB_BUILDPACK_DIR": str(BUILDPACKS / buildpack),
    }
    return subprocess.run(
        [str(BUILDPACKS / buildpack / "bin" / "detect")], cwd=app, env=env, capture_output=True, text=True
    )


def test_builder_orders_one_group_per_package_manager_requirements_first_as_heroku_does() -> None:
    builder = tomllib.loads((BUILDPACKS / "builder.toml").read_text())
    groups = [[(e["id"], e.get("optional", False)) for e in order["group"]] for order in builder["order"]]
    installers = [bp for bp in IDS if bp != "procfile-run"]
    assert groups == [[(bp, False), ("procfile-run", True)] for bp in installers] + [
        [("procfile-run", False)]
    ]
    for bp in IDS:
        meta = tomllib.loads((BUILDPACKS / bp / "buildpack.toml").read_text())
        assert meta["buildpack"]["id"] == bp
        assert meta["api"] == "0.10"
        detect = BUILDPACKS / bp / "bin" / "detect"
        assert os.access(detect, os.X_OK)
        assert detect.read_text().startswith("#!/usr/bin/env python3\n")


@pytest.mark.parametrize("buildpack", IDS)
def test_bin_detect_passes_with_its_file_and_writes_a_build_plan(buildpack: str, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    for name, text in MARKER[buildpack].items():
        (app / name).write_text(text)
    plan = tmp_path / "plan.toml"
    result = run_bin_detect(buildpack, app, plan)
    assert result.returncode == 0, result.stdout + result.stderr
    written = tomllib.loads(plan.read_text())
    provided = [entry["name"] for entry in written["provides"]]
    required = [entry["name"] for entry in written["requires"]]
    assert provided and provided == required  # it provides for itself: the plan resolves alone
    assert written["requires"][0]["metadata"]["file"] == next(iter(MARKER[buildpack]))


@pytest.mark.parametrize("buildpack", IDS)
def test_bin_detect_fails_with_100_and_says_why_without_its_file(buildpack: str, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    plan = tmp_path / "plan.toml"
    result = run_bin_detect(buildpack, app, plan)
    assert result.returncode == 100
    assert MISSING[buildpack] in result.stdout
    assert not plan.exists()


@pytest.mark.slow
def test_bin_detect_and_boxwise_detect_agree_on_every_app(make_git_repo) -> None:
    files = {
        "apps/req/requirements.txt": "click==8.1.7\n",
        "apps/req/Procfile": "web: python -m app\n",
        "apps/proj/pyproject.toml": '[project]\nname = "p"\nversion = "1"\n[build-system]\nrequires = []\n',
        "apps/proj/requirements.txt": "click==8.1.7\n",
        "apps/proc/Procfile": "web: python app.py\n",
        "apps/dir-marker/Procfile/keep": "",  # a folder named Procfile fails the rule, in both
        "apps/dir-marker/requirements.txt": "click==8.1.7\n",
    }
    repo = make_git_repo(files)
    report = detect_json(repo)
    assert report.apps["apps/req"]["group"] == ["pip-install", "procfile-run"]
    # requirements.txt beside pyproject.toml: pip installs what it lists (Heroku's rule)
    assert report.apps["apps/proj"]["group"] == ["pip-install"]
    result = run_bin_detect("pyproject-toml-install", repo / "apps/proj", repo.parent / "plan.toml")
    assert result.returncode == 100 and "requirements.txt is there" in result.stdout
    assert report.apps["apps/proc"]["group"] == ["procfile-run"]
    assert report.apps["apps/dir-marker"]["group"] == ["pip-install"]
    assert report.apps["apps/dir-marker"]["failed"]["procfile-run"] == "Procfile is not a regular file"
    for name, app in report.apps.items():
        for bp in [*app["group"], *app["failed"]]:  # what detection tried (it stops at a passing group)
            result = run_bin_detect(bp, repo / name, repo.parent / f"plan-{bp}.toml")
            assert (result.returncode == 0) == (bp not in app["failed"]), (name, bp)
            if bp in app["failed"]:
                assert result.returncode == 100
                assert app["failed"][bp] in result.stdout


def test_output_names_the_group_and_why_each_other_buildpack_failed(make_git_repo) -> None:
    project = '[project]\nname = "api"\nversion = "1"\n[build-system]\nrequires = []\n'
    repo = make_git_repo({"apps/api/pyproject.toml": project, "apps/api/Procfile": "web: x\n"})
    result = subprocess.run(
        [sys.executable, "-m", "boxwise", "detect"], cwd=repo, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "apps/api: pyproject-toml-install, procfile-run" in lines
    assert "  pip-install: no requirements.txt" in lines


def test_an_app_no_group_detects_is_an_error(make_git_repo) -> None:
    repo = make_git_repo({"apps/api/requirements.txt": "click==8.1.7\n", "apps/empty/README": "hi\n"})
    report = detect_json(repo, "apps/empty")
    assert report.code == 1
    assert report.apps["apps/empty"]["group"] == []
    finding = report.finding("no-buildpack")
    assert finding["path"] == "apps/empty"
    assert "pip-install: no requirements.txt" in finding["message"]
