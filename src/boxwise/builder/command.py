"""`boxwise build APP`: the CLI face of `build_app`."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from boxwise.builder.options import BuildFlags, BuildOptions
from boxwise.config import load_settings, print_warnings
from boxwise.errors import UserError


def default_tag(app: Path) -> str:
    """`boxwise/<app folder>:latest`, the folder name made a valid image name."""
    name = re.sub(r"[^a-z0-9._-]+", "-", app.name.lower()).strip("-._") or "app"
    return f"boxwise/{name}:latest"


def options_from_flags(
    flags: BuildFlags, settings_build: Mapping[str, Any], root: Path | None = None
) -> BuildOptions:
    """Flags first, then `[tool.boxwise.build]` (paths relative to the repo root), then defaults."""

    def pick(flag: object, key: str, default: object = None) -> object:
        return flag if flag is not None else settings_build.get(key, default)

    def pick_path(flag: str | None, key: str) -> Path | None:
        if flag is not None:
            return Path(flag)
        value = settings_build.get(key)
        return (root or Path.cwd()) / str(value) if value else None

    cache = pick_path(flags.cache, "cache")
    ca_cert = pick_path(flags.ca_cert, "ca-cert")
    app = Path(flags.app).resolve()
    tag = flags.tag or default_tag(app)
    output = flags.output or "docker"
    if flags.publish:  # pack's --publish: the tag names a registry image
        if output != "docker":
            raise UserError("--publish and --output both say where the image goes; give one of them")
        output = f"registry://{tag}"
    if flags.cache_image:
        from boxwise.builder.cacheimage import check_cache_image

        check_cache_image(flags.cache_image)  # a bad reference is refused before the build
    return BuildOptions(
        base=_text_or_none(pick(flags.base, "base")),
        tag=tag,
        output=output,
        build_env=build_env(list(flags.env), flags.env_file),
        clear_cache=flags.clear_cache,
        previous_image=flags.previous_image,
        cache_image=flags.cache_image,
        cache_image_read_only=flags.cache_image_read_only,
        default_process=flags.default_process,
        cache_dir=cache,
        network=str(pick(flags.network, "network", "host")),
        ca_cert=ca_cert,
        run_image=_text_or_none(pick(flags.run_image, "run-image")),
        builder=_text_or_none(pick(flags.builder, "builder")),
        runner=flags.runner or "docker",
        check=bool(pick(flags.check, "check", False)),
        check_timeout=_seconds(pick(flags.check_timeout, "check-timeout", 30.0)),
        check_path=str(pick(flags.check_path, "check-path", "/")),
        pull_policy=str(pick(flags.pull_policy, "pull-policy", "if-not-present")),
    )


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def build_env(items: list[str], env_file: str | None) -> dict[str, str]:
    """pack's --env-file FILE (NAME=VALUE lines, # comments) then --env NAME=VALUE / --env NAME
    (the value of NAME here); for the build only, never in the image config."""
    lines: list[tuple[str, str]] = []
    if env_file:
        try:
            text = Path(env_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--env-file {env_file}: cannot read it ({exc}); give a UTF-8 file") from None
        lines += [(f"{env_file}:{n}", line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    lines += [("--env", item) for item in items]
    env: dict[str, str] = {}
    for where, line in lines:
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not _ENV_NAME.match(name):
            raise UserError(f"{where}: '{name[:40]}' is not a variable name; write NAME=VALUE")
        env[name] = value if sep else os.environ.get(name, "")
    return env


def _text_or_none(value: object) -> str | None:
    return str(value) if value else None


def _seconds(value: object) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise UserError(f"check-timeout: invalid value '{value}'; give the seconds to wait, e.g. 30")
    return seconds


def run_build(flags: BuildFlags) -> int:
    from boxwise.builder.lifecycle import build_app

    settings = load_settings(Path(flags.app))
    print_warnings(settings)
    result = build_app(flags.app, options_from_flags(flags, settings.build, settings.root))
    for layer in result.layers:
        print(f"  {layer.line()}  {layer.diff_id[:19]}  {layer.size} bytes")
    default = result.default_process
    if default:
        print(f"  process {default.type}: {' '.join(default.command + default.args)}")
    startup = result.startup
    if startup is not None and startup.checked and not startup.answered:
        print(f"boxwise: {flags.app}: the image does not start: {startup.reason}", file=sys.stderr)
        return 1
    return 0
