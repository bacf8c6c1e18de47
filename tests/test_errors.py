"""The one error handler: a user error is one line and exit 2, a bug is one line, a crash log and exit 3.

Every case runs the real CLI in a child process with no Docker engine reachable.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import run_boxwise
from support.serving import serving_thread

from boxwise import __version__
from tests.image.archives import docker_archive

TOKEN = "glpat-s3cret-t0ken-0123456789"
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}

# A command that fails as a bug would: the handler is the real one, the failure a stand-in for any.
CRASHING_COMMAND = """
import os

def run(args):
    raise RuntimeError(f"no answer from {os.environ['GITLAB_TOKEN']}\\nsecond line")
"""


def _crash(tmp_path: Path, *args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "crashing.py").write_text(CRASHING_COMMAND)
    code = (
        f"import boxwise.cli as cli; cli.COMMANDS[{args[0]!r}] = 'crashing:run'; raise SystemExit(cli.main())"
    )
    src = Path(__file__).resolve().parents[1] / "src"
    env = {
        **os.environ,
        **NO_ENGINE,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{src}",
        "XDG_CACHE_HOME": str(cache),
        "GITLAB_TOKEN": TOKEN,
    }
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )


def test_a_bug_is_one_line_a_crash_log_and_exit_3(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = f"https://ci:{TOKEN[::-1]}@gitlab.example.com/api"
    result = _crash(tmp_path, "plan", "--changed-since", url, cache=cache)
    log = cache / "boxwise" / "boxwise.log"
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"boxwise: unexpected error: RuntimeError: no answer from [hidden]; details in {log}"
    ]
    text = log.read_text()
    assert f"boxwise version: {__version__}\n" in text
    assert f"python version: {sys.version.splitlines()[0]}\n" in text
    assert "command line: boxwise plan --changed-since https://ci:[hidden]@gitlab.example.com/api\n" in text
    assert "Traceback (most recent call last):" in text
    assert 'crashing.py", line ' in text and ", in run\n" in text
    assert "RuntimeError: no answer from [hidden]\nsecond line\n" in text
    for secret in (TOKEN, TOKEN[::-1]):
        assert secret not in text and secret not in result.stderr


def test_a_build_variable_never_reaches_the_crash_log(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = _crash(
        tmp_path, "build", "app", "--env", "PIP_INDEX_URL=x-s3cret", "--env=A=b-s3cret", cache=cache
    )
    assert result.returncode == 3
    text = (cache / "boxwise" / "boxwise.log").read_text()
    assert "command line: boxwise build app --env PIP_INDEX_URL=[hidden] --env=A=[hidden]\n" in text
    assert "s3cret" not in text


def test_with_no_place_for_the_log_the_traceback_goes_to_stderr(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    result = _crash(tmp_path, "plan", cache=tmp_path / "not-a-folder")
    assert result.returncode == 3
    first, *rest = result.stderr.splitlines()
    assert first.startswith("boxwise: unexpected error: RuntimeError: no answer from [hidden]")
    assert first.endswith("; no crash log (Not a directory); the traceback follows")
    assert rest[0] == "Traceback (most recent call last):"
    assert TOKEN not in result.stderr


@pytest.mark.parametrize(
    ("toml", "line"),
    [
        (
            "[tool.boxwise]\nimage-prefix = 5",
            "[tool.boxwise] image-prefix must be a string, e.g. image-prefix = ",
        ),
        ("[tool.boxwise]\nbaseline = ['a']", "[tool.boxwise] baseline must be a string"),
        ("[tool.boxwise.build]\ncheck = 'false'", "[tool.boxwise.build] check must be true or false"),
        ("[tool.boxwise.build]\nbase = 3.12", "[tool.boxwise.build] base must be a string"),
        ("[tool.boxwise.build]\ncheck-timeout = true", "[tool.boxwise.build] check-timeout must be a number"),
        ("[tool.boxwise.gate]\nlowest-efficiency = [0.9]", "[tool.boxwise.gate] lowest-efficiency must be a"),
        ("[tool.boxwise.report]\nstrict = 1", "[tool.boxwise.report] strict must be true or false"),
    ],
)
def test_a_config_value_of_a_wrong_type_is_one_line_naming_file_and_key(
    make_git_repo, toml: str, line: str
) -> None:
    repo = make_git_repo({"pyproject.toml": toml + "\n", "app/requirements.txt": "flask==3.0.0\n"})
    for command in (("detect",), ("ci", "--apps", "app", "--post", "none")):
        result = run_boxwise(*command, cwd=repo, env=NO_ENGINE)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith(f"boxwise: error: {repo / 'pyproject.toml'}: {line}")


def test_a_missing_folder_for_dash_c_is_one_line(tmp_path: Path) -> None:
    result = run_boxwise("-C", str(tmp_path / "nowhere"), "detect")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"boxwise: error: -C {tmp_path / 'nowhere'}: cannot go there (No such file or directory); "
        "give a folder"
    ]


class _NotAnApi(http.server.BaseHTTPRequestHandler):
    """A server that answers every request with a web page, as a proxy's login page does."""

    disable_nagle_algorithm = True  # a body written apart from its headers goes out at once

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>sign in</html>")

    def log_message(self, *args: object) -> None:
        pass


def test_a_strict_post_the_server_fails_is_one_line_exit_1(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "image.tar", [[("f", "app/main.py", b"print(1)\n")]])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotAnApi)
    serving_thread(server).start()
    env = {
        **NO_ENGINE,
        "GITLAB_CI": "true",
        "CI_API_V4_URL": f"http://127.0.0.1:{server.server_port}/api/v4",
        "CI_MERGE_REQUEST_PROJECT_ID": "5",
        "CI_MERGE_REQUEST_IID": "7",
        "BOXWISE_GITLAB_TOKEN": TOKEN,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    try:
        result = run_boxwise(
            "report", f"docker-archive:{archive}", "--post", "gitlab", "--strict", cwd=tmp_path, env=env
        )
    finally:
        server.shutdown()
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        "boxwise: error: report not posted: GitLab answered 200 with something that is not JSON"
    ]
    assert TOKEN not in result.stdout
    assert not (tmp_path / "cache" / "boxwise" / "boxwise.log").exists()
