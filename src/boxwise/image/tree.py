"""A layer's file tree the way dive 0.13.1 builds, walks and stacks it.

Kept apart from the accounting so the same walk order serves the dive figures and any other view.
"""

from __future__ import annotations

from collections.abc import Sequence

from boxwise.image.model import Entry
from boxwise.image.whiteout import OPAQUE_PREFIX, WHITEOUT, hidden_path


class Node:
    """A file tree node: `size` and `is_dir` are the tar header's (both empty for implicit parents)."""

    __slots__ = ("children", "is_dir", "size")

    def __init__(self, size: int = 0, is_dir: bool = False) -> None:
        self.children: dict[str, Node] | None = None
        self.size = size
        self.is_dir = is_dir

    def child(self, name: str) -> Node:
        if self.children is None:
            self.children = {}
        node = self.children.get(name)
        if node is None:
            node = self.children[name] = Node()
        return node

    def copy(self) -> Node:
        """A deep copy, made with a stack: an image's path may be deeper than Python's recursion limit."""
        twin = Node(self.size, self.is_dir)
        stack = [(self, twin)]
        while stack:
            source, target = stack.pop()
            if source.children:
                target.children = {}
                for name, node in source.children.items():
                    copied = target.children[name] = Node(node.size, node.is_dir)
                    stack.append((node, copied))
        return twin

    def total(self) -> int:
        """Size of this node and everything under it."""
        total = 0
        stack = [self]
        while stack:
            node = stack.pop()
            total += node.size
            if node.children:
                stack.extend(node.children.values())
        return total


def layer_tree(entries: Sequence[Entry]) -> Node:
    """A layer's tree as dive builds it: missing parents implicit, `.wh..wh.*` never inserted."""
    root = Node()
    for entry in entries:
        path = entry.path
        if path == ".":
            continue
        node = root
        names = path.split("/")
        if OPAQUE_PREFIX in path:
            # insertion stops at a `.wh..wh.` component; the parents before it stay, as in dive
            for name in names:
                if name.startswith(OPAQUE_PREFIX):
                    break
                node = node.child(name)
            else:
                node.size = entry.size
                node.is_dir = entry.is_dir
            continue
        for name in names:
            children = node.children
            if children is None:
                children = node.children = {}
            child = children.get(name)
            if child is None:
                child = children[name] = Node()
            node = child
        node.size = entry.size
        node.is_dir = entry.typeflag == "5" or (entry.mode & ~0o7777) == 0o040000
    return root


def layer_nodes(entries: Sequence[Entry]) -> tuple[dict[str, int], set[str]]:
    """The nodes of `layer_tree(entries)` without building it: {`a/b/c`: size} (the last entry at a
    path wins; a node made only by a cut `.wh..wh.` path is 0) and the set of inner nodes. Its
    leaves are the nodes that are no other node's ancestor."""
    if not any(OPAQUE_PREFIX in entry.path for entry in entries):
        payload = {entry.path: entry.size for entry in entries}
        payload.pop(".", None)
        return payload, ancestors(payload)
    payload = {}
    for entry in entries:
        path = entry.path
        if path == ".":
            continue
        if OPAQUE_PREFIX in path:
            names = path.split("/")
            cut = next((i for i, name in enumerate(names) if name.startswith(OPAQUE_PREFIX)), None)
            if cut == 0:
                continue
            if cut is not None:
                payload.setdefault("/".join(names[:cut]), 0)  # insertion stopped: an implicit node
                continue
        payload[path] = entry.size
    return payload, ancestors(payload)


def ancestors(paths: dict[str, int] | set[str]) -> set[str]:
    """Every proper ancestor (`a`, `a/b` of `a/b/c`) of the given paths, level by level in C."""
    found = {path.rpartition("/")[0] for path in paths}
    frontier = found
    while frontier:
        frontier = {path.rpartition("/")[0] for path in frontier} - found
        found |= frontier
    found.discard("")
    return found


def walk_key(path: str) -> str:
    """Sort key giving dive's walk order (children by bytewise name, depth first): `/` ranks first."""
    return path.replace("/", "\0")


def lookup(root: Node, parts: list[str]) -> Node | None:
    node: Node | None = root
    for name in parts:
        if node is None or not node.children:
            return None
        node = node.children.get(name)
    return node


def _get_or_add(parent: Node, name: str) -> Node:
    children = parent.children
    if children is None:
        children = parent.children = {}
    node = children.get(name)
    if node is None:
        node = children[name] = Node()
    return node


def stack_layer(tree: Node, upper: Node) -> None:
    """dive's FileTree.Stack: graft `upper` onto `tree` in dive's walk order (children first, by
    name), a whiteout removing its path. Walking both trees together keeps the parent at hand."""
    # (upper node, its name, the tree node its parent maps to, children done?)
    stack: list[tuple[Node, str, Node, bool]] = [
        (upper.children[name], name, tree, False) for name in sorted(upper.children or (), reverse=True)
    ]
    while stack:
        node, name, parent, done = stack.pop()
        children = node.children
        if children and not done:
            target = _get_or_add(parent, name)
            stack.append((node, name, parent, True))
            stack.extend((children[child], child, target, False) for child in sorted(children, reverse=True))
            continue
        if name.startswith(WHITEOUT):
            if parent.children:
                parent.children.pop(name[len(WHITEOUT) :], None)
            continue
        target = _get_or_add(parent, name)
        target.size = node.size
        target.is_dir = node.is_dir


def whiteout_count(entries: Sequence[Entry]) -> int:
    return sum(
        1
        for entry in entries
        if ".wh." in entry.path
        and (name := entry.path.rpartition("/")[2]).startswith(WHITEOUT)
        and not name.startswith(OPAQUE_PREFIX)
    )


def replayed_lookup(indexes: Sequence[Sequence[Entry]], layer: int, target: str) -> Node | None:
    """The node at `target` in dive's stacked tree of the layers below `layer`, rebuilt from
    only the entries that can change it: `target` itself, what lies under it, and whiteouts of it
    or of a parent. Nothing else can create, remove or fill that node or its subtree."""
    parents_or_self = set(target.split("/"))  # cheap pre-check before the exact one below
    prefix = target + "/"

    def touches(path: str) -> bool:
        if path == target or path.startswith(prefix):
            return True
        if ".wh." not in path:
            return False
        head, _, name = path.rpartition("/")
        if not name.startswith(WHITEOUT) or name[len(WHITEOUT) :] not in parents_or_self:
            return False
        whited = hidden_path(head, name)
        return target == whited or target.startswith(whited + "/")

    trees = [layer_tree([entry for entry in entries if touches(entry.path)]) for entries in indexes[:layer]]
    if not trees:  # layer 0 sizes its whiteouts against itself
        trees = [layer_tree([entry for entry in indexes[0] if touches(entry.path)])]
        return lookup(trees[0], target.split("/"))
    stacked = trees[0].copy()
    for tree in trees:
        stack_layer(stacked, tree)
    return lookup(stacked, target.split("/"))
