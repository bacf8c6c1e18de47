"""The layer cache's record of an app, one type per part: `apps/<name>-<hash>/layers.json`.

    {"buildpacks": {bp: {layer: CachedLayer}},       what the last good build left, per layer
     "alternates": {bp: {layer: [CachedLayer, ...]}}, earlier entries of a layer with other keys
     "app": {"sha", "built"},                         the app layer, and what the build wrote into it
     "app_steps": [...],                              the steps that write into the app (appwrites)
     "fast": FastRecord,                              what the host-side fast path starts from
     "engine_image": "sha256:..."}                    the image the engine holds as this app's

A CachedLayer is also an entry of the lifecycle's labels (`io.buildpacks.lifecycle.metadata` of a
previous image, `...cache.metadata` of a cache image), which have its shape without `scanned`.

The file is read back checked, field by field: a record boxwise did not write this way (damaged on
disk, edited) is refused whole and the build starts as from an empty cache; a fast-path record of
another RECORD_VERSION is dropped alone. Keys that older builds did not write are optional.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from boxwise.builder.cnbfiles import BuildpackBuild, LaunchLayer
from boxwise.image.digest import DIGEST
from boxwise.jsonread import JsonFormatError, JsonReader

RECORD_VERSION = 1  # of the fast-path record; another version is ignored, never misread


@dataclass(frozen=True)
class CachedLayer:
    """One buildpack layer in the cache: its tar's diff_id, its `<layer>.toml` metadata and types,
    and whether the build's secret check read its tar when it was made (launch layers only)."""

    sha: str
    data: dict[str, Any]  # the buildpack's own [metadata]: compared, never interpreted
    launch: bool
    build: bool
    cache: bool
    scanned: bool = False

    @property
    def key(self) -> str:
        """The layer's key, as boxwise's buildpacks write it (`metadata.key`), or ""."""
        return str(self.data.get("key") or "")

    @property
    def cache_only(self) -> bool:
        """A download cache: never in the image, restored only when a buildpack asks."""
        return self.cache and not (self.launch or self.build)

    def marked_scanned(self) -> CachedLayer:
        return replace(self, scanned=True)

    @classmethod
    def from_json(cls, entry: JsonReader) -> CachedLayer:
        sha = entry.field("sha", str)
        if not DIGEST.match(sha):
            raise entry.wrong("sha", "a sha256 digest")
        scanned = entry.data.get("scanned", False)
        if not isinstance(scanned, bool):
            raise entry.wrong("scanned", "true or false")
        return cls(
            sha=sha,
            data=entry.field("data", dict),
            launch=entry.field("launch", bool),
            build=entry.field("build", bool),
            cache=entry.field("cache", bool),
            scanned=scanned,
        )

    def label_json(self) -> dict[str, Any]:
        """The lifecycle label's layer entry."""
        return {
            "sha": self.sha,
            "data": self.data,
            "launch": self.launch,
            "build": self.build,
            "cache": self.cache,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.label_json(), **({"scanned": True} if self.scanned else {})}


# By buildpack id, then by layer name: what a build keeps (export_layers), a label names, restore put back.
BuildpackLayers = dict[str, dict[str, CachedLayer]]


def buildpack_layers_json(layers: BuildpackLayers) -> dict[str, dict[str, dict[str, Any]]]:
    return {bp: {name: entry.to_json() for name, entry in named.items()} for bp, named in layers.items()}


def _buildpack_layers(doc: JsonReader, key: str) -> BuildpackLayers:
    if key not in doc.data:
        return {}
    return {
        bp_id: {name: CachedLayer.from_json(named.child(name)) for name in named.data}
        for bp_id, named in doc.entries(key).items()
    }


@dataclass(frozen=True)
class AppRecord:
    """The app layer of the last good build, and the layer of files its build wrote into the app."""

    sha: str | None = None
    built: str | None = None

    @classmethod
    def from_json(cls, app: JsonReader) -> AppRecord:
        return cls(*(_optional_str(app, key) for key in ("sha", "built")))

    def to_json(self) -> dict[str, str | None]:
        return {"sha": self.sha, **({"built": self.built} if self.built is not None else {})}


def _optional_str(doc: JsonReader, key: str) -> str | None:
    return doc.optional(key, str) if key in doc.data else None


@dataclass(frozen=True)
class FastRecord:
    """What a full build leaves for the host-side fast path (fastpath.make_record): the buildpacks'
    outcomes as the host computed them, and the group and launch layers the build reported."""

    driver: str  # fastpath.driver_sha() of the driver that built
    build_image: str
    base_image: str
    python: str
    detected: tuple[str, ...]
    outcomes: dict[str, dict[str, Any]]  # each buildpack's outcome(): compared, never interpreted
    group: tuple[BuildpackBuild, ...]
    launch: tuple[LaunchLayer, ...]

    @classmethod
    def from_json(cls, record: JsonReader) -> FastRecord:
        outcomes = record.field("outcomes", dict)
        for bp_id, outcome in outcomes.items():
            if not isinstance(outcome, dict):
                raise JsonFormatError(f"'{record.name('outcomes')}.{bp_id}' is not an object")
        return cls(
            driver=record.field("driver", str),
            build_image=record.field("build_image", str),
            base_image=record.field("base_image", str),
            python=record.field("python", str),
            detected=tuple(record.strings("detected")),
            outcomes=outcomes,
            group=tuple(BuildpackBuild.from_json(bp) for bp in record.items("group")),
            launch=tuple(LaunchLayer.from_json(layer) for layer in record.items("launch")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "driver": self.driver,
            "build_image": self.build_image,
            "base_image": self.base_image,
            "python": self.python,
            "detected": list(self.detected),
            "outcomes": self.outcomes,
            "group": [bp.to_json() for bp in self.group],
            "launch": [layer.to_json() for layer in self.launch],
        }


@dataclass(frozen=True)
class AppLayers:
    """`layers.json`: what the last good build of an app left (see the module's docstring)."""

    buildpacks: BuildpackLayers = field(default_factory=dict)
    app: AppRecord = AppRecord()
    # None: not recorded (a cache seeded from an image, or an older boxwise): appwrites.writes_app
    app_steps: tuple[str, ...] | None = None
    fast: FastRecord | None = None
    engine_image: str | None = None
    alternates: dict[str, dict[str, tuple[CachedLayer, ...]]] = field(default_factory=dict)

    def latest(self, bp_id: str, name: str) -> CachedLayer | None:
        return self.buildpacks.get(bp_id, {}).get(name)

    def alternates_of(self, bp_id: str, name: str) -> tuple[CachedLayer, ...]:
        return self.alternates.get(bp_id, {}).get(name, ())

    def used_blobs(self) -> set[str]:
        """Every diff_id the record names: its layers, their alternates, the app layers."""
        used = {entry.sha for named in self.buildpacks.values() for entry in named.values()}
        used.update(
            entry.sha for named in self.alternates.values() for kept in named.values() for entry in kept
        )
        used.update(sha for sha in (self.app.sha, self.app.built) if sha)
        return used

    @classmethod
    def from_json(cls, data: object) -> AppLayers:
        """Raises JsonFormatError naming the first field that is not what boxwise writes."""
        doc = JsonReader(data)
        alternates = {
            bp_id: {
                name: tuple(CachedLayer.from_json(entry) for entry in named.items(name))
                for name in named.data
            }
            for bp_id, named in (doc.entries("alternates") if "alternates" in doc.data else {}).items()
        }
        steps = doc.strings("app_steps") if "app_steps" in doc.data else None
        fast = doc.data.get("fast")
        fast_ok = isinstance(fast, dict) and fast.get("version") == RECORD_VERSION
        if fast is not None and not isinstance(fast, dict):
            raise doc.wrong("fast", "an object")
        return cls(
            buildpacks=_buildpack_layers(doc, "buildpacks"),
            app=AppRecord.from_json(doc.child("app")) if "app" in doc.data else AppRecord(),
            app_steps=tuple(steps) if steps is not None else None,
            fast=FastRecord.from_json(doc.child("fast")) if fast_ok else None,
            engine_image=_optional_str(doc, "engine_image"),
            alternates=alternates,
        )

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "buildpacks": buildpack_layers_json(self.buildpacks),
            "app": self.app.to_json(),
            "alternates": {
                bp: {name: [entry.to_json() for entry in kept] for name, kept in named.items()}
                for bp, named in self.alternates.items()
            },
        }
        if self.app_steps is not None:
            document["app_steps"] = list(self.app_steps)
        if self.fast is not None:
            document["fast"] = self.fast.to_json()
        if self.engine_image:
            document["engine_image"] = self.engine_image
        return document
