"""One package manager per app: what `boxwise detect` says is what bin/detect (the build) says.

Real git repos, the real CLI, the real lock files of tests/builder/lockapps (made by pipenv, poetry
and uv). No engine: a refused app is refused at detect, so lint and the build cannot disagree.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import detect_json
from .test_buildpacks import run_bin_detect

LOCKAPPS = Path(__file__).resolve().parents[1] / "builder" / "lockapps"


def fixture(name: str, under: str) -> dict[str, str]:
    """The files of tests/builder/lockapps/<name>, placed under `under` in a repo."""
    root = LOCKAPPS / name
    return {
        f"{under}/{path.relative_to(root)}": path.read_text() for path in root.rglob("*") if path.is_file()
    }


def groups(report) -> dict[str, list[str]]:
    return {name: app["group"] for name, app in report.apps.items()}


@pytest.mark.slow
def test_each_lock_file_app_gets_its_own_buildpack_and_file_and_folder_agree(make_git_repo) -> None:
    repo = make_git_repo(
        {
            # the uv app's path source has a pyproject.toml project of its own: not an app here
            "pyproject.toml": '[tool.boxwise]\nexclude = ["apps/uv/libs"]\n',
            **fixture("pipenv", "apps/pipenv"),
            **fixture("poetry", "apps/poetry"),
            **fixture("uv", "apps/uv"),
            **fixture("setup-py", "apps/setup-py"),
            **fixture("setup-cfg", "apps/setup-cfg"),
        }
    )
    report = detect_json(repo)
    assert groups(report) == {
        "apps/pipenv": ["pipenv-install"],
        "apps/poetry": ["poetry-install"],
        "apps/setup-cfg": ["pyproject-toml-install"],
        "apps/setup-py": ["setup-py-install"],
        "apps/uv": ["uv-install"],
    }
    assert report.code == 0, report.data["findings"]
    # What pre-commit passes (the changed files) gives the same answer as the folders.
    changed = ["apps/poetry/pyproject.toml", "apps/poetry/poetry.lock", "apps/pipenv/Pipfile.lock"]
    changed += ["apps/uv/uv.lock", "apps/setup-py/setup.py", "apps/setup-cfg/setup.cfg"]
    assert detect_json(repo, *changed).data == report.data
    assert detect_json(repo, "apps/poetry/poetry.lock").data == detect_json(repo, "apps/poetry").data
    for name, app in report.apps.items():  # and bin/detect, as the build runs it, agrees
        for bp in app["group"]:
            assert run_bin_detect(bp, repo / name, repo.parent / f"plan-{bp}.toml").returncode == 0


def test_no_lint_false_positives_on_projects_pip_builds_fine(make_git_repo) -> None:
    repo = make_git_repo(
        {
            "pyproject.toml": '[tool.boxwise]\nexclude = ["apps/uv/libs"]\n',
            **fixture("poetry", "apps/poetry"),  # [tool.poetry], no [project]
            **fixture("setup-cfg", "apps/setup-cfg"),  # [build-system] only, metadata in setup.cfg
            **fixture("uv", "apps/uv"),  # a virtual uv project: no [build-system] on purpose
            # [project] with static dependencies, no [build-system], no version: installed in place
            "apps/in-place/pyproject.toml": '[project]\nname = "p"\ndependencies = ["six==1.16.0"]\n',
            "apps/in-place/Procfile": "web: python -m http.server $PORT\n",
            # requirements.txt decides what is installed; pyproject.toml only holds settings
            "apps/req/requirements.txt": "six==1.16.0\n",
            "apps/req/pyproject.toml": "[tool.ruff]\nline-length = 100\n",
            "apps/req/Procfile": "web: python -m http.server $PORT\n",
        }
    )
    report = detect_json(repo)
    pyproject_rules = {"project-name", "project-version", "build-system"}
    assert [f for f in report.data["findings"] if f["rule"] in pyproject_rules] == []
    # ... while a project pip does build through its backend still needs them
    repo2 = make_git_repo(
        {
            "apps/dyn/pyproject.toml": '[project]\ndescription = "x"\ndynamic = ["dependencies"]\n',
            "apps/dyn/Procfile": "web: python -m http.server $PORT\n",
        },
        name="repo2",
    )
    assert sorted(rule for _, _, rule in detect_json(repo2).rules()) == [
        "build-system",
        "project-name",
        "project-version",
    ]


@pytest.mark.parametrize(
    ("files", "named"),
    [
        (
            {"requirements.txt": "six==1.16.0\n", "Pipfile": '[packages]\nsix = "*"\n', "poetry.lock": ""},
            ["requirements.txt (pip)", "Pipfile (Pipenv)", "poetry.lock (Poetry)"],
        ),
        (
            {"environment.yml": "dependencies: [flask]\n", "Procfile": "web: python app.py\n"},
            ["environment.yml"],
        ),
        ({"pixi.toml": "[project]\n", "Procfile": "web: python app.py\n"}, ["pixi.toml"]),
        ({"setup.cfg": "[metadata]\nname = x\n"}, ["setup.cfg"]),
        (  # GCP's builders/testdata/python/generic/poetry_uvicorn: Poetry settings, no lock
            {
                "pyproject.toml": '[tool.poetry]\nname = "x"\npackage-mode = false\n\n'
                '[tool.poetry.dependencies]\npython = "^3.9"\nfastapi = "*"\nuvicorn = "*"\n',
                "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
            },
            ["pyproject.toml", "[tool.poetry]", "no poetry.lock", "`poetry lock`"],
        ),
    ],
    ids=["several", "conda", "pixi", "setup-cfg-alone", "poetry-without-lock"],
)
def test_a_refused_app_is_one_error_in_lint_and_the_same_line_from_bin_detect(
    make_git_repo, files: dict[str, str], named: list[str]
) -> None:
    repo = make_git_repo({f"apps/a/{name}": text for name, text in files.items()})
    report = detect_json(repo)
    assert report.code == 1
    assert report.apps["apps/a"]["group"] == []
    errors = [f for f in report.data["findings"] if f["severity"] == "error"]
    assert [f["rule"] for f in errors] == ["package-manager"]
    line = f"{errors[0]['message']}; {errors[0]['fix']}"
    for name in named:
        assert name in line
    # bin/detect, as the build runs it, errors (exit 1: a CNB detect error) with the very same line
    for bp in ("pip-install", "pipenv-install", "poetry-install", "uv-install", "procfile-run"):
        result = run_bin_detect(bp, repo / "apps/a", repo.parent / "plan.toml")
        assert result.returncode == 1, (bp, result.stdout)
        assert result.stdout.strip() == f"ERROR: {line}"


def test_the_app_chooses_its_manager_in_its_pyproject(make_git_repo) -> None:
    setting = '[tool.boxwise]\npackage-manager = "{}"\n'
    both = {
        "requirements.txt": "six==1.16.0\n",
        **{k.split("/", 1)[1]: v for k, v in fixture("pipenv", "x").items()},
    }
    repo = make_git_repo(
        {
            **{f"apps/pip/{k}": v for k, v in both.items()},
            "apps/pip/pyproject.toml": setting.format("pip"),
            **{f"apps/pipenv/{k}": v for k, v in both.items()},
            "apps/pipenv/pyproject.toml": setting.format("pipenv"),
            **{f"apps/none/{k}": v for k, v in both.items()},
            "apps/none/pyproject.toml": setting.format("uv"),
            **{f"apps/typo/{k}": v for k, v in both.items()},
            "apps/typo/pyproject.toml": setting.format("conda"),
        }
    )
    report = detect_json(repo)
    assert groups(report)["apps/pip"] == ["pip-install"]
    assert groups(report)["apps/pipenv"] == ["pipenv-install"]
    refused = {f["path"]: f["message"] for f in report.data["findings"] if f["rule"] == "package-manager"}
    where = "pyproject.toml: [tool.boxwise] package-manager"
    assert refused == {
        "apps/none/pyproject.toml": f'{where} = "uv", but there is no uv.lock',
        "apps/typo/pyproject.toml": f"{where} = 'conda' is none of pip, pipenv, poetry, uv",
    }


def test_a_stale_pipfile_lock_is_refused_and_a_pipfile_alone_warned(make_git_repo) -> None:
    stale = fixture("pipenv", "apps/stale")
    stale["apps/stale/Pipfile"] += 'requests = "*"\n'
    unlocked = {k: v for k, v in fixture("pipenv", "apps/unlocked").items() if not k.endswith(".lock")}
    repo = make_git_repo({**stale, **unlocked})
    report = detect_json(repo)
    finding = report.finding("package-manager")
    assert finding["path"] == "apps/stale/Pipfile.lock"
    assert "Pipfile.lock is out of date with Pipfile" in finding["message"]
    assert "pipenv lock" in finding["fix"]
    assert report.apps["apps/unlocked"]["group"] == ["pipenv-install"]
    warning = report.finding("lock-missing")
    assert (warning["path"], warning["severity"]) == ("apps/unlocked/Pipfile", "warning")
    result = run_bin_detect("pipenv-install", repo / "apps/stale", repo.parent / "plan.toml")
    assert result.returncode == 1 and "Pipfile.lock is out of date with Pipfile" in result.stdout


def test_python_project_files_no_group_builds_are_reported_not_skipped(make_git_repo) -> None:
    repo = make_git_repo(
        {
            "apps/lock-only/poetry.lock": "[metadata]\nlock-version = '2.1'\n",
            "apps/tools-only/setup.cfg": "[flake8]\nmax-line-length = 100\n",  # settings: not an app
            "apps/tools-only/README.md": "docs\n",
        }
    )
    report = detect_json(repo)
    assert sorted(report.apps) == ["apps/lock-only"]
    finding = report.finding("package-manager")
    assert "poetry.lock without pyproject.toml" in finding["message"]
