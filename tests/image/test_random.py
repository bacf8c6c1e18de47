"""Random small images, hand-written: dive's numbers from the real dive, exact accounting from a
plain overlay model written here (layer by layer, obvious rather than fast)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from support.oracle import run_dive

from boxwise.analyze.efficiency import dive_accounting
from boxwise.image import load_indexes, open_image

from .archives import docker_archive
from .test_oracle import assert_same_as_dive, inspect

NAMES = ["a", "b", "c", "a.b", "a-b"]


def _random_layers(rng: random.Random) -> list[list[tuple]]:
    layers: list[list[tuple]] = []
    known: list[str] = []
    for _ in range(rng.randint(1, 4)):
        items: list[tuple] = []
        used: set[str] = set()
        for _ in range(rng.randint(1, 8)):
            depth = rng.randint(1, 3)
            path = "/".join(rng.choice(NAMES) for _ in range(depth))
            if path in used or any(path.startswith(u + "/") or u.startswith(path + "/") for u in used):
                continue
            used.add(path)
            roll = rng.random()
            if known and roll < 0.2:
                target = rng.choice(known)
                if target not in used and not any(target.startswith(u + "/") for u in used):
                    used.add(target)
                    items.append(("w", target))
                continue
            if roll < 0.3:
                items.append(("d", path))
            elif roll < 0.35 and depth > 1:
                items.append(("o", path.rpartition("/")[0]))
                continue
            else:
                # parents given explicitly most of the time, as Docker does; sometimes left implicit
                if rng.random() < 0.7:
                    parts = path.split("/")
                    for n in range(1, len(parts)):
                        parent = "/".join(parts[:n])
                        if parent not in used:
                            used.add(parent)
                            items.append(("d", parent))
                items.append(("f", path, rng.choice([0, 10, 100, 1000])))
            known.append(path)
        if items:
            layers.append(items)
    return layers or [[("f", "only", 5)]]


def _overlay_waste(layers: list[list[tuple]]) -> int:
    """Bytes hidden in the merged filesystem: the obvious model (a dict of path -> (size, is_dir))."""
    fs: dict[str, tuple[int, bool]] = {}
    wasted = 0

    def hide_under(prefix: str, itself: bool) -> int:
        gone = [p for p in fs if p.startswith(prefix + "/") or (itself and p == prefix)]
        return sum(fs.pop(p)[0] for p in gone)

    for items in layers:
        for item in items:  # whiteouts act on lower layers: first
            if item[0] == "w":
                wasted += hide_under(item[1], True)
            elif item[0] == "o":
                wasted += hide_under(item[1], False)
        for item in items:
            if item[0] not in ("f", "d"):
                continue
            path, is_dir = item[1], item[0] == "d"
            parts = path.split("/")
            for n in range(1, len(parts)):  # a non-directory where a parent should be is replaced
                parent = "/".join(parts[:n])
                if parent in fs and not fs[parent][1]:
                    wasted += hide_under(parent, True)
                fs.setdefault(parent, (0, True))
            if path in fs and not (fs[path][1] and is_dir):
                wasted += hide_under(path, True)
            fs[path] = (item[2] if item[0] == "f" else 0, is_dir)
    return wasted


@pytest.mark.parametrize("seed", range(80))
def test_random_image_matches_dive_and_overlay_model(seed: int, tmp_path: Path, dive_workdir: Path) -> None:
    layers = _random_layers(random.Random(seed))
    archive = docker_archive(tmp_path / f"random{seed}.tar", layers)
    ours = inspect(f"docker-archive:{archive}")
    assert_same_as_dive(ours, run_dive(archive, dive_workdir))
    assert ours["exact"]["wasted_bytes"] == _overlay_waste(layers), layers
    # whiteouts sized from one stacked tree (many whiteouts) or by replaying what touches each
    # (a few): the same figures either way
    indexes = load_indexes(open_image(str(archive)))
    assert dive_accounting(indexes, few_whiteouts=0) == dive_accounting(indexes, few_whiteouts=1000)
