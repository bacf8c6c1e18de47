"""The lifecycle as boxwise runs it: detect → restore → build → export, for one app.

`build_app(app_dir, options) -> BuildResult` is the entry point for the CLI and for `boxwise ci`.
Detect and build run in one exec of driver.py inside a container of the build image; restore and
export happen here, on the host, with the layer cache.

Reuse rule: a cached layer is restored into the container with its metadata; when the buildpack
writes back the same metadata (its key is unchanged), the cached tar is exported as it is, byte
for byte, without reading the layer back out of the container. Any other layer is read back with
get_archive and rewritten as a reproducible tar.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boxwise.build import secrets as build_secrets
from boxwise.build.base import BaseImage, engine_image_id, load_base
from boxwise.build.builder import Builder, load_builder
from boxwise.build.cache import LayerCache, default_cache_dir
from boxwise.build.imageconfig import APP_DIR, LAYERS_DIR, build_config, processes
from boxwise.build.log import BuildLog
from boxwise.build.options import BuildOptions, BuildResult, LayerReport
from boxwise.build.runner import BuildContainer, connect, engine_errors, thin_archives_work
from boxwise.errors import UserError
from boxwise.image.export import (
    ExportImage,
    ExportLayer,
    load_into_engine,
    write_docker_archive,
    write_oci_layout,
)
from boxwise.image.layer_writer import LayerBlob, normalize_tar, source_date_epoch, write_dir_layer

PLATFORM_DIR = "/platform"
DRIVER_PATH = "/cnb/lifecycle/driver.py"
PLAN_PATH = "/cnb/lifecycle/plan.json"
# Never exported as app files: VCS data and bytecode (not reproducible, rebuilt at run time).
ALWAYS_EXCLUDED = (".git", "__pycache__")
# What the install buildpacks print when pip failed on one line of a requirements file.
_REQ_LINE = re.compile(r"^ERROR: [^\s:]+:\d+: ")


@dataclass
class Restored:
    """What restore put into the container: per buildpack, per layer, the cached entry."""

    layers: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def get(self, bp: str, name: str) -> dict[str, Any] | None:
        return self.layers.get(bp, {}).get(name)


def _app_excluder(app_dir: Path) -> Any:
    from boxwise.apps import load_ignore

    ignored = load_ignore(app_dir)

    def excluded(rel: str) -> bool:
        parts = rel.split("/")
        return any(part in ALWAYS_EXCLUDED for part in parts) or rel.endswith(".pyc") or ignored(rel)

    return excluded


def _store_blob(cache: LayerCache, write: Any) -> LayerBlob:
    """Write a layer with `write(dest)` to a temp file, then move it to the blob named by its diff_id."""
    tmp = cache.tmp_dir() / f"layer-{os.getpid()}-{time.monotonic_ns()}.tar"
    blob = write(tmp)
    final = cache.blob_path(blob.diff_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        tmp.unlink(missing_ok=True)
    else:
        os.replace(tmp, final)
    return LayerBlob(final, blob.diff_id, blob.size)


def _tar_bytes(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A small tar of {path: (content, mode)}; folders are made by the engine as it extracts."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _buildpacks_tar(builder: Builder, plan: dict[str, Any]) -> bytes:
    """The buildpack folders at /cnb/buildpacks/<id>, the driver and its plan (symlinks followed)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", dereference=True) as tar:
        for bp in builder.buildpacks.values():
            tar.add(
                str(bp.folder),
                arcname=bp.container_path.lstrip("/"),
                filter=lambda info: (
                    None if "__pycache__" in info.name or info.name.endswith(".pyc") else info
                ),
            )
        driver = (Path(__file__).parent / "driver.py").read_bytes()
        for name, data, mode in (
            (DRIVER_PATH, driver, 0o755),
            (PLAN_PATH, json.dumps(plan).encode(), 0o644),
        ):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _restore_toml(metadata: dict[str, Any]) -> bytes:
    """A restored `<layer>.toml`: the metadata only, never `[types]` (the buildpack sets them again)."""
    from boxwise.build.tomlw import dumps

    return dumps({"metadata": metadata}).encode()


def restore(container: BuildContainer, builder: Builder, cache: LayerCache, log: BuildLog) -> Restored:
    """Put each cached layer's metadata (and, when its blob is intact, its contents) back."""
    previous = cache.load().get("buildpacks") or {}
    restored = Restored()
    files: dict[str, tuple[bytes, int]] = {}
    for bp_id, layers in previous.items():
        bp = builder.buildpacks.get(bp_id)
        if bp is None or not isinstance(layers, dict):
            continue
        for name, entry in sorted(layers.items()):
            blob = cache.verified_blob(str(entry.get("sha", "")))
            if blob is None:
                log.say(f"restore: {bp_id}:{name}: cached layer missing or corrupt; it will be rebuilt")
                continue
            if entry.get("cache"):
                container.put(blob, "/")
            files[f"{LAYERS_DIR}/{bp.dir_name}/{name}.toml"] = (_restore_toml(entry.get("data") or {}), 0o644)
            restored.layers.setdefault(bp_id, {})[name] = entry
    if files:
        container.put(_tar_bytes(files), "/")
    return restored


def _reason(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    if old is None:
        return "no cached layer"
    old_inputs, new_inputs = old.get("inputs") or {}, new.get("inputs") or {}
    if isinstance(old_inputs, dict) and isinstance(new_inputs, dict) and (old_inputs or new_inputs):
        changed = [k for k in new_inputs if old_inputs.get(k) != new_inputs[k]]
        changed += [f"{k} (removed)" for k in old_inputs if k not in new_inputs]
        if changed:
            return ", ".join(changed) + " changed"
    return "layer metadata changed"


def export_layers(
    container: BuildContainer,
    group: list[dict[str, Any]],
    restored: Restored,
    cache: LayerCache,
    log: BuildLog,
) -> tuple[list[dict[str, Any]], list[LayerReport], dict[str, dict[str, dict[str, Any]]]]:
    """(launch layers for the image, reports, cache entries) for every layer the group declared."""
    launch: list[dict[str, Any]] = []
    reports: list[LayerReport] = []
    keep: dict[str, dict[str, dict[str, Any]]] = {}
    for bp in group:
        for name in sorted(bp["layers"]):
            layer = bp["layers"][name]
            types = layer["types"]
            if not (types["launch"] or types["cache"]):
                continue
            old = restored.get(bp["id"], name)
            if old is not None and old.get("data") == layer["metadata"]:
                diff_id, status, reason = str(old["sha"]), "reused", "key unchanged"
                size = cache.blob_path(diff_id).stat().st_size
            elif layer["has_dir"]:
                log.status(f"export: reading layer {bp['id']}:{name}")
                raw = cache.tmp_dir() / f"raw-{os.getpid()}.tar"
                try:
                    container.get(f"{LAYERS_DIR}/{bp['dir_name']}/{name}", raw)
                    prefix = f"layers/{bp['dir_name']}/"
                    blob = _store_blob(
                        cache,
                        lambda dest, raw=raw, prefix=prefix: normalize_tar(
                            raw, dest, rename=lambda member, prefix=prefix: prefix + member
                        ),
                    )
                finally:
                    raw.unlink(missing_ok=True)
                diff_id, size, status = blob.diff_id, blob.size, "rebuilt"
                reason = _reason(old.get("data") if old else None, layer["metadata"])
            else:
                raise UserError(
                    f"buildpack {bp['id']} kept layer '{name}' without contents and boxwise has no cached "
                    "copy of it; build again with an empty --cache folder"
                )
            entry = {"sha": diff_id, "data": layer["metadata"], **types}
            keep.setdefault(bp["id"], {})[name] = entry
            if types["launch"]:
                launch.append(
                    {
                        "bp": bp["id"],
                        "name": name,
                        "diff_id": diff_id,
                        "types": types,
                        "data": layer["metadata"],
                        "size": size,
                    }
                )
                reports.append(LayerReport(bp["id"], name, diff_id, size, status, reason))
            log.say(
                f"layer {bp['id']}:{name}: "
                + ("reused (key unchanged)" if status == "reused" else f"rebuilt: {reason}")
            )
    return launch, reports, keep


def _driver_env(base: BaseImage, secrets: build_secrets.BuildSecrets, epoch: int) -> dict[str, str]:
    """The exec environment of detect and build: the build image's own env, the platform's, secrets."""
    env = {
        k: v for k, v in (item.partition("=")[::2] for item in base.config.get("config", {}).get("Env") or [])
    }
    env.update(
        HOME="/tmp/boxwise-home",
        SOURCE_DATE_EPOCH=str(epoch),
        PYTHONDONTWRITEBYTECODE="1",
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        BOXWISE_RUN_IMAGE_DIGEST=base.image_id,
        CNB_PLATFORM_DIR=PLATFORM_DIR,
        CNB_APP_DIR=APP_DIR,
    )
    env.update(secrets.env)
    return env


def _failure_message(app_dir: Path, code: int, log: BuildLog) -> str:
    if code == 20:
        return (
            f"{app_dir}: no buildpack group detected the app; add a requirements.txt, a pyproject.toml "
            "or a Procfile"
        )
    failed = next(
        (line for line in reversed(log.lines) if line.startswith("build: ") and "failed" in line), ""
    )
    where = next((line[7:] for line in reversed(log.lines) if _REQ_LINE.match(line)), None)
    if where:
        return f"{app_dir}/{where}: pip cannot install it (see pip's message above); fix the requirement"
    if "pip-install" in failed:
        return f"{app_dir / 'requirements.txt'}: pip install failed (see pip's message above); fix it"
    if "pyproject-toml-install" in failed:
        return (
            f"{app_dir / 'pyproject.toml'}: installing the project failed (see above); fix its dependencies"
        )
    if "procfile-run" in failed:
        return f"{app_dir}: no launch process (see above); add a Procfile such as `web: python3 app.py`"
    return f"{app_dir}: the build failed (lifecycle exit {code}, see the log above)"


def _scan_for_secrets(
    secrets: build_secrets.BuildSecrets, blobs: list[Path], config: bytes, cache: LayerCache
) -> None:
    if not (secrets.file_hashes or secrets.needles):
        return
    found = build_secrets.scan_config(config, secrets)
    for blob in blobs:
        hits = build_secrets.scan_layer(blob, secrets)
        if hits:
            blob.unlink(missing_ok=True)  # a layer holding a secret must not stay in the cache either
        found += hits
    if found:
        raise UserError(
            "build secret in the image, nothing was written: "
            + "; ".join(sorted(set(found))[:5])
            + "; remove it from the app folder or exclude it in .dockerignore"
        )


def _write_output(
    options: BuildOptions, client: Any, image: ExportImage, base: BaseImage, cache: LayerCache, log: BuildLog
) -> str:
    output = options.output or "docker"
    base_blobs = [
        ExportLayer(
            d,
            cache.blob_path(d).stat().st_size if cache.has_blob(d) else 0,
            cache.blob_path(d) if cache.has_blob(d) else None,
        )
        for d in base.diff_ids
    ]
    full = ExportImage(image.config, [*base_blobs, *image.layers], image.tag)
    if output == "docker":
        thin = thin_archives_work(client)
        layers = (
            [ExportLayer(layer.diff_id, layer.size, None) for layer in base_blobs] if thin else base_blobs
        )
        if not thin and any(layer.path is None for layer in layers):
            load_base(client, base.ref, cache, need_layers=True)
            return _write_output(options, client, image, base, cache, log)
        archive = cache.tmp_dir() / f"load-{os.getpid()}.tar"
        try:
            write_docker_archive(ExportImage(image.config, [*layers, *image.layers], image.tag), archive)
            log.status("export: loading the image into the engine")
            load_into_engine(client, archive)
        finally:
            archive.unlink(missing_ok=True)
        return f"docker://{image.tag}" if image.tag else image.image_id
    kind, _, where = output.partition(":")
    if any(layer.path is None for layer in base_blobs):
        base = load_base(client, base.ref, cache, need_layers=True)
        return _write_output(options, client, image, base, cache, log)
    if kind == "docker-archive":
        write_docker_archive(full, Path(where))
    else:
        write_oci_layout(full, Path(where))
    return output


def check_output(output: str) -> None:
    kind, _, where = output.partition(":")
    if output != "docker" and (kind not in ("docker-archive", "oci") or not where):
        raise UserError(
            f"--output {output}: not a place boxwise writes; use docker, docker-archive:PATH or oci:PATH"
        )


def build_app(app_dir: str | Path, options: BuildOptions | None = None) -> BuildResult:
    """Build the app in `app_dir` into an image; raises UserError with one line when it cannot."""
    started = time.monotonic()
    options = options or BuildOptions()
    app_dir = Path(app_dir).resolve()
    if not app_dir.is_dir():
        raise UserError(f"{app_dir}: no such app folder; give the folder that holds the app's files")
    if options.runner != "docker":
        raise UserError("--runner local: not available in this version; use --runner docker with an engine")
    check_output(options.output)
    secrets = build_secrets.collect(options.ca_cert)
    log = BuildLog(options.quiet, list(secrets.needles))
    cache = LayerCache.for_app(options.cache_dir or default_cache_dir(), app_dir)
    builder = load_builder()
    epoch = source_date_epoch()
    client = connect()
    run_ref = options.run_image or options.base
    base = load_base(
        client, run_ref, cache, need_layers=False, flag="--run-image" if options.run_image else "--base"
    )
    build_image = options.builder or options.base
    engine_image_id(client, build_image, "--builder" if options.builder else "--base")
    log.say(f"app: {app_dir}  base: {run_ref}  build secrets: {secrets.describe()}")

    # The app layer first: the container gets exactly the files the image will hold.
    app_blob = _store_blob(
        cache,
        lambda dest: write_dir_layer(app_dir, APP_DIR, dest, excluded=_app_excluder(app_dir), mtime=epoch),
    )
    plan = builder.plan(APP_DIR, LAYERS_DIR, PLATFORM_DIR)
    container = BuildContainer(client, build_image, options.network, app_dir.name)
    with log.progress("building"), engine_errors("the build"), container as box:
        log.status("restore: cached layers")
        box.put(_buildpacks_tar(builder, plan))
        box.put(app_blob.path)
        setup = {f"{PLATFORM_DIR}/env/.keep": (b"", 0o644), "/tmp/boxwise-home/.keep": (b"", 0o644)}
        setup.update({path: (data, 0o600) for path, data in secrets.files.items()})
        box.put(_tar_bytes(setup))
        restored = restore(box, builder, cache, log)
        log.status("detect and build (pip's output follows)")
        code = box.exec(
            ["python3", DRIVER_PATH, "--plan", PLAN_PATH], _driver_env(base, secrets, epoch), log.say
        )
        if code != 0:
            raise UserError(_failure_message(app_dir, code, log))
        group = json.loads(box.read_file(f"{LAYERS_DIR}/.boxwise/result.json"))["group"]
        launch, reports, keep = export_layers(box, group, restored, cache, log)

    previous = cache.load()
    old_app = ((previous.get("app") or {}).get("sha")) if isinstance(previous.get("app"), dict) else None
    app_status = "reused" if old_app == app_blob.diff_id else "rebuilt"
    reports.append(
        LayerReport(
            "app",
            "app",
            app_blob.diff_id,
            app_blob.size,
            app_status,
            "key unchanged" if app_status == "reused" else "app files changed",
        )
    )
    log.say(
        f"layer app: {'reused (files unchanged)' if app_status == 'reused' else 'rebuilt: app files changed'}"
    )
    config = build_config(base.config, run_ref, group, launch, app_blob.diff_id, epoch)
    new_blobs = [cache.blob_path(layer["diff_id"]) for layer in launch] + [app_blob.path]
    _scan_for_secrets(secrets, new_blobs, config, cache)
    layers = [
        ExportLayer(layer["diff_id"], layer["size"], cache.blob_path(layer["diff_id"])) for layer in launch
    ]
    layers.append(ExportLayer(app_blob.diff_id, app_blob.size, app_blob.path))
    image = ExportImage(config, layers, options.tag)
    with engine_errors("the export"):
        ref = _write_output(options, client, image, base, cache, log)
    cache.save({"buildpacks": keep, "app": {"sha": app_blob.diff_id}})
    cache.collect_garbage()
    seconds = time.monotonic() - started
    log.say(f"image: {ref}  id: {image.image_id}  ({seconds:.1f} s)")
    return BuildResult(
        ref=ref,
        image_id=image.image_id,
        manifest_digest=image.manifest_digest,
        tag=options.tag,
        layers=reports,
        processes=processes(group),
        buildpacks=[f"{bp['id']}@{bp['version']}" for bp in group],
        seconds=seconds,
        log=log.lines,
    )
