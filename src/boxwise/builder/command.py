"""`boxwise build APP`: the CLI face of `build_app`."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from boxwise.builder.options import BuildOptions
from boxwise.config import load_settings, print_warnings
from boxwise.errors import UserError


def default_tag(app: Path) -> str:
    """`boxwise/<app folder>:latest`, the folder name made a valid image name."""
    name = re.sub(r"[^a-z0-9._-]+", "-", app.name.lower()).strip("-._") or "app"
    return f"boxwise/{name}:latest"


def options_from_args(
    args: argparse.Namespace, settings_build: dict[str, Any], root: Path | None = None
) -> BuildOptions:
    """Flags first, then `[tool.boxwise.build]` (paths relative to the repo root), then defaults."""

    def pick(flag: str, key: str, default: object = None) -> object:
        value = getattr(args, flag, None)
        return value if value is not None else settings_build.get(key, default)

    def pick_path(flag: str, key: str) -> Path | None:
        value = getattr(args, flag, None)
        if value is not None:
            return Path(value)
        value = settings_build.get(key)
        return (root or Path.cwd()) / str(value) if value else None

    cache = pick_path("cache", "cache")
    ca_cert = pick_path("ca_cert", "ca-cert")
    app = Path(args.app).resolve()
    tag = getattr(args, "tag", None) or default_tag(app)
    output = getattr(args, "output", None) or "docker"
    if getattr(args, "publish", False):  # pack's --publish: the tag names a registry image
        if output != "docker":
            raise UserError("--publish and --output both say where the image goes; give one of them")
        output = f"registry://{tag}"
    if getattr(args, "cache_image", None):
        from boxwise.builder.cacheimage import check_cache_image

        check_cache_image(args.cache_image)  # a bad reference is refused before the build
    return BuildOptions(
        base=_text_or_none(pick("base", "base")),
        tag=tag,
        output=output,
        build_env=build_env(getattr(args, "env", None) or [], getattr(args, "env_file", None)),
        clear_cache=bool(getattr(args, "clear_cache", False)),
        previous_image=getattr(args, "previous_image", None),
        cache_image=getattr(args, "cache_image", None),
        cache_image_read_only=bool(getattr(args, "cache_image_read_only", False)),
        default_process=getattr(args, "default_process", None),
        cache_dir=cache,
        network=str(pick("network", "network", "host")),
        ca_cert=ca_cert,
        run_image=pick("run_image", "run-image"),  # type: ignore[arg-type]
        builder=pick("builder", "builder"),  # type: ignore[arg-type]
        runner=getattr(args, "runner", None) or "docker",
        check=bool(pick("check", "check", False)),
        check_timeout=_seconds(pick("check_timeout", "check-timeout", 30.0)),
        check_path=str(pick("check_path", "check-path", "/")),
        pull_policy=str(pick("pull_policy", "pull-policy", "if-not-present")),
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


def run_build(args: argparse.Namespace) -> int:
    from boxwise.builder.lifecycle import build_app

    settings = load_settings(Path(args.app))
    print_warnings(settings)
    result = build_app(args.app, options_from_args(args, settings.build, settings.root))
    for layer in result.layers:
        print(f"  {layer.line()}  {layer.diff_id[:19]}  {layer.size} bytes")
    default = result.default_process
    if default:
        print(f"  process {default.type}: {' '.join(default.command + default.args)}")
    startup = result.startup
    if startup is not None and startup.checked and not startup.answered:
        print(f"boxwise: {args.app}: the image does not start: {startup.reason}", file=sys.stderr)
        return 1
    return 0
