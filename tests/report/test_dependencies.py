"""Which dependency weighs what: distributions from the dist-info RECORDs of handmade images.

The images are written by hand (tests/image/archives.py) so the layer tars say exactly what the
sizes must be, whatever RECORD's own size column claims; the real-build check is in
test_dependencies_build.py.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import random
from pathlib import Path

from image.archives import docker_archive, oci_layout, settled
from support.cli import run_boxwise

from boxwise.analyze.depdiff import diff_dependencies
from boxwise.analyze.dependencies import Distribution, record_paths
from boxwise.report.deptable import change_phrase

SITE = "usr/local/lib/python3.12/site-packages"
VENV = "layers/boxwise_pip-install/packages/lib/python3.12/site-packages"


def record(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


def image_layers() -> list[list[tuple]]:
    """A python base with pip, then a dependency layer, then a layer that changes it."""
    base = [
        ("f", f"{SITE}/pip/__init__.py", 1_000),
        ("f", f"{SITE}/pip/_internal.py", 20_000),
        ("f", f"{SITE}/pip-24.0.dist-info/METADATA", 300),
        # RECORD's sizes lie (9 bytes each): the layer tar's sizes count
        (
            "f",
            f"{SITE}/pip-24.0.dist-info/RECORD",
            record("pip/__init__.py,sha256=x,9", "pip/_internal.py,,9"),
        ),
        ("f", "usr/bin/python3", 5_000),
    ]
    numpy_record = record(
        "numpy/__init__.py,,1",
        '"numpy/core/_multi,array.so",,1',  # a quoted path with a comma
        "numpy-2.2.6.dist-info/METADATA,,1",
        "numpy-2.2.6.dist-info/RECORD,,",
        "/etc/passwd,,",  # absolute: ignored
        "../../../../../../../../etc/shadow,,",  # climbs out of the site folder: ignored
        "../../../bin/f2py,,",  # the venv's bin/ is outside the site folder too: ignored
        "numpy/__init__.py,,1",  # listed twice: counted once
        "numpy/gone.py,,100",  # not in the image: missing, not counted
    )
    deps = [
        ("f", f"{VENV}/numpy/__init__.py", 2_000),
        ("f", f"{VENV}/numpy/core/_multi,array.so", 3_000_000),
        ("f", f"{VENV}/numpy-2.2.6.dist-info/METADATA", 500),
        ("f", f"{VENV}/numpy-2.2.6.dist-info/RECORD", numpy_record),
        ("f", "layers/boxwise_pip-install/packages/bin/f2py", 700),
        ("f", f"{VENV}/six.py", 30_000),
        ("f", f"{VENV}/six-1.16.0.dist-info/RECORD", record("six.py,,1", "six-1.16.0.dist-info/RECORD,,")),
        ("f", f"{VENV}/old-1.0.dist-info/RECORD", record("old.py,,1")),
        ("f", f"{VENV}/old.py", 10),
        # not a site folder: a RECORD here is nobody's distribution
        ("f", "srv/vendor/fake-1.0.dist-info/RECORD", record("x,,1")),
    ]
    change = [
        ("f", f"{VENV}/numpy/__init__.py", 2_500),  # overwritten: the top version's size counts
        ("w", f"{VENV}/old-1.0.dist-info"),  # uninstalled: no longer in the image
    ]
    return [base, deps, change]


def inspect_json(ref: str, cwd: Path) -> dict:
    result = run_boxwise("inspect", ref, "--format", "json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


EXPECTED = [
    {
        "name": "numpy",
        "version": "2.2.6",
        "size_bytes": 2_500 + 3_000_000 + 500 + len(image_layers()[1][3][2]),
        "files": 4,
        "layer": 1,
        "site": "/" + VENV,
        "missing_files": 1,
        "truncated": False,
    },
    {
        "name": "six",
        "version": "1.16.0",
        "size_bytes": 30_000 + len(record("six.py,,1", "six-1.16.0.dist-info/RECORD,,")),
        "files": 2,
        "layer": 1,
        "site": "/" + VENV,
        "missing_files": 0,
        "truncated": False,
    },
    {
        "name": "pip",
        "version": "24.0",
        "size_bytes": 1_000 + 20_000 + 300 + len(image_layers()[0][3][2]),
        "files": 4,
        "layer": 0,
        "site": "/" + SITE,
        "missing_files": 0,
        "truncated": False,
    },
]


def test_each_distribution_weighs_its_files_as_the_layer_tars_hold_them(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "img.tar", image_layers())
    table = inspect_json(f"docker-archive:{archive}", tmp_path)["dependencies"]
    assert table["distributions"] == EXPECTED
    assert table["size_bytes"] == sum(d["size_bytes"] for d in EXPECTED)
    assert table["notes"] == []


def test_gzip_layers_of_an_oci_layout_give_the_same_table(tmp_path: Path) -> None:
    layout = oci_layout(tmp_path / "layout", image_layers(), gzip_layers=True)
    assert inspect_json(f"oci:{layout}", tmp_path)["dependencies"]["distributions"] == EXPECTED


def test_the_text_report_of_inspect_lists_the_distributions(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "img.tar", image_layers())
    result = run_boxwise("inspect", f"docker-archive:{archive}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Python distributions (3, 3.1 MB), top 20" in result.stdout
    rows = [line.split("│")[1:-1] for line in result.stdout.splitlines() if "│" in line]
    cells = [[cell.strip() for cell in row] for row in rows]
    assert ["3.0 MB", "numpy", "2.2.6", "1"] in cells and ["21 kB", "pip", "24.0", "0"] in cells


def test_a_record_past_the_read_limit_is_counted_as_far_as_it_was_read(tmp_path: Path) -> None:
    from boxwise.analyze.dependencies import measure
    from boxwise.analyze.layerfiles import read_files
    from boxwise.image import open_image

    rows = [f"pkg/m{n:04}.py,,1" for n in range(2000)]
    layer = [("f", f"{SITE}/pkg-1.dist-info/RECORD", record(*rows))]
    layer += [("f", f"{SITE}/pkg/m{n:04}.py", 10) for n in range(2000)]
    image = open_image(f"docker-archive:{docker_archive(tmp_path / 'big.tar', [layer])}")
    path = f"{SITE}/pkg-1.dist-info/RECORD"
    found, notes = read_files(image, {0: [path]}, limit=1_000)
    assert len(found[path].data) == 1_000 and found[path].truncated and notes == []
    view = {"/" + item[1]: len(item[2]) if isinstance(item[2], bytes) else item[2] for item in layer}
    (dist,) = measure({path: (found[path].data, True)}, {path: 0}, view)
    assert dist.truncated
    # whole lines only: ~1000 bytes of 18-byte rows, plus the RECORD itself (in its folder)
    assert dist.files == 1_000 // len(rows[0] + "\n") + 1
    # and the whole budget: once it is spent nothing more is read, and the notes say so
    found, notes = read_files(image, {0: [path]}, limit=1_000, budget=10)
    assert len(found[path].data) == 10
    assert notes == ["stopped reading after 10 bytes in all; the rest is not counted"]


def test_a_warm_read_takes_each_record_in_place_and_never_trusts_a_wrong_offset(tmp_path: Path) -> None:
    from boxwise.analyze.layerfiles import read_files
    from boxwise.image import open_image

    image = open_image(f"docker-archive:{docker_archive(tmp_path / 'img.tar', image_layers())}")
    path = f"{SITE}/pip-24.0.dist-info/RECORD"
    found, _ = read_files(image, {0: [path]})
    cold = found[path]
    assert cold.offset is not None and cold.offset % 512 == 0
    warm, notes = read_files(image, {0: [path]}, hints={path: cold.offset})
    assert warm[path] == cold and notes == []
    # an offset from another image (or a forged record) lands on another header, on data, past
    # the end: the layer is walked and the file's own bytes are read all the same
    for wrong in (512, cold.offset + 512, cold.offset - 1, 1 << 40):
        again, notes = read_files(image, {0: [path]}, hints={path: wrong})
        assert again[path] == cold and notes == []


def test_a_warm_inspect_of_an_archive_gives_the_cold_table(tmp_path: Path) -> None:
    archive = settled(docker_archive(tmp_path / "img.tar", image_layers()))  # a file just written: no record
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    runs = [run_boxwise("inspect", f"docker-archive:{archive}", "--format", "json", cwd=tmp_path, env=env)]
    assert len(list((tmp_path / "cache" / "boxwise" / "analysis").iterdir())) == 1
    runs.append(
        run_boxwise("inspect", f"docker-archive:{archive}", "--format", "json", cwd=tmp_path, env=env)
    )
    cold, warm = (json.loads(run.stdout)["dependencies"]["distributions"] for run in runs)
    assert cold == warm == EXPECTED


def test_record_paths_stay_inside_the_site_folder() -> None:
    site = "/app/site-packages"
    data = record(
        "a.py,,1",
        "sub/../b.py,,1",
        "../c.py,,1",
        "/abs.py,,1",
        "./d.py,,1",
        "sub/../../site-packages-evil/e.py,,1",
        "x\0y,,1",
        ",,",
    )
    paths, broken = record_paths(data, site)
    assert paths == ["/app/site-packages/a.py", "/app/site-packages/b.py", "/app/site-packages/d.py"]
    assert not broken


def test_a_malformed_record_counts_what_came_before_the_bad_field() -> None:
    data = b"a.py,,1\n" + b'"' + b"x" * 200_000 + b"\n"  # a field over csv's limit, never closed
    paths, broken = record_paths(data, "/s/site-packages")
    assert paths == ["/s/site-packages/a.py"] and broken


def _csv_reference(data: bytes, site: str) -> tuple[list[str], bool]:
    """record_paths as the csv module alone gives it: what the hand-split fast paths must match."""
    text = data.decode("utf-8", "surrogateescape")
    if not text.endswith("\n"):
        text = text.rpartition("\n")[0]
    paths: list[str] = []
    broken = False
    try:
        for row in csv.reader(io.StringIO(text)):
            name = row[0] if row else ""
            if not name or name.startswith("/") or "\0" in name:
                continue
            path = posixpath.normpath(f"{site}/{name}")
            if path.startswith(site + "/") and path not in paths:
                paths.append(path)
    except csv.Error:
        broken = True
    return paths, broken


def test_records_split_by_hand_read_as_the_csv_module_reads_them() -> None:
    # wheel and pip end RECORD rows in \r\n; a lone \r, quotes, NULs and other line breaks are
    # the csv module's cases: 20,000 random RECORDs of those pieces, each read both ways
    pieces = ["a", "b/", "/", ".", ",", "\n", "\r\n", "\r", '"', "\0", "x.py", "=", "é", "\x85", "\u2028"]
    rng = random.Random(7)
    for _ in range(20_000):
        data = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 24))).encode()
        assert record_paths(data, "/s") == _csv_reference(data, "/s"), data
    wheel = (
        "pkg/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\r\npkg-1.dist-info/RECORD,,\r\n"
    )
    assert record_paths(wheel.encode(), "/s") == (["/s/pkg/__init__.py", "/s/pkg-1.dist-info/RECORD"], False)


def dist(name: str, version: str, size: int, site: str = "/s/site-packages") -> Distribution:
    return Distribution(name, version, size, 1, 2, site)


def test_the_diff_says_what_was_added_removed_upgraded_and_grown() -> None:
    baseline = [
        dist("numpy", "2.2.6", 30_000_000),
        dist("six", "1.16.0", 38_000),
        dist("requests", "2.32.3", 200_000),
        dist("Typing_Extensions", "4.12.0", 100_000),
        dist("certifi", "2024.2.2", 300_000),
        dist("pip", "24.0", 9_000_000, site="/usr/local/lib/python3.12/site-packages"),
    ]
    new = [
        dist("numpy", "2.3.1", 33_400_000),
        dist("pandas", "2.2.3", 61_200_000),
        dist("requests", "2.31.0", 195_000),
        dist("typing-extensions", "4.12.0", 100_500),
        dist("certifi", "2024.2.2", 300_000),
        # the same name in two sites: each matched with its own site
        dist("pip", "24.0", 9_000_000, site="/usr/local/lib/python3.12/site-packages"),
        dist("pip", "25.1", 9_500_000),
    ]
    rows = diff_dependencies(baseline, new)
    said = [(r.name, r.status, r.change_bytes) for r in rows]
    assert said == [
        ("pandas", "added", 61_200_000),
        ("pip", "added", 9_500_000),
        ("numpy", "upgraded", 3_400_000),
        ("six", "removed", -38_000),
        ("requests", "downgraded", -5_000),
        ("typing-extensions", "changed", 500),
        ("pip", "unchanged", 0),
        ("certifi", "unchanged", 0),
    ]
    text = "; ".join(change_phrase(r, str) for r in rows[:4])
    assert text == (
        "+ pandas 2.2.3: 61.2 MB, new; + pip 25.1: 9.50 MB, new; numpy 2.2.6 → 2.3.1: +3.40 MB; "
        "− six 1.16.0: -38.0 kB, removed"
    )


def test_records_of_a_layout_are_read_each_time_never_cached_under_its_own_diff_ids(
    tmp_path: Path, monkeypatch
) -> None:
    """A layout (or archive, or registry) names its own diff_ids and the RECORDs are read without
    hashing the whole layer: keeping them would let a forged layer answer for a real image."""
    from boxwise.analyze.dependencies import read_dependencies
    from boxwise.image import load_indexes, open_image

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    layout = oci_layout(tmp_path / "layout", image_layers(), gzip_layers=True)
    image = open_image(f"oci:{layout}")
    assert [d.to_json() for d in read_dependencies(image, load_indexes(image)).distributions] == EXPECTED
    assert not list((tmp_path / "cache").rglob("records/*"))


def test_an_engine_image_streams_a_site_folder_when_that_is_cheaper_than_a_call_per_file() -> None:
    from boxwise.analyze.layerfiles import CALL_BYTES, _plan_engine

    paths = [
        f"{VENV}/a-1.dist-info/RECORD",
        f"{VENV}/b-1.dist-info/RECORD",
        f"{SITE}/pip-24.0.dist-info/RECORD",
    ]
    small = {VENV: 2 * CALL_BYTES - 1, SITE: CALL_BYTES}
    assert _plan_engine(paths, small) == [(VENV, paths[:2]), (None, [paths[2]])]
    big = {VENV: 2 * CALL_BYTES, SITE: CALL_BYTES - 1}
    assert _plan_engine(paths, big) == [(SITE, [paths[2]]), (None, [paths[0]]), (None, [paths[1]])]
