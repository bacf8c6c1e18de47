"""The base images of a build, chosen by the Python version the app asks for, and checked against it.

The default build and run images come from `buildpacks/builder.toml` ([build] image, [[run.images]]
image: `python:3.13-slim`). The version in their tag is the version slot: an app that asks for
3.12 (buildpacks/shared/pyversion.py reads where) gets `python:3.12-slim`. A base the user gives
(`--base`, `[tool.boxwise.build] base`, also --run-image and --builder) may hold `{python}` for the
same slot (`registry.example.com/python:{python}-slim`); without it, it is used as it is and only
checked.

The check happens before the build starts, against the run base's Python as its config declares
it (PYTHON_VERSION, as the official images set it) or as its layers show it; a base whose Python
cannot be known on the host is checked inside the build, by the build's python3, before anything
is installed. Either way a mismatch is one line naming the file, the request and the base's Python.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from boxwise.builder.builder_toml import Builder
from boxwise.builder.options import BuildOptions
from boxwise.errors import UserError

SLOT = "{python}"
# The version for an app that asks for none when builder.toml's image has no version in its tag.
DEFAULT_PYTHON = "3.13"
# The version at the start of a tag: python:3.13-slim, python:3.13.1-bookworm, python:3.13.
_TAG_VERSION = re.compile(r"^(\d+\.\d+(?:\.\d+)?)(?=$|[-_.][A-Za-z])")


@dataclass(frozen=True)
class Choice:
    """What the app asks for and the images chosen for it."""

    options: BuildOptions  # with base (and run_image / builder when given) filled in, no slot left
    request: Any  # pyversion.Request, or None when the app asks for no version
    python: str | None  # the version the slot was filled with, when a slot was filled
    pyversion: ModuleType

    def describe(self) -> str:
        asked = self.request.describe() if self.request is not None else "no version asked"
        chosen = f" -> base for Python {self.python}" if self.python else ""
        return f"python: {asked}{chosen}"


def version_template(image: str) -> tuple[str, str | None]:
    """`python:3.13-slim` -> (`python:{python}-slim`, "3.13"); an image without a version in its
    tag (or already a template) is returned as it is."""
    if SLOT in image or "@" in image:  # a digest names one image, not a family
        return image, None
    head, colon, tag = image.rpartition(":")
    if not colon or "/" in tag:
        return image, None
    match = _TAG_VERSION.match(tag)
    if match is None:
        return image, None
    return f"{head}:{SLOT}{tag[match.end() :]}", match.group(1)


def read_request(pyversion: ModuleType, app_dir: Path) -> Any:
    try:
        return pyversion.read_request(str(app_dir))
    except pyversion.VersionError as exc:
        raise UserError(f"{app_dir}/{exc}") from None


def _fill(image: str, python: str, flag: str) -> str:
    filled = image.replace(SLOT, python)
    if "{" in filled or "}" in filled:
        raise UserError(f"{flag} {image}: {{python}} is the only placeholder a base may hold")
    return filled


def choose_images(options: BuildOptions, builder: Builder, app_dir: Path, pyversion: ModuleType) -> Choice:
    """The options with concrete images: the user's (slot filled) or builder.toml's, by version."""
    request = read_request(pyversion, app_dir)
    run_template, default = version_template(builder.run_image)
    build_template, _ = version_template(builder.build_image or builder.run_image)
    base = options.base or run_template
    if not base:
        raise UserError("buildpacks/builder.toml names no [[run.images]] image; give --base")
    images = {
        "--base": base,
        "--run-image": options.run_image,
        "--builder": options.builder or (None if options.base else build_template),
    }
    # The images this build uses: the run image, and the build image when buildpacks run in one.
    used = [options.run_image or base]
    if options.runner == "docker":
        used.append(images["--builder"] or base)
    if not any(SLOT in image for image in used):
        return Choice(
            dataclasses.replace(options, base=base, builder=images["--builder"]), request, None, pyversion
        )
    python = request.choose(default or DEFAULT_PYTHON) if request is not None else default or DEFAULT_PYTHON
    if pyversion.end_of_life(python):
        raise UserError(_end_of_life(request, app_dir, python, pyversion))
    filled = {flag: _fill(image, python, flag) if image else None for flag, image in images.items()}
    changed = dataclasses.replace(
        options, base=filled["--base"], run_image=filled["--run-image"], builder=filled["--builder"]
    )
    return Choice(changed, request, python, pyversion)


def _end_of_life(request: Any, app_dir: Path, python: str, pyversion: ModuleType) -> str:
    ask = request.first if request is not None else None
    field = f"{ask.field} " if ask and ask.field else ""
    where = f"{app_dir}/{ask.source}: {field}asks for" if ask else f"{app_dir}: the app asks for"
    oldest = ".".join(map(str, pyversion.OLDEST_SUPPORTED))
    return (
        f"{where} Python {python}, which has reached its end of life; boxwise chooses bases for Python "
        f"{oldest} or newer: ask for a newer one, or give --base an image with Python {python}"
    )


def check_python(choice: Choice, app_dir: Path, what: str, version: str) -> None:
    """UserError with one line when `version` (of `what`) is not what the app asks for."""
    if choice.request is None:
        return
    parsed = choice.pyversion.parse_version(version)
    if parsed is None:
        return
    problem = choice.pyversion.mismatch(choice.request, parsed, what)
    if problem:
        raise UserError(f"{app_dir}/{problem}")
