"""The builder: boxwise's buildpacks folder and the detection order of its `builder.toml`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boxwise.errors import UserError

if TYPE_CHECKING:
    from boxwise.builder.cnbfiles import DriverPlan

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# Where the folders go in the build container, as a CNB builder image has them.
CNB_BUILDPACKS = "/cnb/buildpacks"
PROCESS_FALLBACK = "procfile-run"


@dataclass(frozen=True)
class Buildpack:
    id: str
    version: str
    api: str
    folder: Path  # on this machine

    @property
    def dir_name(self) -> str:
        return self.id.replace("/", "_")

    @property
    def container_path(self) -> str:
        return f"{CNB_BUILDPACKS}/{self.dir_name}"


@dataclass(frozen=True)
class Builder:
    buildpacks: dict[str, Buildpack]
    order: list[list[dict[str, Any]]]  # groups of {"id", "optional"}
    # buildpacks/shared: the one source of the modules every buildpack folder gets a copy of
    shared: Path | None = None
    # [build] image and the first [[run.images]] image: the default build and run images
    build_image: str = ""
    run_image: str = ""

    def shared_files(self) -> list[Path]:
        return sorted(self.shared.glob("*.py")) if self.shared and self.shared.is_dir() else []

    def plan(self, app_dir: str, layers_dir: str, platform_dir: str) -> DriverPlan:
        """What the in-container driver reads: order, buildpacks (with their container paths), folders."""
        from boxwise.builder.cnbfiles import DriverPlan, PlanBuildpack  # not on the `detect` path

        return DriverPlan(
            order=self.order,
            buildpacks=tuple(
                PlanBuildpack(bp.id, bp.version, bp.api, bp.dir_name, bp.container_path)
                for bp in self.buildpacks.values()
            ),
            app_dir=app_dir,
            layers_dir=layers_dir,
            platform_dir=platform_dir,
            process_fallback=PROCESS_FALLBACK if PROCESS_FALLBACK in self.buildpacks else None,
        )


def buildpacks_root() -> Path:
    """The buildpacks folder: inside the installed package, or at the repo root (editable install)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / "buildpacks", here.parents[3] / "buildpacks"):
        if (candidate / "builder.toml").is_file():
            return candidate
    raise UserError(f"{here.parents[1]}: no buildpacks/builder.toml next to boxwise; reinstall boxwise")


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: cannot read it ({exc}); fix the file") from None


def load_builder(root: Path | None = None) -> Builder:
    root = root or buildpacks_root()
    config = _read(root / "builder.toml")
    buildpacks: dict[str, Buildpack] = {}
    for entry in config.get("buildpacks") or []:
        folder = (root / str(entry.get("uri") or entry["id"])).resolve()
        descriptor = _read(folder / "buildpack.toml")
        info = descriptor.get("buildpack") or {}
        bp_id = str(info.get("id") or entry["id"])
        version, api = str(info.get("version", "0.0.0")), str(descriptor.get("api", ""))
        buildpacks[bp_id] = Buildpack(bp_id, version, api, folder)
    order = []
    for group in config.get("order") or []:
        items = []
        for item in group.get("group") or []:
            if item.get("id") not in buildpacks:
                raise UserError(f"{root / 'builder.toml'}: order names unknown buildpack {item.get('id')!r}")
            items.append({"id": item["id"], "optional": bool(item.get("optional", False))})
        order.append(items)
    if not order:
        raise UserError(f"{root / 'builder.toml'}: no [[order]] groups; add at least one")
    build_image, run_image = _images(config, root / "builder.toml")
    return Builder(buildpacks, order, root / "shared", build_image, run_image)


def _images(config: dict[str, Any], path: Path) -> tuple[str, str]:
    """([build] image, first [[run.images]] image), or the older [stack] build-image / run-image,
    as pack reads them; empty when the file names none."""
    stack = value if isinstance(value := config.get("stack"), dict) else {}
    build = value if isinstance(value := config.get("build"), dict) else {}
    run = value if isinstance(value := config.get("run"), dict) else {}
    images = value if isinstance(value := run.get("images"), list) else []
    first = images[0] if images and isinstance(images[0], dict) else {}
    build_image = build.get("image") or stack.get("build-image") or ""
    run_image = first.get("image") or stack.get("run-image") or ""
    if not isinstance(build_image, str) or not isinstance(run_image, str):
        raise UserError(f"{path}: [build] image and [[run.images]] image must be image names (strings)")
    return build_image, run_image
