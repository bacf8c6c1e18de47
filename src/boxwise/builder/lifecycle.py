"""The lifecycle as boxwise runs it: detect → restore → build → export, for one app.

`build_app(app_dir, options) -> BuildResult` is the entry point for the CLI and for `boxwise ci`.
Detect and build run in one exec of driver.py inside a container of the build image (or, with
`--runner local`, in place under a temporary root); restore and export happen here, on the host,
with the layer cache (layers.py), and the image goes where --output says (output.py).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boxwise.appfiles import IgnoreMatcher
from boxwise.appfiles import walk as walk_app
from boxwise.apps import load_ignore
from boxwise.builder import fastpath
from boxwise.builder import secrets as build_secrets
from boxwise.builder.appwrites import LAYER_NAME as APP_BUILD_LAYER
from boxwise.builder.appwrites import AppWrites, export_app_writes, writes_app
from boxwise.builder.base import (
    ENGINELESS_PLACES,
    PULL_POLICIES,
    BaseImage,
    base_python,
    base_python_version,
    engine_image_id,
    load_base,
)
from boxwise.builder.builder_toml import Builder, load_builder
from boxwise.builder.cache import LayerCache
from boxwise.builder.cache_record import AppLayers, AppRecord, BuildpackLayers, FastRecord
from boxwise.builder.cacheimage import fetch_pending, read_cache_image, write_cache_image
from boxwise.builder.cnbfiles import BuildpackBuild, DriverPlan, DriverResult, LaunchLayer
from boxwise.builder.failures import FailureContext, failure_error
from boxwise.builder.fastpath import FastBuild
from boxwise.builder.imageconfig import (
    APP_DIR,
    LAYERS_DIR,
    RUN_OWNER,
    build_config,
    env_list_to_dict,
    processes,
)
from boxwise.builder.layers import export_layers, restore, restore_wanted, store_blob, tar_bytes
from boxwise.builder.log import BuildLog
from boxwise.builder.options import BuildOptions, BuildResult, LayerReport
from boxwise.builder.output import check_output, scan_for_secrets, write_output
from boxwise.builder.previous import seed_cache, seed_from_previous
from boxwise.builder.project_toml import ProjectDescriptor, read_project_toml
from boxwise.builder.pybase import Choice, check_python, choose_images
from boxwise.builder.runner import BuildContainer, BuildRoot, connect, engine_errors
from boxwise.builder.runner_local import LocalRoot
from boxwise.builder.runtime import base_user_files, run_user, write_runtime_layer
from boxwise.builder.tools import TOOLS_DIR, pip_wheel
from boxwise.errors import UserError
from boxwise.image.cache import cache_root
from boxwise.image.export import ExportImage, ExportLayer
from boxwise.image.layer_writer import LayerBlob, source_date_epoch, write_dir_layer, write_layer
from boxwise.image.reference import check_tag
from boxwise.lint.detection import load_shared
from boxwise.startup import Startup

PLATFORM_DIR = "/platform"
RESTORE_AND_RETRY = 75  # the driver's exit code when a buildpack asked for its deferred cache layers
LIFECYCLE_DIR = "/cnb/lifecycle"
# The in-container code: the driver and the stdlib-only modules it imports, carried side by side
# (tests/test_layers.py checks that this is all the driver loads from boxwise), and the modules of
# buildpacks/shared it imports too (the one TOML writer of the build container).
DRIVER_FILES = ("driver.py", "cnb_order.py")
DRIVER_SHARED = ("tomlwrite.py",)
DRIVER_PATH = f"{LIFECYCLE_DIR}/driver.py"
PLAN_PATH = f"{LIFECYCLE_DIR}/plan.json"


def _buildpacks_tar(builder: Builder, plan: DriverPlan, pip: Path | None) -> bytes:
    """The buildpack folders at /cnb/buildpacks/<id> (each with its copy of the shared modules),
    the driver and its plan, and the platform's pip wheel (symlinks followed)."""
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
            for shared in builder.shared_files():
                tar.add(str(shared), arcname=f"{bp.container_path.lstrip('/')}/{shared.name}")
        if pip is not None:
            tar.add(str(pip), arcname=f"{TOOLS_DIR.lstrip('/')}/{pip.name}")
        here = Path(__file__).parent
        files = [
            (f"{LIFECYCLE_DIR}/{name}", (here / name).read_bytes(), 0o755 if name == "driver.py" else 0o644)
            for name in DRIVER_FILES
        ]
        shared = builder.shared or Path("/nonexistent")
        files += [(f"{LIFECYCLE_DIR}/{name}", (shared / name).read_bytes(), 0o644) for name in DRIVER_SHARED]
        for name, data, mode in (*files, (PLAN_PATH, json.dumps(plan.to_json()).encode(), 0o644)):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _driver_env(
    base: BaseImage, secrets: build_secrets.BuildSecrets, epoch: int, box: BuildRoot, pip: Path | None
) -> dict[str, str]:
    """The exec environment of detect and build: the build image's own env, the platform's, secrets."""
    env = {
        k: v for k, v in (item.partition("=")[::2] for item in base.config.get("config", {}).get("Env") or [])
    }
    env.update(
        HOME=box.path("/tmp/boxwise-home"),
        SOURCE_DATE_EPOCH=str(epoch),
        PYTHONDONTWRITEBYTECODE="1",
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        BOXWISE_RUN_IMAGE_DIGEST=base.image_id,
        CNB_PLATFORM_DIR=box.path(PLATFORM_DIR),
        CNB_APP_DIR=box.path(APP_DIR),
    )
    if pip is not None:
        env["BOXWISE_PIP_WHEEL"] = box.path(f"{TOOLS_DIR}/{pip.name}")
    secrets_dir = build_secrets.SECRETS_DIR
    env.update({k: v.replace(secrets_dir, box.path(secrets_dir)) for k, v in secrets.env.items()})
    return env


def _driver_result(box: BuildRoot) -> DriverResult:
    """The build container's result.json, checked: the app's own build steps ran in there."""
    path = f"{LAYERS_DIR}/.boxwise/result.json"
    try:
        return DriverResult.from_json(json.loads(box.read_file(path)))
    except ValueError as exc:  # not JSON, or not the driver's shape
        raise UserError(
            f"{path} in the build container is not what the lifecycle driver writes ({exc}); "
            "the app's build must not write into the layers folder"
        ) from None


def _plan(builder: Builder, box: BuildRoot) -> DriverPlan:
    return builder.plan(box.path(APP_DIR), box.path(LAYERS_DIR), box.path(PLATFORM_DIR)).mapped(box.path)


@dataclass
class Lifecycle:
    """What detect + build left: the group, the launch layers, their reports and cache entries, and
    the layer of files the build steps wrote into the app (None when they wrote none)."""

    group: tuple[BuildpackBuild, ...]
    launch: list[LaunchLayer]
    reports: list[LayerReport]
    keep: BuildpackLayers  # the cache record's entries
    writes: AppWrites
    app_build: LayerBlob | None
    python: str  # the build's Python (a dependency key holds it; the fast-path record takes it)


def _run_lifecycle(
    box: BuildRoot,
    builder: Builder,
    pip: Path | None,
    app_blob: Path,
    secrets: build_secrets.BuildSecrets,
    cache: LayerCache,
    env: dict[str, str],
    log: BuildLog,
    failure: FailureContext,
) -> Lifecycle:
    """Put everything in, restore, run detect + build, read the layers out; also the build's Python."""
    log.status("restore: cached layers")
    box.put(_buildpacks_tar(builder, _plan(builder, box), pip))
    box.put(app_blob)
    setup = {f"{PLATFORM_DIR}/env/.keep": (b"", 0o644), "/tmp/boxwise-home/.keep": (b"", 0o644)}
    setup.update({path: (data, 0o600) for path, data in secrets.files.items()})
    box.put(tar_bytes(setup))
    restored = restore(box, builder, cache, log)
    log.status("detect and build (pip's output follows)")
    command = ["python3", box.path(DRIVER_PATH), "--plan", box.path(PLAN_PATH)]
    code = box.exec(command, env, log.say)
    for _ in range(2):  # a buildpack asked for cached contents: restore them and build again
        if code != RESTORE_AND_RETRY:
            break
        asked = restore_wanted(box, builder, cache, restored, log)
        if restored.deferred:
            log.status("restore: cached download layers, then build again")
            for blob in restored.deferred:
                box.put(blob, "/")
            restored.deferred.clear()
        elif not asked:
            break
        code = box.exec(command, env, log.say)
    if code != 0:
        shared = (
            load_shared(builder, "installfail"),
            load_shared(builder, "pyversion"),
            load_shared(builder, "collectstatic"),
        )
        raise failure_error(code, log.lines, failure, *shared)
    result = _driver_result(box)
    group = tuple(bp.unmapped(box.unmap) for bp in result.group)
    launch, reports, keep = export_layers(box, group, restored, cache, log)
    writes = AppWrites.from_result(result.raw)
    if writes.paths:
        log.status("export: reading the files the build wrote into the app")
    app_build = export_app_writes(box, writes, cache, int(env["SOURCE_DATE_EPOCH"]))
    return Lifecycle(group, launch, reports, keep, writes, app_build, result.python)


def _run_ref(options: BuildOptions) -> str:
    return str(options.run_image or options.base)


def _load_base(client: Any, options: BuildOptions, cache: LayerCache, log: BuildLog) -> BaseImage:
    ref = _run_ref(options)
    flag = "--run-image" if options.run_image else "--base"
    if client is None and not ref.startswith(ENGINELESS_PLACES):
        ref = f"registry://{ref}"  # no engine in this build: a plain name is read from its registry
    pull = options.pull_policy
    with log.progress(f"reading the base {ref}"):
        return load_base(
            client, ref, cache, need_layers=False, flag=flag, pull=pull, say=log.say, progress=log.status
        )


def _needs_engine(options: BuildOptions) -> bool:
    """The docker runner and docker output need an engine, and so does a docker:// base; otherwise
    (--runner local to a file or a registry) a plain base name is read from its registry."""
    return (
        options.runner == "docker" or options.output == "docker" or _run_ref(options).startswith("docker://")
    )


def _check_base_python(
    choice: Choice, base: BaseImage, cache: LayerCache, app_dir: Path, log: BuildLog
) -> bool:
    """The run base's Python against the app's request, when the host can know it (else the build
    checks its own python3); whether it could."""
    known = base_python_version(base, cache)
    if known is None:
        log.say("python: the base's version is not declared; the build checks its python3")
        return False
    version, how = known
    log.say(f"python: the base {base.ref} has Python {version} ({how})")
    check_python(choice, app_dir, f"the base {base.ref}", version)
    return True


def _app_report(cache: LayerCache, app_blob: LayerBlob, log: BuildLog) -> LayerReport:
    previous = cache.load()
    if previous is not None and previous.app.sha == app_blob.diff_id:
        log.say("layer app: reused (files unchanged)")
        return LayerReport("app", "app", app_blob.diff_id, app_blob.size, "reused", "key unchanged")
    log.say("layer app: rebuilt: app files changed")
    return LayerReport("app", "app", app_blob.diff_id, app_blob.size, "rebuilt", "app files changed")


def _app_build_report(
    cache: LayerCache, built: LayerBlob, steps: tuple[str, ...], log: BuildLog
) -> LayerReport:
    """The layer of files the build steps wrote into the app: the same bytes as last time, or not."""
    previous = cache.load()
    by = ", ".join(steps) or "the build"
    if previous is not None and previous.app.built == built.diff_id:
        log.say(f"layer {APP_BUILD_LAYER}: reused (the files {by} wrote are unchanged)")
        return LayerReport("app", APP_BUILD_LAYER, built.diff_id, built.size, "reused", "key unchanged")
    log.say(f"layer {APP_BUILD_LAYER}: rebuilt: files written by {by}")
    return LayerReport("app", APP_BUILD_LAYER, built.diff_id, built.size, "rebuilt", f"written by {by}")


def _host_build_env() -> dict[str, str]:
    """What the build takes from boxwise's own environment without --env: Heroku's switch, which
    CI systems set as a variable of the job."""
    value = os.environ.get("DISABLE_COLLECTSTATIC")
    return {"DISABLE_COLLECTSTATIC": value} if value is not None else {}


def _base_users(client: Any, base: BaseImage, cache: LayerCache) -> tuple[bytes, bytes]:
    """The run base's /etc/passwd and /etc/group (from its layer blobs, or a created container)."""

    def blobs() -> list[Path]:
        if not all(cache.has_blob(d) for d in base.diff_ids):
            load_base(client, base.ref, cache, need_layers=True, pull="if-not-present")
        return [cache.blob_path(d) for d in base.diff_ids]

    return base_user_files(client, base.image_id, base.diff_ids, cache, blobs)


def build_app(app_dir: str | Path, options: BuildOptions | None = None) -> BuildResult:
    """Build the app in `app_dir` into an image; raises UserError with one line when it cannot."""
    started = time.monotonic()
    options = options or BuildOptions()
    app_dir = Path(app_dir).resolve()
    if not app_dir.is_dir():
        raise UserError(f"{app_dir}: no such app folder; give the folder that holds the app's files")
    if options.runner not in ("docker", "local"):
        raise UserError(f"--runner {options.runner}: unknown; use docker or local")
    check_output(options.output)
    if options.tag:
        check_tag(options.tag)
    if options.pull_policy not in PULL_POLICIES:
        raise UserError(f"--pull-policy {options.pull_policy}: unknown; use {', '.join(PULL_POLICIES)}")
    secrets = build_secrets.collect(options.ca_cert)
    log = BuildLog(options.quiet, list(secrets.needles), app_dir=str(app_dir))
    cache = LayerCache.for_app(options.cache_dir or cache_root(), app_dir)
    if options.clear_cache:  # pack's --clear-cache: nothing of earlier builds is restored or reused
        cache.metadata_path.unlink(missing_ok=True)
    _, unusable = cache.read()
    if unusable:  # damaged on disk, or written by something else: as if there were no cache
        log.say(f"layer cache: {cache.metadata_path} {unusable}; the layers are built again")
    builder = load_builder()
    choice = choose_images(options, builder, app_dir, load_shared(builder, "pyversion"))
    options = choice.options
    log.say(choice.describe())
    epoch = source_date_epoch()
    build_image = str(options.builder or options.base)
    if options.runner == "docker" and build_image.startswith(ENGINELESS_PLACES):
        flag = "--builder" if options.builder else "--base"
        raise UserError(
            f"{flag} {build_image}: the buildpacks run in a container of an engine image; "
            "give --builder NAME, or use --runner local"
        )
    client = connect() if _needs_engine(options) else None
    with engine_errors("reading the base"):
        base = _load_base(client, options, cache, log)
    log.say(f"app: {app_dir}  base: {base.ref}  build secrets: {secrets.describe()}")
    python_known = _check_base_python(choice, base, cache, app_dir, log)

    # The app layer first: the build gets exactly the files the image will hold.
    descriptor = read_project_toml(app_dir)
    matcher = IgnoreMatcher(load_ignore(app_dir).rules + descriptor.ignore_rules())
    try:
        app_blob = store_blob(
            cache,
            lambda dest: write_dir_layer(
                app_dir, APP_DIR, dest, entries=walk_app(app_dir, matcher), mtime=epoch, owner=RUN_OWNER
            ),
        )
    except OSError as exc:
        raise UserError(
            f"{exc.filename or app_dir}: cannot read it ({exc.strerror}); fix its permissions "
            "or exclude it in .dockerignore"
        ) from None
    seen = None  # the cache image as read: an unchanged one is not written again
    if options.cache_image and not options.clear_cache:
        seen = read_cache_image(options.cache_image, base, cache, log)
    why_not = _why_not_fast(options, descriptor, build_image, base, python_known)
    fast = _try_fast_path(options, why_not, builder, app_dir, base, cache, log)
    if isinstance(fast, FastBuild):
        group, launch, keep = fast.group, fast.launch, fast.keep
        record: FastRecord | None = fast.record
        reports = list(fast.reports)
        steps: tuple[str, ...] = ()  # taken only when the last build recorded none
        built: LayerBlob | None = None
    else:
        if seen is not None:  # a build container runs: the download caches it may ask for
            fetch_pending(seen, cache, log)
        done = _full_build(
            client, options, choice, builder, app_dir, app_blob, base, cache, secrets, descriptor, epoch, log
        )
        group, launch, reports, keep = done.group, done.launch, done.reports, done.keep
        steps, built = done.writes.steps, done.app_build
        record = _record(done.python, why_not, steps, builder, app_dir, group, launch, base, log)

    reports.append(_app_report(cache, app_blob, log))
    if built is not None:
        reports.append(_app_build_report(cache, built, steps, log))
    procs = processes(group, options.default_process)
    with engine_errors("reading the base's users"):
        user = run_user(*_base_users(client, base, cache))
    runtime_blob = store_blob(
        cache,
        lambda dest: write_layer(dest, lambda w: write_runtime_layer(w, user, procs), mtime=epoch),
    )
    runtime = (runtime_blob.diff_id, user)
    app_layers = [app_blob] + ([built] if built is not None else [])
    config = build_config(
        base.config,
        base.ref,
        group,
        launch,
        runtime,
        [blob.diff_id for blob in app_layers],
        epoch,
        options.default_process,
    )
    scanned = _scanned(cache.load(), keep)
    new_blobs = [cache.blob_path(la.diff_id) for la in launch if la.diff_id not in scanned]
    scan_for_secrets(secrets, [*new_blobs, *(blob.path for blob in app_layers)], config, cache)
    layers = [ExportLayer(la.diff_id, la.size, cache.blob_path(la.diff_id)) for la in launch]
    layers.append(ExportLayer(runtime_blob.diff_id, runtime_blob.size, runtime_blob.path))
    layers += [ExportLayer(blob.diff_id, blob.size, blob.path) for blob in app_layers]
    image = ExportImage(config, layers, options.tag)
    held = (cache.load() or AppLayers()).engine_image  # the engine may hold this image's bottom layers
    with log.progress("export"), engine_errors("the export"):
        ref = write_output(options, client, image, base, cache, log, held)
    in_engine = image.image_id if options.output == "docker" else held
    app_record = AppRecord(app_blob.diff_id, built.diff_id if built is not None else None)
    cache.save(_document(keep, app_record, steps, record, in_engine))
    if options.cache_image and not options.cache_image_read_only:
        write_cache_image(options.cache_image, keep, base, cache, log, secrets, seen, record)
    cache.collect_garbage(interval_seconds=600)  # at most every 10 minutes
    seconds = time.monotonic() - started
    log.say(f"image: {ref}  id: {image.image_id}  ({seconds:.1f} s)")
    startup = _smoke_check(client, options, ref, image.image_id, log) if options.check else None
    return BuildResult(
        ref=ref,
        image_id=image.image_id,
        manifest_digest=image.manifest_digest,
        tag=options.tag,
        layers=reports,
        processes=procs,
        buildpacks=[f"{bp.id}@{bp.version}" for bp in group],
        seconds=seconds,
        app_steps=list(steps),
        log=log.lines,
        startup=startup,
    )


def _smoke_check(client: Any, options: BuildOptions, ref: str, image_id: str, log: BuildLog) -> Startup:
    """Start the image as a platform would; skipped, and saying why, when it is not in an engine."""
    if client is None or options.output != "docker":
        why = f"the image went to {options.output}, not into an engine"
        log.say(f"check: skipped: {why}")
        return Startup(False, reason=why)
    from boxwise.builder.smoke import check_image  # here: http.client and ssl cost a warm build ~0.1 s

    log.status(f"check: starting the image with PORT (timeout {options.check_timeout:g} s)")
    with engine_errors("the smoke check"):
        startup = check_image(client, image_id, timeout=options.check_timeout, path=options.check_path)
    log.say(f"check: {startup.headline()}")
    for line in startup.log_tail:
        log.say(f"  | {line}")
    return startup


def _why_not_fast(
    options: BuildOptions,
    descriptor: ProjectDescriptor,
    build_image: str,
    base: BaseImage,
    python_known: bool,
) -> str | None:
    """Why this build can neither take the host-side fast path nor leave a record for one, or None."""
    if options.runner != "docker":
        return "--runner local"
    if build_image.removeprefix("docker://") != base.ref:
        return "the build image is not the run base"
    if options.build_env or descriptor.build_env:
        return "build environment variables (--env, project.toml)"
    if not python_known:
        return "the base does not declare its Python"
    return None


def _try_fast_path(
    options: BuildOptions,
    why_not: str | None,
    builder: Builder,
    app_dir: Path,
    base: BaseImage,
    cache: LayerCache,
    log: BuildLog,
) -> FastBuild | None:
    if options.clear_cache:
        why_not = "--clear-cache"
    elif fastpath.disabled():
        why_not = f"{fastpath.FAST_PATH_ENV}=0"
    if why_not is None:
        environ = env_list_to_dict(base.config.get("config", {}).get("Env") or [])
        # docker load and a registry check the digest of a layer they get, a file written here no one:
        # the blob is hashed for a file; for the others its size catches what a crash mid-write leaves
        checked = options.output == "docker" or options.output.startswith("registry:")

        def intact(diff_id: str, size: int) -> bool:
            path = cache.blob_path(diff_id) if checked else cache.verified_blob(diff_id)
            return path is not None and path.is_file() and path.stat().st_size == size

        document, image_id = cache.load() or AppLayers(), base.image_id
        found = fastpath.fast_build(builder, app_dir, document, image_id, image_id, environ, intact)
        if isinstance(found, FastBuild) and writes_app(document):
            # what collectstatic writes depends on the app's code, not on any layer's key
            found = "a build step writes into the app (Django's collectstatic), or the cache does not say"
        if isinstance(found, FastBuild):
            fastpath.say_reused(found, log)
            return found
        why_not = found
    log.say(f"fast path: not taken: {why_not}; the buildpacks run in a build container")
    return None


def _record(
    python: str,
    why_not: str | None,
    steps: tuple[str, ...],
    builder: Builder,
    app_dir: Path,
    group: Sequence[BuildpackBuild],
    launch: Sequence[LaunchLayer],
    base: BaseImage,
    log: BuildLog,
) -> FastRecord | None:
    """The fast-path record of this full build (`python`: the build's), or None."""
    if why_not is not None:
        return None
    if steps:  # appwrites.writes_app: such an app always runs the buildpacks
        log.say(f"fast path: no record for the next build: {', '.join(steps)} writes into the app folder")
        return None
    environ = env_list_to_dict(base.config.get("config", {}).get("Env") or [])
    made, why = fastpath.make_record(
        builder, app_dir, group, launch, python, base.image_id, base.image_id, environ
    )
    if made is None:
        log.say(f"fast path: no record for the next build: {why}")
    return made


def _scanned(document: AppLayers | None, keep: BuildpackLayers) -> set[str]:
    """diff_ids of layers the secret check passed when they were made (their entry says so): a
    reused layer was checked then and is not read again."""
    found = set()
    for bp_id, layers in keep.items():
        for name, entry in layers.items():
            old = document.latest(bp_id, name) if document else None
            if old is not None and old.scanned and old.sha == entry.sha:
                found.add(entry.sha)
    return found


def _document(
    keep: BuildpackLayers,
    app: AppRecord,
    steps: tuple[str, ...],
    record: FastRecord | None,
    engine_image: str | None,
) -> AppLayers:
    """The cache record of a good build: its layers (launch ones marked as checked for secrets),
    the app layers, the steps that write into the app (appwrites.writes_app reads them), the
    fast-path record and the image the engine now holds."""
    marked = {
        bp_id: {name: entry.marked_scanned() if entry.launch else entry for name, entry in layers.items()}
        for bp_id, layers in keep.items()
    }
    return AppLayers(marked, app, steps, record, engine_image)


def _full_build(
    client: Any,
    options: BuildOptions,
    choice: Choice,
    builder: Builder,
    app_dir: Path,
    app_blob: LayerBlob,
    base: BaseImage,
    cache: LayerCache,
    secrets: build_secrets.BuildSecrets,
    descriptor: ProjectDescriptor,
    epoch: int,
    log: BuildLog,
) -> Lifecycle:
    """Restore, detect and build in a build container (or in place), export."""
    if options.clear_cache:
        pass  # pack's --clear-cache: nothing earlier is reused, not even a previous image's layers
    elif options.previous_image:
        with engine_errors("reading the previous image"):
            seed_from_previous(client, options.previous_image, base, cache, log)
    elif client is not None and options.output == "docker" and options.tag and cache.load() is None:
        seed_cache(client, options.tag, base, cache, log)
    build_image = str(options.builder or options.base)
    if options.runner == "local":
        box: BuildContainer | LocalRoot = LocalRoot(app_dir.name)
    else:
        flag = "--builder" if options.builder else "--base"
        build_image = build_image.removeprefix("docker://")
        # pulled once: the run base was pulled already when it is the same image
        pull = "never" if build_image == base.ref else options.pull_policy
        with engine_errors("reading the build image"):
            engine_image_id(client, build_image, flag, pull, log.say)
        box = BuildContainer(client, build_image, options.network, app_dir.name)
    pip = pip_wheel(cache)
    with log.progress("building"), engine_errors("the build"), box:
        env = {
            **_host_build_env(),
            **descriptor.build_env,
            **options.build_env,
            **_driver_env(base, secrets, epoch, box, pip),
        }
        if options.runner == "local":  # this machine's python builds; the run image's runs the app
            run_python = base_python(base, cache)
            if run_python:
                env["BOXWISE_RUN_PYTHON"] = run_python
            # where the layers sit here; the .pyc files must name them as the image will (/layers/…)
            env["BOXWISE_LOCAL_ROOT"] = box.path("/")
        failure = FailureContext(app_dir, options.network, build_image, choice.python, options.ca_cert)
        return _run_lifecycle(box, builder, pip, app_blob.path, secrets, cache, env, log, failure)
