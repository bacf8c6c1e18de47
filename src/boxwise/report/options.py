"""What `boxwise report` and `boxwise ci` are asked to do: options objects the CLI fills in.

The commands take these, never argparse's Namespace, so `ci` calls the report stage with the
same values a person would give on the command line, and every field is typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from boxwise.gate import GateFlags


@dataclass(frozen=True)
class PostingFlags:
    """`--post`, `--strict`, `--post-when` as given (None: `[tool.boxwise.report]`, else default)."""

    post: str | None = None
    strict: bool | None = None
    post_when: str | None = None


@dataclass(frozen=True)
class Posting:
    """Where and when the comment goes, resolved from the flags, pyproject.toml and defaults."""

    mode: str  # auto | gitlab | github | none | summary
    strict: bool = False
    post_when: str = "always"  # always | changed | failed


@dataclass(frozen=True)
class ArtifactPaths:
    """The report files the flags ask for (None: not written)."""

    junit: str | None = None
    codequality: str | None = None
    metrics: str | None = None
    json_file: str | None = None
    markdown: str | None = None
    html: str | None = None


@dataclass(frozen=True)
class ReportOptions:
    """`boxwise report REF`: the image, what to compare it with, how to show and post it."""

    ref: str
    baseline: str | None = None
    app: str | None = None
    format: str = "text"  # text | markdown
    posting: PostingFlags = field(default_factory=PostingFlags)
    gate: GateFlags = field(default_factory=GateFlags)
    artifacts: ArtifactPaths = field(default_factory=ArtifactPaths)
