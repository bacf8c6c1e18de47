"""The corpus is what the manifest says: each vendored app recorded with its source and license."""

from __future__ import annotations

import re

import pytest

from .manifest import APPS_DIR, HERE, ManifestError, _app, load_manifest

APPS = load_manifest()
SPDX = {"Apache-2.0", "MIT", "BSD-3-Clause", "Unlicense"}
JUNK = re.compile(r"(^|/)(\.git|__pycache__|\.venv|venv|node_modules)(/|$)|\.pyc$")


def test_every_vendored_folder_is_in_the_manifest_and_back() -> None:
    names = [app.name for app in APPS]
    assert len(names) == len(set(names)), "an app name is listed twice"
    on_disk = sorted(p.name for p in APPS_DIR.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert on_disk == sorted(names)


@pytest.mark.parametrize("app", APPS, ids=lambda app: app.name)
def test_app_records_its_source_license_and_expectation(app) -> None:
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", app.repository)
    assert re.fullmatch(r"[0-9a-f]{40}", app.commit), "a full commit sha, not a branch"
    assert app.license in SPDX
    assert app.license_files and app.license_copies
    for copy in app.license_copies:
        assert (HERE / copy).is_file(), f"{copy} is missing"
    files = [p for p in app.folder.rglob("*") if p.is_file()]
    assert files, "nothing vendored"
    for path in files:
        rel = path.relative_to(app.folder).as_posix()
        assert not JUNK.search(rel), f"{rel} is not app source"
        assert path.stat().st_size < 300_000, f"{rel}: large assets stay upstream"


def test_the_corpus_has_the_mix_the_builder_must_handle() -> None:
    answers = [app for app in APPS if app.expect == "answers"]
    refused = [app for app in APPS if app.expect == "refused"]
    assert len(APPS) >= 24 and len(refused) >= 2
    assert {"flask", "django", "fastapi", "wsgi"} <= {app.framework for app in answers}
    with_procfile = {app.name for app in answers if (app.folder / "Procfile").is_file()}
    assert with_procfile and len(with_procfile) < len(answers), "Procfile and no-Procfile apps"
    # CI runs the both_bases subset on the second base: it must cover each expectation.
    assert {app.expect for app in APPS if app.both_bases} == {"answers", "refused"}


def test_a_broken_entry_is_refused_with_the_app_named() -> None:
    entry = {key: getattr(APPS[0], key) for key in ("name", "repository", "source_path", "commit")}
    entry |= {"license": "MIT", "license_files": ["LICENSE"], "license_copies": ["x"], "framework": "flask"}
    entry |= {"layout": "x", "changes": [], "expect": "answers", "path": "/", "status": [200]}
    with pytest.raises(ManifestError, match=f"^{APPS[0].name}: .*command"):
        _app(entry)
    with pytest.raises(ManifestError, match="unknown keys"):
        _app({**entry, "command": "x", "stauts": [200]})
    with pytest.raises(ManifestError, match="expect must be"):
        _app({**entry, "command": "x", "expect": "works"})
