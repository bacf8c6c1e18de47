"""Issue 12 item 10: hostile input is one line and exit 2 (or a finding), never a traceback, and
`report` still writes its artifacts.

Rich markup in names and commands, non-UTF-8 file names, structures nested past Python's
recursion limit (config JSON, a deep path with a whiteout, a `-r` chain, TOML), an odd lifecycle
label, odd JSON from the comment API.
"""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest
from support.cli import run_boxwise
from support.report import gitlab_env

from tests.image.archives import docker_archive, layer_tar, sha

from .rawarchive import raw_archive as _raw_archive


def _no_traceback(result) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "RecursionError" not in result.stderr and "MarkupError" not in result.stderr


def _bytes_layer(names: list[bytes]) -> bytes:
    """A layer whose entry names are raw bytes (not UTF-8), as a hostile image may hold."""
    buffer = io.BytesIO()
    with tarfile.open(
        fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape"
    ) as tar:
        for raw in names:
            info = tarfile.TarInfo(raw.decode("utf-8", "surrogateescape"))
            info.size = 5
            tar.addfile(info, io.BytesIO(b"12345"))
    return buffer.getvalue()


def test_rich_markup_in_a_command_a_file_name_and_a_tag(tmp_path) -> None:
    layers = [[("f", "app/[/x]", 10), ("f", "app/[bold]b[/]", 10)], [("f", "app/[/x]", 10)]]
    archive = docker_archive(tmp_path / "markup.tar", layers, commands=["RUN [/x] [link=x]", "[/]"])
    for args in (("inspect",), ("gate",), ("report",)):
        result = run_boxwise(*args, f"docker-archive:{archive}", env={"XDG_CACHE_HOME": str(tmp_path / "c")})
        _no_traceback(result)
        assert result.returncode in (0, 1), result.stderr
        if args[0] != "gate":  # gate prints rules, not names
            assert "[/x]" in result.stdout


def test_non_utf8_file_names_reach_the_step_summary(tmp_path) -> None:
    layer = _bytes_layer([b"app/caf\xe9.txt", b"app/\xff\xfe"])
    archive = _raw_archive(
        tmp_path / "latin1.tar",
        [layer, layer],
        json.dumps(
            {"os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha(layer), sha(layer)]}}
        ).encode(),
    )
    summary = tmp_path / "summary.md"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "PYTHONIOENCODING": "utf-8",
        "XDG_CACHE_HOME": str(tmp_path / "c"),
    }
    result = run_boxwise("report", f"docker-archive:{archive}", "--json", str(tmp_path / "r.json"), env=env)
    _no_traceback(result)
    assert result.returncode in (0, 1), result.stderr
    assert summary.read_text(encoding="utf-8") and (tmp_path / "r.json").exists()


def test_a_deeply_nested_config_is_one_line(tmp_path) -> None:
    layer = layer_tar([("f", "a", 1)])
    nested = "[" * 100_000 + "]" * 100_000
    config = (
        '{"os": "linux", "x": '
        + nested
        + ', "rootfs": {"type": "layers", "diff_ids": ["'
        + sha(layer)
        + '"]}}'
    ).encode()
    archive = _raw_archive(tmp_path / "deep.tar", [layer], config)
    result = run_boxwise("inspect", f"docker-archive:{archive}")
    _no_traceback(result)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0, result.stderr


def test_a_1500_level_path_with_a_whiteout_reads(tmp_path) -> None:
    deep = "/".join(["d"] * 1500)
    archive = docker_archive(tmp_path / "deep-path.tar", [[("f", f"{deep}/f", 10)], [("w", f"{deep}/f")]])
    result = run_boxwise(
        "inspect",
        f"docker-archive:{archive}",
        "--format",
        "json",
        env={"XDG_CACHE_HOME": str(tmp_path / "c")},
    )
    _no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["wasted_bytes"] == 10  # dive counts the removed file as wasted


def test_a_400_deep_requirements_chain_and_nested_toml(make_git_repo) -> None:
    files: dict[str, str | bytes] = {"apps/a/Procfile": "web: python -m a\n"}
    files["apps/a/requirements.txt"] = "-r r1.txt\n"
    for number in range(1, 400):
        files[f"apps/a/r{number}.txt"] = f"-r r{number + 1}.txt\n"
    files["apps/a/r400.txt"] = "flask==3.0.0\n"
    files["apps/b/Procfile"] = "web: python -m b\n"
    files["apps/b/pyproject.toml"] = "x = " + "[" * 5000 + "]" * 5000 + "\n"
    repo = make_git_repo(files)
    result = run_boxwise("detect", "--format", "json", cwd=repo)
    _no_traceback(result)
    data = json.loads(result.stdout)
    assert {f["path"] for f in data["findings"] if f["rule"] == "toml-syntax"} == {"apps/b/pyproject.toml"}
    assert result.returncode in (1, 2)


@pytest.mark.parametrize(
    "label",
    [
        '{"buildpacks": {"a": 1}}',
        '{"buildpacks": [{"layers": ["x"]}], "app": {"sha": 1}}',
        '{"buildpacks": [{"id": ["x"], "layers": {"l": {"sha": ["no"]}}}], "launcher": "x"}',
        "[1, 2, 3]",
    ],
)
def test_an_odd_lifecycle_label_is_ignored(tmp_path, label) -> None:
    archive = docker_archive(
        tmp_path / "label.tar", [[("f", "a", 1)]], labels={"io.buildpacks.lifecycle.metadata": label}
    )
    result = run_boxwise("inspect", f"docker-archive:{archive}", env={"XDG_CACHE_HOME": str(tmp_path / "c")})
    _no_traceback(result)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "odd", ["[]", '"text"', '{"id": []}', "[" * 50_000 + "]" * 50_000], ids=["list", "text", "id", "deep"]
)
def test_odd_json_from_the_comment_api_is_one_line(fake_api, analyses, odd, tmp_path) -> None:
    from .hostserver import Answer, serving

    with serving(
        "127.0.0.1", lambda seen: Answer(200 if seen.method == "GET" else 201, body=odd.encode())
    ) as api:
        env = {**gitlab_env(fake_api), "CI_API_V4_URL": f"{api.url}/api/v4"}
        out = tmp_path / "report.json"
        result = run_boxwise(
            "report", str(analyses["new"]), "--app", "api", "--post", "gitlab", "--json", str(out),
            env=env, cwd=analyses["new"].parent,
        )  # fmt: skip
    _no_traceback(result)
    assert out.exists(), "the artifacts come first"
    assert "not posted" in result.stderr or "boxwise: error" in result.stderr or "posted" in result.stderr
    assert os.path.getsize(out) > 0
