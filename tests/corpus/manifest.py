"""tests/corpus/manifest.toml → typed `CorpusApp` values, shared by the harness and bench/corpus.py."""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.toml"
APPS_DIR = HERE / "apps"

# Features boxwise does not have yet: a case that needs one is xfail(strict) with this reason, so the
# day the feature lands the case passes, the xfail turns into a failure and `needs` must go.
NEEDS: dict[str, str] = {}
EXPECTS = ("answers", "refused")


@dataclass(frozen=True)
class CorpusApp:
    name: str
    repository: str
    source_path: str
    commit: str
    license: str
    license_files: tuple[str, ...]
    license_copies: tuple[str, ...]
    framework: str
    layout: str
    expect: str
    changes: tuple[str, ...]
    path: str = "/"
    status: tuple[int, ...] = ()
    error: tuple[str, ...] = ()
    needs: str = ""
    both_bases: bool = False
    command: str = ""
    note: str = ""
    build_says: tuple[str, ...] = ()  # substrings of the build's output (what collectstatic did)
    image_files: tuple[str, ...] = ()  # files the run user can read in the image (collected statics)

    @property
    def folder(self) -> Path:
        return APPS_DIR / self.name


class ManifestError(ValueError):
    pass


def _app(raw: dict[str, object]) -> CorpusApp:
    known = {f.name for f in fields(CorpusApp)}
    unknown = set(raw) - known
    if unknown:
        raise ManifestError(f"{raw.get('name', '?')}: unknown keys {sorted(unknown)}")
    values = {key: tuple(value) if isinstance(value, list) else value for key, value in raw.items()}
    try:
        app = CorpusApp(**values)  # type: ignore[arg-type]
    except TypeError as error:
        raise ManifestError(f"{raw.get('name', '?')}: {error}") from None
    if app.expect not in EXPECTS:
        raise ManifestError(f"{app.name}: expect must be one of {EXPECTS}, not {app.expect!r}")
    if app.expect == "answers" and not (app.status and app.path.startswith("/") and app.command):
        raise ManifestError(f"{app.name}: an app that answers needs `path`, `status` and `command`")
    if app.expect == "refused" and not app.error:
        raise ManifestError(f"{app.name}: a refused app needs `error` (substrings of the one-line message)")
    if app.needs and app.needs not in NEEDS:
        raise ManifestError(f"{app.name}: needs {app.needs!r} is none of {sorted(NEEDS)}")
    return app


def load_manifest(path: Path = MANIFEST) -> list[CorpusApp]:
    data = tomllib.loads(path.read_text())
    return [_app(raw) for raw in data.get("app", [])]
