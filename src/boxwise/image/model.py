"""The image model: a manifest, a config and a list of layers, wherever the image lives.

Plain values only. The readers in `archive`, `layout` and `daemon` build them; the build stage
builds them for the images it writes; the analysis never cares where an image came from.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple, Protocol

from boxwise.image.mediatypes import DOCKER_CONFIG, DOCKER_MANIFEST, OCI_LAYER
from boxwise.image.whiteout import WHITEOUT

# tar type bytes whose entries carry no data, whatever their header size says (as Go's reader).
HEADER_ONLY_TYPES = frozenset("123456")
# tar type bytes of a regular file's entry (`7`, contiguous, is one to every reader)
REGULAR_TYPES = ("0", "\x00", "7")
# the file that lists an installed distribution's files (its data is read for the dependency table)
RECORD_SUFFIX = ".dist-info/RECORD"
_KINDS = {
    "0": "file",
    "\x00": "file",
    "7": "file",
    "1": "hardlink",
    "2": "symlink",
    "3": "char",
    "4": "block",
    "5": "dir",
    "6": "fifo",
}


class Entry(NamedTuple):
    """One tar header of a layer: what a file index holds (never file contents).

    `path` is the cleaned name, relative, without a leading `/` (`etc/passwd`); whiteouts keep
    their `.wh.` prefix. `size` is the header size (0 for directories, links, devices). Owners
    are not kept: no figure or rule uses them, and every header's uid and gid parsed for nothing
    cost a cold read of a 23,000-file image 15 ms.
    """

    path: str
    size: int
    typeflag: str = "0"
    mode: int = 0o644
    linkname: str = ""

    @property
    def kind(self) -> str:
        if self.is_dir:
            return "dir"
        return _KINDS.get(self.typeflag, "other")

    @property
    def is_dir(self) -> bool:
        # Go's FileInfo: the dir type byte, or S_IFDIR in the mode (Docker writes type bits there).
        return self.typeflag == "5" or (self.mode & ~0o7777) == 0o040000

    @property
    def is_whiteout(self) -> bool:
        return self.path.rpartition("/")[2].startswith(WHITEOUT)


# A layer index as five columns (paths, sizes, types, modes, links): what marshal writes and
# reads fastest, for the index cache and a forked reader's answer alike.
Columns = list[tuple[Any, ...]]


def index_columns(entries: Sequence[Entry]) -> Columns:
    return list(zip(*entries, strict=True))


def index_from_columns(columns: Columns) -> list[Entry]:
    new_tuple = tuple.__new__  # Entry's own __new__ is a Python function: one frame less per entry
    return [new_tuple(Entry, row) for row in zip(*columns, strict=True)]


@dataclass
class History:
    """One `config.history[]` item."""

    created_by: str = ""
    empty_layer: bool = False
    created: str | None = None
    comment: str | None = None


class BlobReader(Protocol):
    """What a layer's `opener` gives: the blob's bytes, read front to back, closed by `with` (a
    file, a section of an archive, a registry download)."""

    def read(self, size: int = -1, /) -> bytes: ...

    def __enter__(self) -> BlobReader: ...

    def __exit__(self, kind: Any, value: Any, traceback: Any, /) -> None: ...


@dataclass
class Layer:
    """One layer of an image, as the manifest and config describe it.

    `digest` is the blob's digest as stored (the compressed one for gzip layers; for an
    uncompressed layer it equals `diff_id`). `size` is the stored blob size in bytes, -1 when
    unknown. `created_by` is the matching non-empty history command, None when the config has no
    history entry left for this layer. `entries`, when set, is the file index already read (the
    engine reader fills it while streaming); otherwise `opener` gives the blob's bytes.
    """

    digest: str
    diff_id: str
    media_type: str = OCI_LAYER
    size: int = -1
    created_by: str | None = None
    opener: Callable[[], BlobReader] | None = field(default=None, repr=False, compare=False)
    entries: list[Entry] | None = field(default=None, repr=False, compare=False)
    # Where the layer came from inside its container (archive member name), for messages.
    location: str = ""
    # For bytes in a local file: their place key (store.place_key), asked when the layer is read.
    place: Callable[[], str | None] | None = field(default=None, repr=False, compare=False)
    # RECORD path → where its data starts in the layer tar, noted when the layer's headers were
    # read from a plain tar in a file (image.layer_index): the dependency table reads them in place.
    record_offsets: dict[str, int] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class Image:
    """An image: its manifest, its config, its layers (base first) and the reference it came from."""

    ref: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    layers: list[Layer]
    source: str = ""  # docker | docker-archive | oci | build
    guess: str | None = None  # how a bare reference was resolved, said to the user
    name: str | None = None  # a tag or name the place gave the image, when it had one
    # the config exactly as stored (its sha256 is the image ID), when the place gave the bytes
    config_bytes: bytes | None = field(default=None, repr=False)

    @property
    def labels(self) -> dict[str, str]:
        labels = (self.config.get("config") or {}).get("Labels") or {}
        return labels if isinstance(labels, dict) else {}

    @property
    def history(self) -> list[History]:
        return parse_history(self.config)


def parse_history(config: dict[str, Any]) -> list[History]:
    items = config.get("history") or []
    if not isinstance(items, list):
        return []
    history = []
    for item in items:
        if not isinstance(item, dict):
            continue
        history.append(
            History(
                created_by=str(item.get("created_by") or ""),
                empty_layer=bool(item.get("empty_layer", False)),
                created=item.get("created"),
                comment=item.get("comment"),
            )
        )
    return history


def layer_commands(config: dict[str, Any], layer_count: int) -> list[str | None]:
    """The history command of each layer: non-empty history items matched in order (as dive)."""
    commands: list[str | None] = [None] * layer_count
    index = 0
    for item in parse_history(config):
        if item.empty_layer:
            continue
        if index >= layer_count:
            break
        commands[index] = item.created_by
        index += 1
    return commands


def diff_ids(config: dict[str, Any], where: str = "the image config") -> list[str]:
    """The config's diff_ids, each checked to be a sha256 digest (they name cache files)."""
    from boxwise.image.digest import checked

    rootfs = config.get("rootfs") or {}
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    return [checked(i, f"{where}: diff_id") for i in ids] if isinstance(ids, list) else []


def dive_command(created_by: str | None) -> str:
    """A layer's command as dive shows it: one leading `/bin/sh -c ` removed, `(missing)` if none."""
    if created_by is None:
        return "(missing)"
    return created_by.removeprefix("/bin/sh -c ")


def load_json(data: bytes, what: str) -> Any:
    from boxwise.errors import DamagedImage

    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedImage(f"{what}: not valid JSON ({exc}); the image is corrupt, save it again") from None
    except RecursionError:
        raise DamagedImage(
            f"{what}: JSON nested too deep to be an image document; the image is corrupt"
        ) from None


def parse_config(
    config_bytes: bytes, layer_count: int, where: str, what: str, manifest_name: str = "the manifest"
) -> tuple[dict[str, Any], list[str], list[str | None]]:
    """An image config read from any place: (config, diff_ids, per-layer commands), checked to
    describe as many layers as the manifest lists. `where` names the config, `what` the place kind
    (archive, layout, image) in the one-line error."""
    from boxwise.errors import UserError

    config = load_json(config_bytes, where)
    if not isinstance(config, dict):
        raise UserError(f"{where} is not an image config; the {what} is corrupt")
    ids = diff_ids(config, where)
    if len(ids) != layer_count:
        raise UserError(
            f"{where}: {manifest_name} lists {layer_count} layers but the config has {len(ids)} diff_ids;"
            f" the {what} is corrupt"
        )
    return config, ids, layer_commands(config, layer_count)


def buildpack_layers(labels: dict[str, str]) -> dict[str, tuple[str | None, str]]:
    """diff_id -> (buildpack id, layer name), from the `io.buildpacks.lifecycle.metadata` label."""
    try:
        metadata = json.loads(str(labels.get("io.buildpacks.lifecycle.metadata") or "{}"))
    except (ValueError, RecursionError):
        return {}
    if not isinstance(metadata, dict):
        return {}
    found: dict[str, tuple[str | None, str]] = {}
    # the label is the image's to write: any part of another shape is passed over
    buildpacks = metadata.get("buildpacks")
    for buildpack in buildpacks if isinstance(buildpacks, list) else []:
        if not isinstance(buildpack, dict):
            continue
        owner = buildpack.get("key") or buildpack.get("id")
        owner = owner if isinstance(owner, str) else None
        layers = buildpack.get("layers")
        for layer_name, layer in layers.items() if isinstance(layers, dict) else ():
            if isinstance(layer, dict) and isinstance(layer.get("sha"), str):
                found[layer["sha"]] = (owner, str(layer_name))
    app = metadata.get("app")
    for item in app if isinstance(app, list) else []:
        if isinstance(item, dict) and isinstance(item.get("sha"), str):
            found[item["sha"]] = (None, "app")
    for key in ("launcher", "config", "process-types", "sbom"):
        item = metadata.get(key)
        if isinstance(item, dict) and isinstance(item.get("sha"), str):
            found[item["sha"]] = (None, key)
    return found


LARGEST_FILES = 10


def largest_files(entries: Sequence[Entry], count: int = LARGEST_FILES) -> list[tuple[str, int]]:
    """The `count` largest regular files of a layer, largest first (ties by path)."""
    regular = ("0", "\x00", "7", "S")

    def at_least(floor: int) -> list[tuple[str, int]]:
        return [
            (entry.path, entry.size)
            for entry in entries
            if entry.size >= floor and entry.typeflag in regular and (entry.mode & ~0o7777) != 0o040000
        ]

    # only entries at least as large as the count-th largest size can be in the answer
    sizes = sorted(map(itemgetter(1), entries), reverse=True)
    files = at_least(max(sizes[count - 1] if len(sizes) >= count else 0, 1))
    if len(files) < count:  # entries of other kinds were among the largest: look at every file
        files = at_least(1)
    files.sort(key=lambda item: (-item[1], item[0]))
    return [("/" + path, size) for path, size in files[:count]]


def docker_manifest(config_digest: str, layers: Sequence[Layer]) -> dict[str, Any]:
    """The Docker v2 manifest of an image read from the engine (which keeps no manifest of its own)."""
    return {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "digest": config_digest},
        "layers": [{"mediaType": la.media_type, "digest": la.digest, "size": la.size} for la in layers],
    }
