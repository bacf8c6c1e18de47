"""The build container's result.json as the host reads it: what the driver writes reads back as it
was written, and a file the app's build tampered with is one error naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from boxwise.builder import driver
from boxwise.builder.cnbfiles import DriverResult
from boxwise.jsonread import JsonFormatError


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
