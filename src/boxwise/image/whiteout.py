"""Whiteouts, the OCI layer rule for deleting what a lower layer holds: `.wh.NAME` hides NAME and
all below it, `.wh..wh..opq` hides every lower-layer entry of its folder, and no other name under
the `.wh..wh.` prefix is a file of the image. One module for the rule; the dive-compatible tree
(image/tree) and the accounting (analyze/efficiency) apply it the way dive does.
"""

from __future__ import annotations

from collections.abc import Iterable

WHITEOUT = ".wh."
OPAQUE_PREFIX = ".wh..wh."
OPAQUE = ".wh..wh..opq"


def hidden_path(head: str, name: str) -> str:
    """The path the whiteout `head/name` (`name` starting with `.wh.`) deletes."""
    return f"{head}/{name[len(WHITEOUT) :]}" if head else name[len(WHITEOUT) :]


def final_view(layers: Iterable[Iterable[tuple[str, int, bool]]]) -> dict[str, int]:
    """path → size of the files an image finally shows, from its layers' (path, size, is_dir) entries
    (index paths: clean, relative, as image/tarindex gives them; `/`-rooted in the result).

    Whiteouts follow the OCI layer rules: `.wh.NAME` hides NAME and all below it from lower layers,
    `.wh..wh..opq` hides every lower-layer entry of its folder. Directories are not listed.
    """
    view: dict[str, int] = {}
    for layer in layers:
        entries = layer if isinstance(layer, list) else list(layer)
        if not any(WHITEOUT in entry[0] for entry in entries):
            view.update({"/" + path: size for path, size, is_dir in entries if not is_dir})  # the usual layer
            continue
        upper: dict[str, int] = {}
        hidden: list[str] = []
        opaque: list[str] = []
        for raw_path, size, is_dir in entries:
            path = "/" + raw_path
            folder, _, name = path.rpartition("/")
            if name == OPAQUE:
                opaque.append(folder + "/")
            elif name.startswith(WHITEOUT):
                hidden.append(f"{folder}/{name[len(WHITEOUT) :]}")
            elif not is_dir:
                upper[path] = size
        if hidden or opaque:
            view = {p: s for p, s in view.items() if not _covered(p, hidden, opaque)}
        view.update(upper)
    return view


def _covered(path: str, hidden: list[str], opaque: list[str]) -> bool:
    if any(path == h or path.startswith(h + "/") for h in hidden):
        return True
    return any(path.startswith(folder) for folder in opaque)
