"""The rebased config's env: the new base's values for what the image inherited, its own kept."""

from __future__ import annotations

from boxwise.builder.rebase_config import merged_env

OLD = ["PATH=/usr/local/bin:/usr/bin:/bin", "PYTHON_VERSION=3.11.2", "GONE=1"]
NEW = ["PATH=/usr/local/bin:/usr/bin:/bin:/opt/patch/bin", "PYTHON_VERSION=3.11.9", "LANG=C.UTF-8"]
IMAGE = [
    "PATH=/layers/pip-install/packages/bin:/usr/local/bin:/usr/bin:/bin",
    "PYTHON_VERSION=3.11.2",
    "GONE=1",
    "VIRTUAL_ENV=/layers/pip-install/packages",
    "PORT=8080",
]


def test_inherited_values_follow_the_new_base_and_the_apps_own_stay():
    env = dict(item.split("=", 1) for item in merged_env(IMAGE, OLD, NEW))

    assert env == {
        "PATH": "/layers/pip-install/packages/bin:/usr/local/bin:/usr/bin:/bin:/opt/patch/bin",
        "PYTHON_VERSION": "3.11.9",
        "LANG": "C.UTF-8",
        "VIRTUAL_ENV": "/layers/pip-install/packages",
        "PORT": "8080",
    }


def test_without_the_old_base_the_images_values_are_kept_over_the_new_base():
    env = dict(item.split("=", 1) for item in merged_env(IMAGE, None, NEW))

    assert env["PATH"] == "/layers/pip-install/packages/bin:/usr/local/bin:/usr/bin:/bin"
    assert env["PYTHON_VERSION"] == "3.11.2" and env["LANG"] == "C.UTF-8" and env["GONE"] == "1"
