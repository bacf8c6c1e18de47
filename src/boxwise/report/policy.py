"""When the report becomes a comment: `post-when`, and the summary-only mode of forks.

`post-when = always | changed | failed` (`--post-when`, `[tool.boxwise.report] post-when`): with
`changed` no comment is created when the image is the baseline's own (same layers), with `failed`
none unless the gate or the build failed; an app's existing comment is still updated either way,
so it never shows an outdated verdict. A merge request from a fork gets no comment at all: its
pipeline has no token that may write to the target project (GitHub gives fork pull requests a
read-only GITHUB_TOKEN; GitLab runs a fork's pipeline in the fork, without the target's
variables). The report then goes to the job summary and artifacts only, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boxwise.forks import comment_block_reason
from boxwise.report.model import ReportData, verdict_passed

POST_WHEN = ("always", "changed", "failed")
MAX_EVENT_BYTES = 32 << 20  # GitHub's event file: read bounded


def image_changed(report: ReportData) -> bool:
    """False only when the baseline has exactly this image's layers; no baseline counts as changed."""
    if report.diff is None:
        return True
    return any(layer.status != "unchanged" for layer in report.diff.layers)


def creates_comment(post_when: str, report: ReportData | None) -> bool:
    """Whether a new comment may be created for an app (None: its build failed, always news)."""
    if post_when == "always" or report is None:
        return True
    if post_when == "failed":
        return verdict_passed(report.verdict) is False
    return image_changed(report)


def why_not_created(post_when: str) -> str:
    return {
        "changed": "the image is the same as the baseline",
        "failed": "the gate passed",
    }.get(post_when, "")


def summary_only(mode: str, env: Mapping[str, str]) -> str | None:
    """Why the report goes to the job summary and artifacts only (no API call at all), else None."""
    if mode == "summary":
        return "summary-only mode (--post summary)"
    if mode == "auto":
        return comment_block_reason(env)
    return None


def summary_note(reason: str) -> str:
    """The line on top of the job summary that says where the report went, and why."""
    return (
        f"> 🔒 **No comment posted:** {reason}. This report is in the job summary and the job's "
        "artifacts only.\n\n"
    )


def update_only(target: Any, marker: str, body: str) -> Any:
    """Edit the app's existing comment; None (nothing created) when there is none.

    `post.upsert_comment` edits when a comment exists: it is called only once one is found.
    """
    from boxwise.report import post

    client = post.Client(target)
    try:
        # post.py holds the comment API; this asks it the same question upsert_comment asks first
        mine = post.own_comments(client, marker, post._own_identity(client))
    except post.PostError as exc:
        raise post.PostError(post.redact(str(exc), target.token), exc.exit_code) from None
    finally:
        client.close()
    return post.upsert_comment(target, marker, body) if mine else None
