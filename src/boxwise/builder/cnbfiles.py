"""The files between the host and the build container, one type per file (as the CNB lifecycle's
platform/files has): the host's `plan.json` for the driver (DriverPlan), and the container's answer
`<layers>/.boxwise/result.json`, which holds the detected group, each buildpack's `<layer>.toml`
files and `launch.toml` as the driver read them, and the build's Python (DriverResult). The launch
layers the export makes of that group are LaunchLayer values.

The driver (driver.py) writes the file with its own dicts: it runs inside the build container and
imports nothing from here. The host reads it back through `DriverResult.from_json`, checked field
by field: the app's own code ran in that container, so the file is input, not a given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from boxwise.jsonread import JsonFormatError, JsonReader

LAYER_TYPES = ("build", "cache", "launch")


@dataclass(frozen=True)
class PlanBuildpack:
    """One buildpack of the builder as the driver finds it: its folder in the build root."""

    id: str
    version: str
    api: str
    dir_name: str
    path: str

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "version": self.version,
            "api": self.api,
            "dir_name": self.dir_name,
            "path": self.path,
        }


@dataclass(frozen=True)
class DriverPlan:
    """`plan.json`, what the in-container driver reads (with the stdlib only, so as JSON): the
    detection order, the buildpacks, the build root's folders and the process fallback."""

    order: list[list[dict[str, Any]]]  # builder.toml's groups of {"id", "optional"}
    buildpacks: tuple[PlanBuildpack, ...]
    app_dir: str
    layers_dir: str
    platform_dir: str
    process_fallback: str | None

    def mapped(self, path: Callable[[str], str]) -> DriverPlan:
        """The buildpack folders where the build root has them (the local runner's own folder)."""
        buildpacks = tuple(replace(bp, path=path(bp.path)) for bp in self.buildpacks)
        return replace(self, buildpacks=buildpacks)

    def to_json(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "buildpacks": {bp.id: bp.to_json() for bp in self.buildpacks},
            "app_dir": self.app_dir,
            "layers_dir": self.layers_dir,
            "platform_dir": self.platform_dir,
            "process_fallback": self.process_fallback,
        }


@dataclass(frozen=True)
class EnvChange:
    """One environment change a launch layer makes (CNB env files: name, action, value, delimiter)."""

    name: str
    action: str
    value: str
    delim: str

    def to_json(self) -> list[str]:
        return [self.name, self.action, self.value, self.delim]


@dataclass(frozen=True)
class LayerFile:
    """A buildpack's `<layer>.toml`, with what the driver saw of the layer's folder."""

    types: dict[str, bool]  # build, cache, launch
    metadata: dict[str, Any]  # the buildpack's own [metadata]: compared, never interpreted
    has_dir: bool
    launch_env: tuple[EnvChange, ...]

    @classmethod
    def from_json(cls, layer: JsonReader) -> LayerFile:
        types = layer.child("types")
        env = []
        for n, item in enumerate(layer.field("launch_env", list)):
            if not (isinstance(item, list) and len(item) == 4 and all(isinstance(v, str) for v in item)):
                raise JsonFormatError(f"'{layer.name('launch_env')}[{n}]' is not four strings")
            env.append(EnvChange(*item))
        return cls(
            types={kind: types.field(kind, bool) for kind in LAYER_TYPES},
            metadata=layer.field("metadata", dict),
            has_dir=layer.field("has_dir", bool),
            launch_env=tuple(env),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "has_dir": self.has_dir,
            "launch_env": [change.to_json() for change in self.launch_env],
            "metadata": self.metadata,
            "types": dict(self.types),
        }


@dataclass(frozen=True)
class BuildpackBuild:
    """One buildpack of the group that built: its layers and its `launch.toml`."""

    id: str
    version: str
    api: str
    dir_name: str
    layers: dict[str, LayerFile]
    processes: tuple[dict[str, Any], ...]  # launch.toml [[processes]], read by imageconfig.processes
    labels: tuple[dict[str, Any], ...]  # launch.toml [[labels]]

    @classmethod
    def from_json(cls, bp: JsonReader) -> BuildpackBuild:
        return cls(
            id=bp.field("id", str),
            version=bp.field("version", str),
            api=bp.field("api", str),
            dir_name=bp.field("dir_name", str),
            layers={name: LayerFile.from_json(layer) for name, layer in bp.entries("layers").items()},
            processes=tuple(item.data for item in bp.items("processes")),
            labels=tuple(item.data for item in bp.items("labels")),
        )

    def to_json(self) -> dict[str, Any]:
        """The group entry as result.json has it (keys in the driver's sorted order)."""
        return {
            "api": self.api,
            "dir_name": self.dir_name,
            "id": self.id,
            "labels": [dict(label) for label in self.labels],
            "layers": {name: self.layers[name].to_json() for name in sorted(self.layers)},
            "processes": [dict(process) for process in self.processes],
            "version": self.version,
        }

    def unmapped(self, unmap: Callable[[str], str]) -> BuildpackBuild:
        """Paths the container saw (launch env values, process commands) as the image has them."""
        layers = {
            name: LayerFile(
                layer.types,
                layer.metadata,
                layer.has_dir,
                tuple(EnvChange(c.name, c.action, unmap(c.value), c.delim) for c in layer.launch_env),
            )
            for name, layer in self.layers.items()
        }
        processes = []
        for process in self.processes:
            command = process.get("command")
            if isinstance(command, list):
                process = {**process, "command": [unmap(str(part)) for part in command]}
            processes.append(process)
        return BuildpackBuild(
            self.id, self.version, self.api, self.dir_name, layers, tuple(processes), self.labels
        )


@dataclass(frozen=True)
class LaunchLayer:
    """One buildpack layer that goes into the image (export_layers made or reused its tar): the
    image's config lists it, and its `<layer>.toml` types and metadata are the lifecycle label's."""

    bp: str  # the buildpack's id
    name: str
    diff_id: str
    types: dict[str, bool]  # build, cache, launch
    data: dict[str, Any]  # the layer's metadata
    size: int

    @classmethod
    def from_json(cls, layer: JsonReader) -> LaunchLayer:
        types = layer.child("types")
        return cls(
            bp=layer.field("bp", str),
            name=layer.field("name", str),
            diff_id=layer.field("diff_id", str),
            types={kind: types.field(kind, bool) for kind in LAYER_TYPES},
            data=layer.field("data", dict),
            size=layer.field("size", int),
        )

    def to_json(self) -> dict[str, Any]:
        """As the fast-path record holds it (keys in the order it always had)."""
        return {
            "bp": self.bp,
            "name": self.name,
            "diff_id": self.diff_id,
            "types": dict(self.types),
            "data": self.data,
            "size": self.size,
        }


@dataclass(frozen=True)
class DriverResult:
    """`<layers>/.boxwise/result.json`: the group that built and the build's Python; the app writes
    (`app_steps`, `app_writes`) are read by appwrites.AppWrites.from_result from `raw`."""

    group: tuple[BuildpackBuild, ...]
    python: str
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, data: object) -> DriverResult:
        """Raises JsonFormatError naming the first field that is missing or of the wrong type."""
        doc = JsonReader(data)
        python = doc.data.get("python", "")
        return cls(
            group=tuple(BuildpackBuild.from_json(bp) for bp in doc.items("group")),
            python=python if isinstance(python, str) else str(python),
            raw=doc.data,
        )
