"""A layer's file tree the way dive 0.13.1 builds, walks and stacks it.

Kept apart from the accounting so the same walk order serves the dive figures and any other view.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from boxwise.image.model import Entry

WHITEOUT = ".wh."
OPAQUE_PREFIX = ".wh..wh."


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
        twin = Node(self.size, self.is_dir)
        if self.children:
            twin.children = {name: node.copy() for name, node in self.children.items()}
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
        if entry.path == ".":
            continue
        node = root
        for name in entry.path.split("/"):
            if name.startswith(OPAQUE_PREFIX):
                break
            node = node.child(name)
        else:
            node.size = entry.size
            node.is_dir = entry.is_dir
    return root


def walk(root: Node, leaves_only: bool) -> Iterator[tuple[list[str], Node]]:
    """Nodes in dive's order: children by bytewise name, each before its parent; root excluded."""
    # (path parts, node, children expanded?) on an explicit stack: no recursion limit on deep trees
    stack: list[tuple[list[str], Node, bool]] = [([], root, False)]
    while stack:
        parts, node, expanded = stack.pop()
        if node.children and not expanded:
            stack.append((parts, node, True))
            for name in sorted(node.children, reverse=True):
                stack.append(([*parts, name], node.children[name], False))
            continue
        if not parts or (leaves_only and node.children):
            continue
        yield parts, node


def lookup(root: Node, parts: list[str]) -> Node | None:
    node: Node | None = root
    for name in parts:
        if node is None or not node.children:
            return None
        node = node.children.get(name)
    return node


def stack_layer(tree: Node, upper: Node) -> None:
    """dive's FileTree.Stack: graft `upper` onto `tree` in walk order, whiteouts removing."""
    for parts, node in walk(upper, leaves_only=False):
        name = parts[-1]
        if name.startswith(WHITEOUT):
            parent = lookup(tree, parts[:-1])
            if parent is not None and parent.children:
                parent.children.pop(name[len(WHITEOUT) :], None)
            continue
        target = tree
        for part in parts:
            target = target.child(part)
        target.size = node.size
        target.is_dir = node.is_dir
