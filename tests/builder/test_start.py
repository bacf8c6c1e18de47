"""Real apps start: what Heroku, Paketo and s2i would run, the image runs (real engine, real PyPI).

Each test is one of the ways images failed to start before the buildpacks made a virtual
environment, ran Procfile lines as Heroku does and inferred the process: it fails on that code.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from support.cli import run_boxwise

from .helpers import (
    BASE,
    PREFIX,
    build,
    build_ok,
    free_port,
    get_when_up,
    http_get_from_image,
    run_image,
    write_app,
)

pytestmark = pytest.mark.engine

GUNICORN = "gunicorn==23.0.0\n"
WSGI = """\
import getpass, os

def app(environ, start_response):
    # print() with no flush: it reaches `docker logs` only when Python's output is unbuffered
    print(f"served {environ['PATH_INFO']} as {getpass.getuser()}")
    start_response("200 OK", [("Content-Type", "text/plain")])
    home = os.path.expanduser("~")
    with open(os.path.join(home, "visits"), "a") as visits:  # the run user's home is writable
        visits.write("1")
    return [f"hello from wsgi, home {home}".encode()]
"""
RUN_ITSELF = """\
import http.server, os, sys

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = " ".join(sys.argv[1:]).encode() or b"ran itself"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

if __name__ == "__main__":
    http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Hello).serve_forever()
"""
PLAIN_BASE = f"{PREFIX}/plain-base:1"


@pytest.fixture(scope="module")
def plain_base(base_image: str, docker_client) -> str:
    """The default base less `python` and the pip wheel: Debian with python3 alone, as plain bases are."""
    dockerfile = (
        f"FROM {BASE}\nRUN rm -f /usr/bin/python /usr/share/python-wheels/pip-*.whl && ! command -v python\n"
    )
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile.encode()))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=PLAIN_BASE, network_mode="host")
    return PLAIN_BASE


def test_console_scripts_run_and_the_run_user_has_a_home_and_unbuffered_logs(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "gunicorn-app",
        {
            "requirements.txt": GUNICORN,
            "wsgi.py": WSGI,
            # $PORT in the line: it runs through a shell, which exec's gunicorn (signals reach it)
            "Procfile": "web: gunicorn --bind 0.0.0.0:$PORT wsgi:app\nrelease: echo migrating\n",
        },
    )
    tag = f"{PREFIX}/gunicorn-app:1"
    out = build_ok(app, tag, tmp_path / "cache", "--check")
    assert "check: starts in " in out and "answers 200" in out
    container = docker_client.containers.run(
        tag, detach=True, network_mode="host", environment={"PORT": "18093"}, name=f"{PREFIX}-gunicorn"
    )
    try:
        answer = get_when_up(container, 18093)
        assert answer == "hello from wsgi, home /home/cnb"
        logs = container.logs().decode()
        assert "served / as cnb" in logs  # print() without flush, at once; getpass knows the user
        assert "Permission denied" not in logs  # gunicorn's control socket under HOME
    finally:
        container.remove(force=True)
    # every process starts by name, as in a pack-built image
    code, output = run_image(docker_client, tag, ["release"])
    assert (code, output) == (0, "migrating\n")


def test_a_procfile_chain_runs_every_command_and_an_emoji_line_builds(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "chain-app",
        {
            "app.py": RUN_ITSELF,
            "Procfile": (
                "web: echo ready > /tmp/ready && python3 app.py 🚀 launched\nworker: echo 'ünïcode ✓'\n"
            ),
        },
    )
    tag = f"{PREFIX}/chain-app:1"
    build_ok(app, tag, tmp_path / "cache")
    assert http_get_from_image(docker_client, tag, "chain-app") == "🚀 launched"
    config = docker_client.images.get(tag).attrs["Config"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "echo ready > /tmp/ready && python3 app.py 🚀 launched"]
    processes = json.loads(config["Labels"]["io.buildpacks.build.metadata"])["processes"]
    assert {p["type"] for p in processes} == {"web", "worker"}
    assert run_image(docker_client, tag, ["worker"]) == (0, "ünïcode ✓\n")


def test_without_a_procfile_a_wsgi_callable_is_served_by_gunicorn(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = write_app(tmp_path / "wsgi-app", {"requirements.txt": GUNICORN, "wsgi.py": WSGI})
    tag = f"{PREFIX}/wsgi-app:1"
    out = build_ok(app, tag, tmp_path / "cache", "--check")
    assert "no Procfile: web process `gunicorn wsgi:app` (WSGI callable wsgi:app, served by gunicorn)" in out
    assert "answers 200" in out
    # lint asks the same function: no `no-process` warning for this app
    detect = run_boxwise("detect", str(app), "--format", "json")
    assert detect.returncode == 0 and "no-process" not in detect.stdout, detect.stdout + detect.stderr


def test_a_callable_nothing_serves_is_refused_with_what_to_add(base_image: str, tmp_path: Path) -> None:
    # s2i would run `python app.py`, which defines `app` and exits at once; boxwise says so instead
    app = write_app(
        tmp_path / "flaskish",
        {"requirements.txt": "six==1.16.0\n", "app.py": "import six\napp = object()\n"},
    )
    result = build(app, f"{PREFIX}/flaskish:1", tmp_path / "cache")
    assert result.returncode == 2
    assert "app.py defines the WSGI callable app:app but nothing serves it: add gunicorn" in result.stdout
    assert result.stderr.count("\n") == 1
    detect = run_boxwise("detect", str(app), "--format", "json")
    assert json.loads(detect.stdout)["findings"][0]["rule"] == "no-process"
    assert "nothing serves it: add gunicorn" in json.loads(detect.stdout)["findings"][0]["fix"]


def test_check_fails_the_build_when_the_process_exits_and_shows_its_last_lines(
    base_image: str, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "crash-app",
        {
            "Procfile": "web: python3 crash.py\n",
            "crash.py": "print('booting')\nraise SystemExit('bad config')\n",
        },
    )
    result = build(app, f"{PREFIX}/crash-app:1", tmp_path / "cache", "--check")
    assert result.returncode == 1
    assert "the web process exited with code 1 before answering on PORT" in result.stderr
    assert "  | booting" in result.stdout and "  | bad config" in result.stdout


def test_check_names_the_port_the_process_listens_on_when_it_is_not_port(
    base_image: str, tmp_path: Path
) -> None:
    """s2i samples that bind gunicorn to 8085 in their own config: the check says so, not just
    that nothing answered."""
    fixed = free_port()
    app = write_app(
        tmp_path / "fixed-port-app",
        {
            "Procfile": "web: python3 serve.py\n",
            "serve.py": "from http.server import HTTPServer, SimpleHTTPRequestHandler\n"
            f"HTTPServer(('0.0.0.0', {fixed}), SimpleHTTPRequestHandler).serve_forever()\n",
        },
    )
    result = build(app, f"{PREFIX}/fixed-port-app:1", tmp_path / "cache", "--check", "--check-timeout", "3")
    assert result.returncode == 1
    assert "no HTTP answer on PORT=" in result.stderr
    assert f"it listens on {fixed}, not on PORT: bind to 0.0.0.0:$PORT" in result.stderr


def test_editable_installs_and_scripts_work_on_a_base_with_python3_alone(
    plain_base: str, docker_client, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "editable-app",
        {
            "requirements.txt": "-e ./libs/greet\n",
            "libs/greet/pyproject.toml": (
                '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
                '[project]\nname = "greet"\nversion = "1.0"\n[project.scripts]\ngreet = "greet:main"\n'
            ),
            "libs/greet/greet/__init__.py": "def main():\n    print('greetings from an editable install')\n",
            "Procfile": "web: python app.py editable\nworker: greet\n",
            "app.py": RUN_ITSELF,
        },
    )
    tag = f"{PREFIX}/editable-app:1"
    out = build_ok(app, tag, tmp_path / "cache", "--base", plain_base, "--check")
    assert "answers 200" in out
    # `python` in the Procfile works although the base has only python3 (the venv has both)
    assert http_get_from_image(docker_client, tag, "editable-app") == "editable"
    assert run_image(docker_client, tag, ["worker"]) == (0, "greetings from an editable install\n")
    # pip came from the platform for the build only: none in the image
    code, output = run_image(docker_client, tag, ["python3", "-c", "import pip"])
    assert code != 0 and "No module named 'pip'" in output


def test_python_in_a_procfile_works_on_a_plain_base_without_any_dependency(
    plain_base: str, docker_client, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "stdlib-app", {"Procfile": "web: python app.py stdlib\n", "app.py": RUN_ITSELF}
    )
    tag = f"{PREFIX}/stdlib-app:1"
    out = build_ok(app, tag, tmp_path / "cache", "--base", plain_base)
    assert "the base has no `python`, only python3: added a launch layer linking it" in out
    assert http_get_from_image(docker_client, tag, "stdlib-app") == "stdlib"
