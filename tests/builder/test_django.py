"""Django's collectstatic at build time (docs/django.md), with real Django from PyPI in a real build.

One app folder and one layer cache for the module, so Django is downloaded and installed once;
each test puts the app's files back as they were before it changes them.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import build, build_ok, run_image, write_app

pytestmark = [pytest.mark.engine, pytest.mark.slow]

MANAGE = """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""
SETTINGS = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "only-for-this-test"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles", "web",
]
ROOT_URLCONF = "mysite.urls"
STATIC_URL = "static/"
"""
STATIC_ROOT = 'STATIC_ROOT = BASE_DIR / "staticfiles"\n'
FILES = {
    "requirements.txt": "Django>=5.2,<5.3\n",
    "manage.py": MANAGE,
    "mysite/__init__.py": "",
    "mysite/settings.py": SETTINGS + STATIC_ROOT,
    "mysite/urls.py": "urlpatterns = []\n",
    "web/__init__.py": "",
    "web/static/web/site.css": "body { color: teal; }\n",
    "Procfile": "web: python manage.py runserver 0.0.0.0:$PORT\n",
}
# Lists the image's static files as the run user sees them: owner, mode, the app's own css.
SHOW = [
    "sh",
    "-c",
    "id -u; stat -c '%u:%g %a' /workspace/staticfiles/admin/css/base.css;"
    " cat /workspace/staticfiles/web/site.css",
]


# A repository of this module's own: other sessions on the engine remove the shared test prefix.
PREFIX = f"boxwise-test-django-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module", autouse=True)
def remove_images(docker_client) -> Iterator[None]:
    yield
    for image in docker_client.images.list(name=f"{PREFIX}/*"):
        for tag in image.tags:
            with contextlib.suppress(Exception):
                docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("django")
    return root / "app", root / "cache"


@pytest.fixture
def app(shared: tuple[Path, Path], base_image: str) -> Iterator[Path]:
    folder = shared[0]
    shutil.rmtree(folder, ignore_errors=True)
    yield write_app(folder, FILES)


def image_id(out: str) -> str:
    """The image ID the build reported (`image: docker://NAME  id: sha256:...`)."""
    return next(line.split(" id: ")[1].split()[0] for line in out.splitlines() if line.startswith("image: "))


def test_collected_static_files_are_in_the_image_for_the_run_user(
    app: Path, shared: tuple[Path, Path], docker_client
) -> None:
    tag = f"{PREFIX}/django-static:1"
    out = build_ok(app, tag, shared[1])
    assert "$ python manage.py collectstatic --noinput" in out
    assert "static files copied to '/workspace/staticfiles'" in out
    assert "app:app-build: rebuilt: written by collectstatic" in out
    code, shown = run_image(docker_client, tag, SHOW)
    assert code == 0, shown
    assert shown.splitlines() == ["1000", "1000:1000 644", "body { color: teal; }"]
    assert not (app / "staticfiles").exists()  # collected in the build, never on the host
    # What a build that would skip the build container must see: this app's build writes into it.
    (record,) = (shared[1] / "apps").glob("app-*/layers.json")
    assert json.loads(record.read_text())["app_steps"] == ["collectstatic"]


def test_a_rebuild_gives_the_same_image(app: Path, shared: tuple[Path, Path], docker_client) -> None:
    first = f"{PREFIX}/django-static:again-1"
    second = f"{PREFIX}/django-static:again-2"
    out_first = build_ok(app, first, shared[1])
    out = build_ok(app, second, shared[1])
    assert "app:app-build: reused (key unchanged)" in out  # the same bytes, collected anew
    # collectstatic ran again: the host-side fast path is never taken for it (appwrites.writes_app)
    assert "static files copied" in out and "fast path: not taken" in out
    assert image_id(out_first) == image_id(out) == docker_client.images.get(second).id


def test_disable_collectstatic_skips_it_from_env_or_the_environment(
    app: Path, shared: tuple[Path, Path], docker_client
) -> None:
    tag = f"{PREFIX}/django-static:disabled"
    for extra, env in ((["--env", "DISABLE_COLLECTSTATIC=1"], {}), ([], {"DISABLE_COLLECTSTATIC": "1"})):
        out = build_ok(app, tag, shared[1], *extra, env=env)
        assert "collectstatic: skipped: DISABLE_COLLECTSTATIC is set" in out
        assert "app-build" not in out
        code, shown = run_image(docker_client, tag, ["ls", "/workspace"])
        assert code == 0 and "staticfiles" not in shown.split()


def test_a_django_app_without_static_root_builds_without_collectstatic(
    app: Path, shared: tuple[Path, Path], docker_client
) -> None:
    (app / "mysite" / "settings.py").write_text(SETTINGS)
    tag = f"{PREFIX}/django-static:no-root"
    out = build_ok(app, tag, shared[1])
    assert "collectstatic: skipped: the settings set no STATIC_ROOT" in out
    assert "static files copied" not in out and "app-build" not in out
    code, shown = run_image(docker_client, tag, ["ls", "/workspace"])
    assert code == 0 and "staticfiles" not in shown.split()


def test_a_failing_collectstatic_fails_the_build_in_one_line_with_its_last_lines(
    app: Path, shared: tuple[Path, Path]
) -> None:
    # The manifest storage refuses a stylesheet that names a file the app does not have.
    settings = SETTINGS + STATIC_ROOT
    settings += 'STORAGES = {"staticfiles": {"BACKEND": '
    settings += '"django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}\n'
    (app / "mysite" / "settings.py").write_text(settings)
    (app / "web" / "static" / "web" / "site.css").write_text('body { background: url("missing.png"); }\n')
    result = build(app, f"{PREFIX}/django-static:fails", shared[1])
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr
    first, *rest = result.stderr.splitlines()
    assert first.startswith(
        f"boxwise: error: {app}/manage.py: `python manage.py collectstatic --noinput` failed"
    )
    assert "missing.png" in first and "DISABLE_COLLECTSTATIC=1" in first
    assert rest and all(line.startswith("  | ") for line in rest)  # the command's last lines
    assert "boxwise/" not in result.stderr  # no traceback of boxwise's own


def test_settings_that_need_a_variable_fail_and_build_with_it(app: Path, shared: tuple[Path, Path]) -> None:
    (app / "mysite" / "settings.py").write_text(
        "import os\n" + SETTINGS.replace('"only-for-this-test"', 'os.environ["SECRET_KEY"]') + STATIC_ROOT
    )
    tag = f"{PREFIX}/django-static:secret"
    result = build(app, tag, shared[1])
    assert result.returncode == 2
    assert "KeyError: 'SECRET_KEY'" in result.stderr.splitlines()[0]
    assert "--env NAME=VALUE" in result.stderr.splitlines()[0]
    out = build_ok(app, tag, shared[1], "--env", "SECRET_KEY=build-only")
    assert "static files copied" in out
