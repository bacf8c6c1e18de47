"""The README's and the docs pages' sections and fenced code blocks, so that the snippets a reader
copies are the ones the tests run."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"


def _heading_level(line: str) -> int:
    hashes = len(line) - len(line.lstrip("#"))
    return hashes if 0 < hashes <= 6 and line[hashes : hashes + 1] == " " else 0


def section(path: Path, heading: str | None = None) -> str:
    """The text of `path` under `heading` (written as in the file, e.g. "## GitLab CI"), up to the next
    heading of the same or a higher level; the whole file when `heading` is None. Lines inside fenced
    blocks are never headings (a YAML comment starts with "# " too)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if heading is None:
        return "".join(lines)
    level = _heading_level(heading)
    assert level, f"not a heading: {heading!r}"
    taken: list[str] = []
    inside = fenced = False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        found = 0 if fenced else _heading_level(line)
        if found and line.rstrip("\n") == heading:
            inside = True
        elif found and inside and found <= level:
            break
        if inside:
            taken.append(line)
    assert taken, f"{path.relative_to(REPO)} has no heading {heading!r}"
    return "".join(taken)


def fenced_blocks(path: Path, heading: str | None = None, lang: str = "yaml") -> list[str]:
    """The bodies of the ```LANG blocks of one section (see `section`), in order, as written."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in section(path, heading).splitlines(keepends=True):
        if current is None and line.rstrip("\n") == f"```{lang}":
            current = []
        elif current is not None and line.startswith("```"):
            blocks.append("".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks
