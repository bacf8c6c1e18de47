"""Bad input gets a clear finding or one error line and the right exit code, never a traceback.

The tests run as root, and chmod 000 does not stop root from reading a file. The honest ways to
give boxwise a file it cannot read are a folder or a FIFO where the file should be, and a
symlink loop: each is what a broken checkout can really hold.
"""

from __future__ import annotations

import os
import time

from support.cli import run_boxwise

from .helpers import detect_json

PROCFILE = "web: python -m api\n"


def test_binary_garbage_as_an_app_pyproject_is_a_finding(make_git_repo) -> None:
    garbage = bytes(range(256)) * 8
    repo = make_git_repo(
        {
            "apps/bin/pyproject.toml": garbage,
            "apps/bin/Procfile": PROCFILE,
            "apps/text/pyproject.toml": b"\x00\x01garbage = = =\n",
            "apps/text/Procfile": PROCFILE,
        }
    )
    report = detect_json(repo)
    assert report.code == 1
    assert report.rules("apps/bin/pyproject.toml") == [
        ("apps/bin/pyproject.toml", 2, "encoding")
    ]  # after 0x0a
    assert "not UTF-8" in report.finding("encoding")["message"]
    assert report.rules("apps/text/pyproject.toml") == [("apps/text/pyproject.toml", 1, "toml-syntax")]


def test_binary_garbage_as_the_root_config_is_one_error_line(make_git_repo) -> None:
    repo = make_git_repo({"pyproject.toml": b"\xff\xfe\x00garbage", "apps/a/Procfile": PROCFILE})
    result = run_boxwise("detect", cwd=repo)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "pyproject.toml: not valid TOML" in result.stderr


def test_a_10_mb_requirements_file_is_refused_without_being_parsed(make_git_repo) -> None:
    repo = make_git_repo({"apps/big/Procfile": PROCFILE})
    line = b"requests>=2.31.0\n"  # each line would be an `unpinned` warning if it were parsed
    (repo / "apps/big/requirements.txt").write_bytes(line * (10 * 1024 * 1024 // len(line) + 1))
    report = detect_json(repo)
    assert report.code == 1
    assert report.rules() == [("apps/big/requirements.txt", None, "file-too-large")]
    assert "10.0 MiB" in report.finding("file-too-large")["message"]


def test_a_non_utf8_procfile_names_the_line(make_git_repo) -> None:
    procfile = b"web: python -m app\nworker: echo caf\xe9\n"
    repo = make_git_repo({"apps/a/Procfile": procfile, "apps/a/requirements.txt": "x==1\n"})
    report = detect_json(repo)
    assert report.code == 1
    assert report.rules("apps/a/Procfile") == [("apps/a/Procfile", 2, "encoding")]
    assert "byte 0xe9 at line 2, column 17" in report.finding("encoding")["message"]


def test_a_folder_or_fifo_named_requirements_txt_is_unreadable_exit_2(make_git_repo) -> None:
    repo = make_git_repo({f"apps/{name}/Procfile": PROCFILE for name in ("dir", "fifo", "ok")})
    (repo / "apps/dir/requirements.txt").mkdir()
    os.mkfifo(repo / "apps/fifo/requirements.txt")  # opening it to read would block forever
    started = time.monotonic()
    report = detect_json(repo)
    assert time.monotonic() - started < 10
    assert report.code == 2
    assert report.rules() == [
        ("apps/dir/requirements.txt", None, "unreadable"),
        ("apps/fifo/requirements.txt", None, "unreadable"),
    ]
    assert "is a folder" in report.data["findings"][0]["message"]
    # the other apps are still reported: nothing is lost
    assert report.apps["apps/ok"]["group"] == ["procfile-run"]
    assert report.apps["apps/fifo"]["failed"]["pip-install"] == "requirements.txt is not a regular file"


def test_a_symlink_loop_as_requirements_txt_is_unreadable(make_git_repo) -> None:
    repo = make_git_repo({"apps/a/Procfile": PROCFILE})
    os.symlink("requirements.txt", repo / "apps/a/requirements.txt")
    report = detect_json(repo)
    assert report.code == 2
    assert report.rules() == [("apps/a/requirements.txt", None, "unreadable")]
    assert "symbolic links" in report.data["findings"][0]["message"]


def test_a_requirements_file_that_includes_itself(make_git_repo) -> None:
    requirements = "click==8.1.7\n-r requirements.txt\n"
    repo = make_git_repo({"apps/a/requirements.txt": requirements, "apps/a/Procfile": PROCFILE})
    report = detect_json(repo)
    assert report.code == 1
    assert report.rules() == [("apps/a/requirements.txt", 2, "include-cycle")]


def test_a_path_that_does_not_exist_is_one_error_line(make_git_repo) -> None:
    repo = make_git_repo({"apps/a/Procfile": PROCFILE})
    result = run_boxwise("detect", "apps/nope", cwd=repo)
    assert result.returncode == 2
    assert result.stderr == (
        "boxwise: error: apps/nope: no such file or folder; pass a repo, an app folder or files in it\n"
    )


def test_an_output_file_that_cannot_be_written_is_one_error_line(make_git_repo) -> None:
    repo = make_git_repo({"apps/a/Procfile": PROCFILE})
    result = run_boxwise("detect", "--output", str(repo / "no/such/dir/out.json"), cwd=repo)
    assert result.returncode == 2
    assert result.stderr.startswith("boxwise: error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
