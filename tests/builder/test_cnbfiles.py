"""The build container's result.json as the host reads it: what the driver writes reads back as it
was written, and a file the app's build tampered with is one error naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from boxwise.builder import driver, fastpath
from boxwise.builder.builder_toml import load_builder
from boxwise.builder.cnbfiles import BuildpackBuild, DriverResult, LaunchLayer
from boxwise.builder.imageconfig import build_config
from boxwise.builder.runtime import RunUser
from boxwise.jsonread import JsonFormatError, JsonReader


def _driver_result(tmp_path: Path) -> dict:
    """A result.json written from layers the driver's own code reads (no container needed)."""
    layers = tmp_path / "layers" / "boxwise_pip-install"
    (layers / "packages" / "bin").mkdir(parents=True)
    (layers / "packages" / "env.launch").mkdir()
    (layers / "packages" / "env.launch" / "PYTHONPATH.prepend").write_text("/layers/x/lib")
    (layers / "packages.toml").write_text(
        '[types]\nlaunch = true\ncache = true\n[metadata]\nkey = "abc"\n[metadata.inputs]\nreq = "1"\n'
    )
    (layers / "downloads.toml").write_text("[types]\ncache = true\n")
    entry = {
        "id": "boxwise/pip-install",
        "version": "0.1.0",
        "api": "0.10",
        "dir_name": "boxwise_pip-install",
        "layers": driver.collect_layers(str(layers)),
        "processes": [
            {"type": "web", "command": [f"{tmp_path}/layers/x/bin/gunicorn", "app:app"], "default": True}
        ],
        "labels": [{"key": "org.example", "value": "1"}],
    }
    text = json.dumps({"group": [entry], "python": "3.11.2", "app_steps": []}, indent=1, sort_keys=True)
    return json.loads(text)


def test_the_drivers_result_reads_back_as_written(tmp_path: Path) -> None:
    written = _driver_result(tmp_path)
    result = DriverResult.from_json(written)
    assert result.python == "3.11.2"
    assert [bp.to_json() for bp in result.group] == written["group"]
    assert json.dumps([bp.to_json() for bp in result.group]) == json.dumps(written["group"])  # same key order
    packages = result.group[0].layers["packages"]
    assert packages.types == {"build": False, "cache": True, "launch": True}
    assert packages.metadata == {"key": "abc", "inputs": {"req": "1"}}


def test_container_paths_become_the_images(tmp_path: Path) -> None:
    bp = DriverResult.from_json(_driver_result(tmp_path)).group[0]
    shown = bp.unmapped(lambda path: path.replace(str(tmp_path), "")).to_json()
    assert shown["processes"][0]["command"] == ["/layers/x/bin/gunicorn", "app:app"]
    assert [change[2] for change in shown["layers"]["packages"]["launch_env"]][-1] == "/layers/x/lib"
    assert bp.to_json()["processes"][0]["command"][0].startswith(str(tmp_path))  # the original is untouched


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (lambda r: r.pop("group"), "'group' is missing"),
        (lambda r: r["group"][0].__setitem__("id", ["x"]), "'group[0].id' is not a string"),
        (lambda r: r["group"][0]["layers"]["packages"]["types"].__setitem__("launch", "yes"), "types.launch"),
        (
            lambda r: r["group"][0]["layers"]["packages"].__setitem__("launch_env", [["PATH"]]),
            "launch_env[0]",
        ),
        (
            lambda r: r["group"][0].__setitem__("processes", ["web"]),
            "'group[0].processes[0]' is not an object",
        ),
    ],
)
def test_a_tampered_result_names_the_field(tmp_path: Path, tamper, named: str) -> None:
    document = _driver_result(tmp_path)
    tamper(document)
    with pytest.raises(JsonFormatError, match=named.replace("[", r"\[").replace("]", r"\]")):
        DriverResult.from_json(document)


def _image_config(group, launch) -> bytes:
    user = RunUser("cnb", "/home/cnb", None, None)
    base = {"config": {"Env": ["PATH=/usr/bin"]}, "rootfs": {"diff_ids": ["sha256:base"]}}
    return build_config(base, "base:1", group, launch, ("sha256:rt", user), ["sha256:app"], 0)


def _built(tmp_path: Path) -> tuple[tuple[BuildpackBuild, ...], list[LaunchLayer]]:
    group = tuple(bp.unmapped(lambda p: p) for bp in DriverResult.from_json(_driver_result(tmp_path)).group)
    packages = group[0].layers["packages"]
    launch = [
        LaunchLayer(group[0].id, "packages", "sha256:" + "a" * 64, packages.types, packages.metadata, 10)
    ]
    return group, launch


def test_the_fast_path_record_gives_back_the_full_builds_image_config(tmp_path: Path) -> None:
    """The fast path builds its image from the group and layers a full build recorded as JSON: read
    back, they make the same config bytes (so the same image id) as the values the build had."""
    group, launch = _built(tmp_path)
    saved = json.loads(
        json.dumps({"group": [bp.to_json() for bp in group], "launch": [la.to_json() for la in launch]})
    )
    again = tuple(BuildpackBuild.from_json(bp) for bp in JsonReader(saved).items("group"))
    launch_again = [LaunchLayer.from_json(la) for la in JsonReader(saved).items("launch")]
    assert (again, launch_again) == (group, launch)
    assert _image_config(again, launch_again) == _image_config(group, launch)
    labels = json.loads(_image_config(group, launch))["config"]["Labels"]
    layers = json.loads(labels["io.buildpacks.lifecycle.metadata"])["buildpacks"][0]["layers"]
    assert layers == {
        "packages": {
            "sha": launch[0].diff_id,
            "data": {"key": "abc", "inputs": {"req": "1"}},
            "build": False,
            "cache": True,
            "launch": True,
        }
    }
    assert labels["org.example"] == "1"


def test_host_outcomes_that_match_the_build_agree(tmp_path: Path) -> None:
    """The record is written only when the host computes what the build wrote: the same processes
    and keys agree; another key is named."""
    group, _ = _built(tmp_path)
    processes = [dict(p) for p in group[0].processes]
    same = {group[0].id: {"packages": "abc", "processes": processes}}
    assert fastpath._disagreement(group, same) is None
    other = {group[0].id: {"packages": "abd", "processes": processes}}
    assert fastpath._disagreement(group, other) == "boxwise/pip-install:packages: key"


def test_the_drivers_plan_finds_the_buildpacks_in_the_build_root() -> None:
    """plan.json as the driver reads it: every buildpack of builder.toml at its folder under the
    build root (the local runner's is not /), the order and the process fallback as builder.toml has them."""
    builder = load_builder()
    root = "/tmp/build-root"
    plan = json.loads(
        json.dumps(
            builder.plan(root + "/workspace", root + "/layers", root + "/platform")
            .mapped(lambda path: root + path)
            .to_json()
        )
    )
    assert set(plan["buildpacks"]) == set(builder.buildpacks)
    for bp_id, bp in plan["buildpacks"].items():
        assert bp["path"] == f"{root}/cnb/buildpacks/{bp_id.replace('/', '_')}"
    assert plan["order"] == builder.order
    assert plan["process_fallback"] == fastpath.PROCESS_FALLBACK
