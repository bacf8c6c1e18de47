"""The values that go in and out of a build: options, the per-layer report, the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from boxwise.startup import Startup


@dataclass(frozen=True)
class BuildFlags:
    """`boxwise build`'s flags as given (None: `[tool.boxwise.build]`, else the default);
    `options_from_flags` (builder.command) turns them into BuildOptions."""

    app: str = "."
    base: str | None = None
    run_image: str | None = None
    builder: str | None = None
    tag: str | None = None
    pull_policy: str | None = None
    output: str | None = None
    cache: str | None = None
    network: str | None = None
    ca_cert: str | None = None
    runner: str | None = None
    check: bool | None = None
    check_timeout: float | None = None
    check_path: str | None = None
    env: tuple[str, ...] = ()
    env_file: str | None = None
    publish: bool = False
    clear_cache: bool = False
    previous_image: str | None = None
    cache_image: str | None = None  # --cache-image registry://REF
    cache_image_read_only: bool = False  # read the cache image, never write it (ci in a merge request)
    default_process: str | None = None


@dataclass(frozen=True)
class BuildOptions:
    """How to build one app. `base` is the run base image; the buildpacks run in `builder`.

    No base: builder.toml's images, chosen by the app's Python version (python:3.X-slim). A base,
    run image or builder may hold `{python}`, filled with that version."""

    base: str | None = None
    tag: str | None = None
    output: str = "docker"  # docker | docker-archive:PATH | oci:PATH
    cache_dir: Path | None = None
    network: str = "host"
    ca_cert: Path | None = None
    run_image: str | None = None
    builder: str | None = None
    runner: str = "docker"
    quiet: bool = False  # no build log on stdout (the log is still in BuildResult.log)
    build_env: dict[str, str] = field(
        default_factory=dict
    )  # --env/--env-file: the build's, never the image's
    previous_image: str | None = None  # pack's --previous-image: its layers serve matching keys
    cache_image: str | None = None  # pack's --cache-image registry://REF: the layer cache in a registry
    cache_image_read_only: bool = False  # read it, never write it (merge requests, forks)
    clear_cache: bool = False  # --clear-cache: build every layer anew, ignoring the cache
    default_process: str | None = None  # --default-process TYPE: the image's entrypoint process
    check: bool = False  # start the image with PORT and wait for an HTTP answer (the smoke check)
    check_timeout: float = 30.0
    check_path: str = "/"
    pull_policy: str = "if-not-present"  # as pack's: if-not-present | always | never


@dataclass(frozen=True)
class LayerReport:
    """One exported layer and why it is what it is."""

    buildpack: str  # buildpack id, or "app" for the app layer
    name: str
    diff_id: str
    size: int
    status: str  # "reused" | "rebuilt"
    reason: str  # "key unchanged", "requirements.txt changed", "no cached layer", ...

    def line(self) -> str:
        mark = "reused (key unchanged)" if self.status == "reused" else f"rebuilt: {self.reason}"
        return f"{self.buildpack}:{self.name}: {mark}"


@dataclass(frozen=True)
class Process:
    type: str
    command: list[str]
    args: list[str] = field(default_factory=list)
    default: bool = False
    buildpack: str = ""


@dataclass(frozen=True)
class BuildResult:
    """What `build_app` made: where the image went, its ID, and each layer's story."""

    ref: str  # docker://NAME, docker-archive:PATH, oci:PATH or registry://REF
    image_id: str  # sha256 of the config: the engine's image ID
    manifest_digest: str
    tag: str | None
    layers: list[LayerReport]
    processes: list[Process]
    buildpacks: list[str]
    seconds: float
    log: list[str] = field(default_factory=list)
    startup: Startup | None = None  # the smoke check's figures, when it was asked for
    # Build steps that may write into the app folder (["collectstatic"] when Django is installed),
    # run or not: what they write depends on the app's code, so no build of it may skip them.
    app_steps: list[str] = field(default_factory=list)

    @property
    def default_process(self) -> Process | None:
        return next((p for p in self.processes if p.default), self.processes[0] if self.processes else None)
