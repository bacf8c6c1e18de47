"""What an image runs: Procfile lines as Heroku runs them, and the process inferred without one.

The rules are buildpacks/shared/processes.py, the one copy the build and `boxwise detect` share;
these tests call it as `boxwise detect` loads it, on real app folders.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from boxwise.builder.builder_toml import load_builder
from boxwise.lint.detection import load_shared

processes = load_shared(load_builder(), "processes")

DJANGO_MANAGE = """\
import os, sys
if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
"""
FLASK = "from flask import Flask\napp = Flask(__name__)\n"
FLASK_MAIN = FLASK + "if __name__ == '__main__':\n    app.run(host='0.0.0.0')\n"
FASTAPI = "from fastapi import FastAPI\napp = FastAPI()\n"


def write(folder: Path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return str(folder)


def command(app: str, environ: dict[str, str] | None = None) -> str:
    choice = processes.infer_process(app, environ or {})
    assert isinstance(choice, processes.Choice), getattr(choice, "hint", choice)
    return choice.command


@pytest.mark.parametrize(
    ("line", "runs"),
    [
        ("gunicorn app:app", ["gunicorn", "app:app"]),  # one command: exec'ed, no shell
        ("gunicorn -b 0.0.0.0:$PORT app:app", ["/bin/sh", "-c", "exec gunicorn -b 0.0.0.0:$PORT app:app"]),
        ("./migrate && gunicorn app:app", ["/bin/sh", "-c", "./migrate && gunicorn app:app"]),  # both run
        ("python a.py; python b.py", ["/bin/sh", "-c", "python a.py; python b.py"]),
        ("celery -A proj worker | tee log", ["/bin/sh", "-c", "celery -A proj worker | tee log"]),
        ("python -c 'print(1)'", ["/bin/sh", "-c", "exec python -c 'print(1)'"]),
        ("python app.py 🚀", ["python", "app.py", "🚀"]),
        ("FLASK_ENV=prod flask run", ["/bin/sh", "-c", "exec env FLASK_ENV=prod flask run"]),
    ],
)
def test_procfile_lines_run_as_heroku_runs_them(line: str, runs: list[str]) -> None:
    assert processes.command_list(line) == runs


def test_django_runs_its_wsgi_application_with_gunicorn_else_runserver_with_a_warning(tmp_path: Path) -> None:
    files = {
        "manage.py": DJANGO_MANAGE,
        "mysite/settings.py": "WSGI_APPLICATION = 'mysite.wsgi.application'\n",
        "mysite/wsgi.py": "application = None\n",
        "requirements.txt": "Django==5.1\ngunicorn==23.0.0\n",
    }
    assert command(write(tmp_path / "a", files)) == "gunicorn mysite.wsgi:application"
    files["requirements.txt"] = "Django==5.1\n"
    choice = processes.infer_process(write(tmp_path / "b", files), {})
    assert choice.command == "python manage.py runserver 0.0.0.0:$PORT --noreload"
    assert "add gunicorn" in choice.warning


def test_wsgi_and_asgi_callables_get_the_server_the_app_depends_on(tmp_path: Path) -> None:
    flask = write(tmp_path / "flask", {"app.py": FLASK, "requirements.txt": "flask\ngunicorn\n"})
    assert command(flask) == "gunicorn app:app"
    fastapi = write(
        tmp_path / "fastapi", {"main.py": FASTAPI, "requirements.txt": "fastapi[standard]==0.115\n"}
    )
    assert command(fastapi) == "uvicorn main:app --host 0.0.0.0 --port $PORT"
    factory = write(
        tmp_path / "factory",
        {
            "wsgi.py": "def create_app():\n    pass\n",
            "pyproject.toml": '[project]\ndependencies = ["waitress"]\n',
        },
    )
    assert command(factory) == "waitress-serve --listen=0.0.0.0:$PORT wsgi:create_app()"


def test_a_callable_with_no_server_runs_its_main_block_or_says_what_to_add(tmp_path: Path) -> None:
    runs = write(tmp_path / "runs", {"app.py": FLASK_MAIN, "requirements.txt": "flask\n"})
    assert command(runs) == "python app.py"
    bare = write(tmp_path / "bare", {"app.py": FLASK, "requirements.txt": "flask\n"})
    missing = processes.infer_process(bare, {})
    assert isinstance(missing, processes.NoProcess)
    assert missing.hint.startswith(
        "app.py defines the WSGI callable app:app but nothing serves it: add gunicorn"
    )


def test_s2i_settings_and_project_scripts_come_first(tmp_path: Path) -> None:
    s2i = write(
        tmp_path / "s2i",
        {
            ".s2i/environment": "APP_MODULE=testapp:application\n",
            "app.py": FLASK,
            "requirements.txt": "gunicorn\n",
        },
    )
    assert command(s2i) == "gunicorn testapp:application"
    assert command(s2i, {"APP_FILE": "serve.py"}) == "python serve.py"
    project = write(
        tmp_path / "project",
        {"pyproject.toml": '[project]\nname = "p"\nversion = "1"\n[project.scripts]\nserve = "p:main"\n'},
    )
    assert command(project) == "serve"
    # with requirements.txt, pip installs that file, not the project: its scripts are not there
    (tmp_path / "project" / "requirements.txt").write_text("six\n")
    (tmp_path / "project" / "main.py").write_text("if __name__ == '__main__':\n    pass\n")
    assert command(project) == "python main.py"
    (tmp_path / "project" / "requirements.txt").write_text("-e .\n")
    assert command(project) == "serve"


def test_a_package_with_a_main_module_runs_with_python_m(tmp_path: Path) -> None:
    app = write(tmp_path / "pkg", {"greet/__init__.py": "", "greet/__main__.py": "print('hi')\n"})
    assert command(app) == "python -m greet"


def test_hostile_files_do_not_hang_or_crash_inference(tmp_path: Path) -> None:
    app = write(
        tmp_path / "hostile",
        {"app.py": "(" * 100_000, "main.py": "x = 1\n" * 10, "requirements.txt": "-r requirements.txt\n"},
    )
    assert isinstance(processes.infer_process(app, {}), processes.NoProcess)


def test_s2i_app_home_runs_the_app_found_in_that_folder(tmp_path: Path) -> None:
    # s2i's examples/app-home-test-app: APP_HOME=project, project/wsgi.py, gunicorn in requirements.txt
    wsgi = "def application(environ, start_response):\n    return [b'hi']\n"
    files = {
        ".s2i/environment": "APP_HOME=project\n",
        "project/wsgi.py": wsgi,
        "requirements.txt": "gunicorn\n",
    }
    app = write(tmp_path / "home", files)
    home = 'export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" && cd project && exec '
    assert command(app) == home + "gunicorn wsgi:application"
    assert command(app, {"APP_FILE": "serve.py"}) == home + "python serve.py"
    assert processes.command_list(command(app))[:2] == ["/bin/sh", "-c"]
    # on a base with python3 alone, `python` after `exec` needs the link layer as a leading one does
    assert processes.procfile_uses_missing_python([command(app, {"APP_FILE": "serve.py"})])
    assert processes.procfile_uses_missing_python(["flask db upgrade; python app.py"])
    assert not processes.procfile_uses_missing_python([home + "gunicorn wsgi:application"])
    for bad in ("../elsewhere", "/etc", "missing"):
        outside = processes.infer_process(app, {"APP_HOME": bad})
        assert isinstance(outside, processes.NoProcess), bad
        assert outside.hint.startswith(f"APP_HOME={bad} (s2i) is not a folder of the app")


def test_a_gunicorn_conf_that_names_the_app_runs_gunicorn_alone_as_s2i_does(tmp_path: Path) -> None:
    conf = 'wsgi_app = "site.web:app"\nworkers = 2\n'
    files = {"gunicorn.conf.py": conf, "site/web.py": FLASK, "requirements.txt": "flask\ngunicorn\n"}
    app = write(tmp_path / "conf", files)
    assert command(app) == "gunicorn"
    (tmp_path / "conf" / "requirements.txt").write_text("flask\n")  # no gunicorn: no such rule
    assert isinstance(processes.infer_process(app, {}), processes.NoProcess)


def test_a_shared_module_loaded_first_in_a_fresh_process_finds_the_modules_it_imports(tmp_path: Path) -> None:
    """`boxwise build` reads the Python version (shared/pyversion.py) before any detect rule has
    run; the shared modules it imports by bare name (tomlsafe) must be found then too."""
    (tmp_path / "Pipfile").write_text('[requires]\npython_version = "3.11"\n')
    script = (
        "import sys\n"
        "from boxwise.builder.builder_toml import load_builder\n"
        "from boxwise.lint.detection import load_shared\n"
        "print(load_shared(load_builder(), 'pyversion').read_request(sys.argv[1]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "3.11" in done.stdout and "Pipfile" in done.stdout
