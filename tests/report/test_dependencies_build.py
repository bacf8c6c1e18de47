"""The dependency table of real images whose dependency layer changed, against the sizes on disk.

Two images of one app are built with `boxwise build` on the Python base: the second bumps
itsdangerous (2.1.2 → 2.2.0) and adds idna. Inside each image the stdlib's own RECORD reader
(`importlib.metadata`) and `os.lstat` say what every distribution's installed files weigh; the
report must say the same, for the engine image and for its `docker save` archive alike.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from support.cli import REPO, run_boxwise

# one worker of `-n 2` holds the module (its images have fixed tags, removed at its end)
pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.xdist_group("report-deps-build")]

REQUIREMENTS = {
    "v1": "itsdangerous==2.1.2\nsix==1.16.0\n",
    "v2": "itsdangerous==2.2.0\nsix==1.16.0\nidna==3.7\n",
}

# Run inside the image by its own python3, -S so only the folders named are looked at: every
# site folder holding a dist-info, each distribution's RECORD files (the stdlib's reading of it)
# inside that folder, plus the rest of its dist-info folder, sized on disk.
ON_DISK = r"""
import importlib.metadata as md, json, os, sys
sites = set()
for top in ("/layers", "/usr"):
    for folder, dirs, files in os.walk(top):
        if folder.endswith((".dist-info",)) and "RECORD" in files:
            sites.add(os.path.dirname(folder))
out = {}
for site in sorted(sites):
    if os.path.basename(site) not in ("site-packages", "dist-packages"):
        continue
    for dist in md.distributions(path=[site]):
        paths = {os.path.normpath(os.path.join(site, str(f))) for f in dist.files or []}
        paths = {p for p in paths if p.startswith(site + "/")}
        info = str(dist._path)
        paths |= {os.path.join(info, name) for name in os.listdir(info)}
        sizes = [os.lstat(p).st_size for p in paths if os.path.lexists(p) and not os.path.isdir(p)]
        out[dist.metadata["Name"].lower()] = [dist.version, sum(sizes), len(sizes), site]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def built(python_base: str, docker_client, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("deps-build")
    tags = {}
    for name, requirements in REQUIREMENTS.items():
        app = root / name
        shutil.copytree(REPO / "examples" / "hello", app)
        (app / "requirements.txt").write_text(requirements)
        tags[name] = f"boxwise-test-report-deps:{name}"
        result = run_boxwise("build", str(app), "--base", python_base, "--tag", tags[name], cwd=root)
        assert result.returncode == 0, result.stderr
    yield root, tags
    for tag in tags.values():
        docker_client.images.remove(tag, force=True)


def on_disk(tag: str) -> dict[str, list]:
    result = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", tag, "-S", "-c", ON_DISK],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def table(analysis: dict) -> dict[str, list]:
    return {
        d["name"].lower(): [d["version"], d["size_bytes"], d["files"], d["site"]]
        for d in analysis["dependencies"]["distributions"]
    }


def test_the_dependency_table_matches_the_sizes_on_disk_and_the_diff_says_what_changed(built) -> None:
    root, tags = built
    out = root / "out"
    result = run_boxwise(
        "report",
        f"docker://{tags['v2']}",
        "--baseline",
        f"docker://{tags['v1']}",
        "--format",
        "markdown",
        "--json",
        str(out / "report.json"),
        cwd=root,
    )
    assert result.returncode == 0, result.stderr
    app = json.loads((out / "report.json").read_text())["apps"][0]
    disk_v1, disk_v2 = on_disk(tags["v1"]), on_disk(tags["v2"])
    print("on disk:", disk_v1, disk_v2)
    assert set(disk_v2) == {"itsdangerous", "six", "idna"}
    assert table(app["baseline"]) == disk_v1
    assert table(app["analysis"]) == disk_v2
    # all three live in the dependency layer, the one layer the bump rebuilt
    (dep_layer,) = {d["layer"] for d in app["analysis"]["dependencies"]["distributions"]}
    assert app["analysis"]["layers"][dep_layer]["layer_name"] == "packages"

    changes = {c["name"]: c for c in app["diff"]["dependencies"]["changes"]}
    assert changes["idna"]["status"] == "added" and changes["idna"]["size_bytes"] == disk_v2["idna"][1]
    bump = changes["itsdangerous"]
    assert (bump["status"], bump["before_version"], bump["version"]) == ("upgraded", "2.1.2", "2.2.0")
    assert bump["change_bytes"] == disk_v2["itsdangerous"][1] - disk_v1["itsdangerous"][1]
    assert changes["six"]["status"] == "unchanged"

    from boxwise.units import human_bytes

    added = f"+ `idna` `3.7`: {human_bytes(disk_v2['idna'][1])}, new"
    bumped = f"`itsdangerous` `2.1.2` → `2.2.0`: {human_bytes(bump['change_bytes'], signed=True)}"
    line = next(line for line in result.stdout.splitlines() if line.startswith("**Dependencies:**"))
    assert added in line and bumped in line, line

    diff = run_boxwise("diff", f"docker://{tags['v1']}", f"docker://{tags['v2']}", cwd=root)
    assert diff.returncode == 0, diff.stderr
    tail = diff.stdout.split("\ndependencies: ", 1)[1].splitlines()
    assert tail[0].startswith("2 changed, +")
    assert tail[1].split() == ["added", *human_bytes(disk_v2["idna"][1], signed=True).split(), "idna", "3.7"]
    assert tail[2].split()[-4:] == ["itsdangerous", "2.1.2", "→", "2.2.0"]


def test_a_docker_save_archive_gives_the_same_table_as_the_engine(built) -> None:
    root, tags = built
    archive = root / "v2.tar"
    subprocess.run(["docker", "save", "-o", str(archive), tags["v2"]], check=True)
    tables = []
    for ref in (f"docker://{tags['v2']}", f"docker-archive:{archive}"):
        result = run_boxwise("inspect", ref, "--format", "json", cwd=root)
        assert result.returncode == 0, result.stderr
        tables.append(json.loads(result.stdout)["dependencies"])
    assert tables[0] == tables[1] and len(tables[0]["distributions"]) == 3


@pytest.mark.parametrize("call_bytes", [0, 10**12], ids=["a-call-per-file", "the-folder-streamed"])
def test_both_ways_of_reading_an_engine_image_give_the_sizes_on_disk(
    built, call_bytes: int, monkeypatch, tmp_path: Path
) -> None:
    from boxwise.analyze import layerfiles
    from boxwise.analyze.dependencies import read_dependencies
    from boxwise.image import load_indexes, open_image

    _, tags = built
    monkeypatch.setattr(layerfiles, "CALL_BYTES", call_bytes)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing cached: read from the engine
    image = open_image(f"docker://{tags['v1']}")
    dists = read_dependencies(image, load_indexes(image)).distributions
    got = {d.name: [d.version, d.size_bytes, d.files, d.site] for d in dists}
    assert got == on_disk(tags["v1"])
