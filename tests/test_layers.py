"""The dependency rule of src/boxwise, checked on its import graph.

Every `import` of every module counts, at module level, inside functions and under TYPE_CHECKING
alike: a function-level import defers the cost of a module, it must not hide a cycle or an edge
that points the wrong way. Layers, lowest first (docs/design.md, "Layers"):

    core ← image ← analyze ← gate/report ← ci/cli
    core ← project ← build ← gate/report

A module imports from its own layer and the layers its layer lists, never from a higher one;
the lifecycle code that runs inside the build container (the driver and what it loads, and the
buildpacks) imports nothing from the host side; and the graph has no cycle.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from boxwise.builder.lifecycle import DRIVER_FILES, DRIVER_SHARED

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"

# layer -> the modules in it (a name, or `package.*` for a package and all below it), and the layers
# below it that it may import. Every module is in exactly one layer: a new module is placed here.
LAYERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # one module per shared rule, and the small values everything passes around
    "core": (
        (
            "boxwise",
            "boxwise.errors",
            "boxwise.envnum",
            "boxwise.units",
            "boxwise.printable",
            "boxwise.tomlsafe",
            "boxwise.netread",
            "boxwise.findings",
            "boxwise.inputfiles",
            "boxwise.sarif",
            "boxwise.forks",
            "boxwise.startup",
            "boxwise.atomicfile",
            "boxwise.httpretry",
            "boxwise.jsonread",
            "boxwise.gcpause",
            "boxwise.forkcall",
        ),
        (),
    ),
    "image": (("boxwise.image.*",), ("core",)),
    "analyze": (("boxwise.analyze.*",), ("image", "core")),
    # the repository and its apps: settings, which apps there are, what goes into them
    "project": (("boxwise.config", "boxwise.appfiles", "boxwise.apps"), ("core",)),
    "build": (("boxwise.builder.*", "boxwise.lint.*"), ("project", "image", "core")),
    "gate/report": (
        ("boxwise.gate", "boxwise.gate_startup", "boxwise.report.*"),
        ("analyze", "build", "project", "image", "core"),
    ),
    "ci/cli": (
        (
            "boxwise.ci",
            "boxwise.ci_cache",
            "boxwise.cli",
            "boxwise.crashlog",
            "boxwise.plan",
            "boxwise.__main__",
        ),
        ("gate/report", "analyze", "build", "project", "image", "core"),
    ),
}
# Runs inside the build container with the build image's python3: the standard library only,
# plus each other (lifecycle.DRIVER_FILES carries them there side by side).
IN_CONTAINER = {"boxwise.builder." + name.removesuffix(".py") for name in DRIVER_FILES}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted((SRC / "boxwise").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imported(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(module name, line) of every boxwise module `module` imports, wherever the import is."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            # `from boxwise.image import model` imports a module; `from boxwise.image import X` a name
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                yield name, node.lineno


@functools.cache
def graph() -> dict[str, list[tuple[str, int]]]:
    """Each module's boxwise imports. Made when a test asks (1.4 s), not at collection, which each
    worker of `-n 2` does."""
    return {module: sorted(set(_imported(module, path))) for module, path in MODULES.items()}


def layer_of(module: str) -> str | None:
    found = [
        layer
        for layer, (members, _) in LAYERS.items()
        if any(module == m or (m.endswith(".*") and (module + ".").startswith(m[:-1])) for m in members)
    ]
    return found[0] if len(found) == 1 else None


def _where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(REPO)}:{line}"


def test_every_module_is_in_one_layer() -> None:
    unplaced = [module for module in MODULES if layer_of(module) is None]
    assert not unplaced, f"place each module in one layer of tests/test_layers.py LAYERS: {unplaced}"


def test_no_module_imports_a_higher_layer() -> None:
    wrong = []
    for module, edges in graph().items():
        layer = layer_of(module)
        allowed = {layer, *LAYERS[layer][1]} if layer else set()
        for target, line in edges:
            if layer_of(target) not in allowed:
                wrong.append(
                    f"{_where(module, line)}: {module} ({layer}) imports {target} ({layer_of(target)})"
                )
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def _cycle() -> list[str] | None:
    """One import cycle of the graph (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target, _ in graph()[module]:
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in graph():
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_import_cycle_even_through_function_level_imports() -> None:
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_in_container_code_imports_only_itself() -> None:
    assert set(MODULES) >= IN_CONTAINER, f"lifecycle.DRIVER_FILES names a missing module: {IN_CONTAINER}"
    outside = [
        f"{_where(module, line)}: {module} imports {target}, which the build container does not have"
        for module in sorted(IN_CONTAINER)
        for target, line in graph()[module]
        if target not in IN_CONTAINER
    ]
    assert not outside, "\n".join(outside)


def _top_level_imports(path: Path) -> Iterator[tuple[str, int]]:
    """(first part of the module name, line) of every absolute import in a file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name.partition(".")[0], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module.partition(".")[0], node.lineno


def test_the_driver_loads_only_the_standard_library_and_what_is_carried_beside_it() -> None:
    """The build image has its python3 and what boxwise puts in /cnb/lifecycle: the driver's own
    modules (DRIVER_FILES) and the buildpacks/shared modules it imports (DRIVER_SHARED), which in
    turn need the standard library only."""
    carried = {name.removesuffix(".py") for name in (*DRIVER_FILES, *DRIVER_SHARED)}
    allowed = set(sys.stdlib_module_names) | carried | {"boxwise", "__future__"}  # boxwise: the host's branch
    files = [MODULES[module] for module in sorted(IN_CONTAINER)]
    shared = [REPO / "buildpacks" / "shared" / name for name in DRIVER_SHARED]
    outside = [
        f"{path.relative_to(REPO)}:{line}: imports {name}"
        for path in files + shared
        for name, line in _top_level_imports(path)
        if name not in (allowed if path in files else set(sys.stdlib_module_names) | {"__future__"})
    ]
    assert not outside, "the build container does not have:\n" + "\n".join(outside)


BUILDPACK_SCRIPTS = sorted(
    path
    for path in (REPO / "buildpacks").rglob("*")
    if path.is_file() and (path.suffix == ".py" or path.parent.name == "bin")
)


@pytest.mark.parametrize("script", BUILDPACK_SCRIPTS, ids=lambda p: str(p.relative_to(REPO / "buildpacks")))
def test_buildpacks_import_nothing_from_the_host_side(script: Path) -> None:
    tree = ast.parse(script.read_text(encoding="utf-8"), str(script))
    host = [
        f"{script.relative_to(REPO)}:{node.lineno}"
        for node in ast.walk(tree)
        if (isinstance(node, ast.Import) and any(re.match(r"boxwise\b", a.name) for a in node.names))
        or (isinstance(node, ast.ImportFrom) and re.match(r"boxwise\b", node.module or ""))
    ]
    assert not host, f"a buildpack runs in the build image, where boxwise is not installed: {host}"


def test_the_graph_holds_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    source = tmp_path / "lazy.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from boxwise.image.model import Image\n"
        "def f():\n"
        "    from boxwise.report import markdown\n"
        "    import boxwise.analyze.diff as d\n"
    )
    assert sorted(_imported("boxwise.image.lazy", source)) == [
        ("boxwise.analyze.diff", 6),
        ("boxwise.image.model", 3),
        ("boxwise.report.markdown", 5),
    ]
