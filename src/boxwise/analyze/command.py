"""`boxwise inspect REF`: size, layers and both efficiency accountings of an image."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boxwise.analyze.efficiency import Analysis
from boxwise.errors import UserError

if TYPE_CHECKING:
    from rich.console import JustifyMethod

    from boxwise.analyze.analysiscache import Record
    from boxwise.image.model import Image

TOP_INEFFICIENT = 20
TOP_DEPENDENCIES = 20


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr while layers are read, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("reading layers"), BarColumn(), MofNCompleteColumn(), console=Console(stderr=True)
    ) as bar:
        task = bar.add_task("layers", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def read_analysis(ref: str, dependencies: bool = False) -> Analysis:
    """Open and analyse an image (and read its dependency table when asked); every failure to
    read it is one UserError line. An image analysed before is answered from its record."""
    from boxwise.image import open_image

    try:
        with _progress() as progress:
            image = open_image(ref, progress)
            if image.guess:
                print(f"boxwise: reading '{ref}' as {image.guess}", file=sys.stderr)
            return _warm_or_cold(image, dependencies, progress)
    except OSError as exc:
        raise UserError(f"{ref}: cannot read the image ({exc.strerror or exc})") from None
    except MemoryError:
        raise UserError(f"{ref}: the image index does not fit in memory") from None


def _warm_or_cold(image: Image, dependencies: bool, progress: Callable[[int, int], None] | None) -> Analysis:
    from boxwise.analyze.analysiscache import AnalysisCache
    from boxwise.analyze.efficiency import assemble

    cache = AnalysisCache()
    record = cache.get(image)
    changed = record is None
    if record is None:
        record = _cold_record(image, dependencies, progress)
    analysis = assemble(image, record.measures)
    if dependencies and record.table is not None:
        analysis.dependencies = record.table
    elif dependencies:
        from boxwise.analyze.dependencies import read_listed

        known = len(record.offsets)
        analysis.dependencies = read_listed(image, record.records, record.site, record.offsets)
        changed = changed or len(record.offsets) != known
        if cache.keeps_table(image):
            record.table = analysis.dependencies
            changed = True
    if changed:
        cache.put(image, record)
    return analysis


def _cold_record(image: Image, dependencies: bool, progress: Callable[[int, int], None] | None) -> Record:
    """The image read and measured. Its site folders' view and, with `dependencies`, its table
    are made while a forked child makes dive's accounting: this process would wait otherwise."""
    from boxwise.analyze.analysiscache import Record
    from boxwise.analyze.dependencies import Dependencies, read_listed, record_layers, site_view
    from boxwise.analyze.efficiency import measure
    from boxwise.gcpause import collector_paused
    from boxwise.image import load_indexes
    from boxwise.image.cache import IndexCache

    store = IndexCache()
    store.hold_writes()  # the layer indexes this process reads are cached by measure's child
    with collector_paused():  # the whole cold read: indexes, accountings, the site view
        indexes = load_indexes(image, progress, cache=store)
        records = record_layers(indexes)
        found = {path: image.layers[n].record_offsets.get(path) for path, n in records.items()}
        offsets = {path: offset for path, offset in found.items() if offset is not None}
        site: dict[str, int] = {}
        table: Dependencies | None = None

        def meanwhile() -> None:
            nonlocal site, table
            site = site_view(indexes)
            if dependencies:
                table = read_listed(image, records, site, offsets)

        measures = measure(indexes, meanwhile, aside=store.write_held)
    return Record(measures, records, site, offsets, table)


def render(analysis: Analysis) -> None:
    from rich.console import Console
    from rich.table import Table

    from boxwise.printable import for_rich as escape  # the image's or the MR's text
    from boxwise.units import dive_bytes, dive_percent

    console = Console(highlight=False)
    # names, commands and paths come from the image: text, never rich markup (`[/x]`)
    title = escape(analysis.name or analysis.ref)
    console.print(f"[bold]{title}[/bold]  ({escape(analysis.source)}: {escape(analysis.ref)})")
    console.print(f"  total size:        {dive_bytes(analysis.size_bytes)} ({analysis.size_bytes} bytes)")
    for label, acct in (("dive", analysis.dive), ("exact", analysis.exact)):
        console.print(
            f"  {label + ' accounting:':<19}efficiency {dive_percent(acct.efficiency)}, "
            f"wasted {dive_bytes(acct.wasted_bytes)} ({acct.wasted_bytes} bytes), "
            f"user-wasted {dive_percent(acct.user_wasted_percent)}",
            soft_wrap=True,
        )
    console.print("[bold]Layers[/bold]")
    table = Table()
    table.add_column("#", justify="right")
    table.add_column("size", justify="right")
    table.add_column("buildpack / layer")
    table.add_column("command", overflow="fold")
    for layer in analysis.layers:
        owner = "/".join(part for part in (layer.buildpack, layer.layer_name) if part) or ""
        table.add_row(
            str(layer.index),
            dive_bytes(layer.size_bytes),
            escape(owner),
            escape(layer.command.replace("\n", "↵")),
        )
    console.print(table)
    if analysis.dive.files:
        console.print(f"[bold]Inefficient files (dive accounting), top {TOP_INEFFICIENT}[/bold]")
        files = Table()
        files.add_column("count", justify="right")
        files.add_column("wasted", justify="right")
        files.add_column("path", overflow="fold")
        for row in analysis.dive.files[:TOP_INEFFICIENT]:
            files.add_row(str(row.copies), dive_bytes(row.size_bytes), escape(row.path))
        console.print(files)
    else:
        console.print("[bold]Inefficient files (dive accounting):[/bold] none")
    _render_dependencies(console, analysis)
    for layer in analysis.layers[1:]:
        if not layer.largest_files:
            continue
        console.print(f"[bold]Largest files of layer {layer.index}[/bold]")
        largest = Table()
        largest.add_column("size", justify="right")
        largest.add_column("path", overflow="fold")
        for path, size in layer.largest_files:
            largest.add_row(dive_bytes(size), escape(path))
        console.print(largest)


def _render_dependencies(console: Any, analysis: Analysis) -> None:
    from rich.table import Table
    from rich.text import Text

    from boxwise.units import dive_bytes

    deps = analysis.dependencies
    if deps is None:
        return
    if not deps.distributions:
        console.print("[bold]Python distributions:[/bold] none (no *.dist-info/RECORD)")
    else:
        total = dive_bytes(deps.size_bytes)
        console.print(
            f"[bold]Python distributions ({len(deps.distributions)}, {total}), top {TOP_DEPENDENCIES}[/bold]"
        )
        table = Table()
        columns: tuple[tuple[str, JustifyMethod], ...] = (
            ("size", "right"),
            ("distribution", "left"),
            ("version", "left"),
            ("layer", "right"),
        )
        for name, justify in columns:
            table.add_column(name, justify=justify)
        for dist in deps.distributions[:TOP_DEPENDENCIES]:
            table.add_row(dive_bytes(dist.size_bytes), Text(dist.name), Text(dist.version), str(dist.layer))
        console.print(table)
    for note in deps.notes:
        console.print(Text(f"note: {note}", style="yellow"))


@dataclass(frozen=True)
class InspectOptions:
    """`boxwise inspect REF`: the image and the output format."""

    ref: str
    format: str = "text"  # text | json


def run_inspect(options: InspectOptions) -> int:
    analysis = read_analysis(options.ref, dependencies=True)
    if options.format == "json":
        analysis.write_json(sys.stdout)
        sys.stdout.write("\n")
    else:
        render(analysis)
    return 0
