"""Is this CI run for a merge request from a fork? The rule `boxwise ci` gives credentials by.

Code from a fork's merge request runs in the build: whatever the build is given, it can read
(and send anywhere its network reaches). So such builds get no credentials unless the CI
configuration (trusted, unlike anything in the repo) sets BOXWISE_FORK_CREDENTIALS=1.

- GitLab: `CI_MERGE_REQUEST_SOURCE_PROJECT_ID` differs from `CI_PROJECT_ID` (a fork's merge
  request run in the parent project, where the parent's CI/CD variables are).
- GitHub: the event payload (`GITHUB_EVENT_PATH`) says `pull_request.head.repo.fork`, or the
  head repository's `full_name` is not the base's (nor `GITHUB_REPOSITORY`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

EVENT_LIMIT = 8 << 20  # a pull_request payload is a few dozen KiB
OPT_IN = "BOXWISE_FORK_CREDENTIALS"


def _github_event(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(EVENT_LIMIT + 1)
        event = json.loads(data) if len(data) <= EVENT_LIMIT else None
    except (OSError, ValueError, RecursionError):
        return {}
    return event if isinstance(event, dict) else {}


def _get(value: object, *keys: str) -> object:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def from_fork(env: Mapping[str, str]) -> bool:
    source, project = env.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID"), env.get("CI_PROJECT_ID")
    if env.get("CI_MERGE_REQUEST_IID") and source and project:
        return source != project
    if env.get("GITHUB_EVENT_PATH") and env.get("GITHUB_EVENT_NAME", "").startswith("pull_request"):
        event = _github_event(env["GITHUB_EVENT_PATH"])
        pull = _get(event, "pull_request")
        if not isinstance(pull, dict):
            return False
        if _get(pull, "head", "repo", "fork") is True:
            return True
        head = _get(pull, "head", "repo", "full_name")
        base = _get(pull, "base", "repo", "full_name") or env.get("GITHUB_REPOSITORY")
        # a deleted fork has no head repo at all: still not this repository
        return head != base
    return False


def credentials_allowed(env: Mapping[str, str]) -> bool:
    return not from_fork(env) or env.get(OPT_IN, "").lower() in ("1", "true", "yes")


def comment_block_reason(env: Mapping[str, str]) -> str | None:
    """Why no token may comment on this merge request (it comes from a fork), or None.

    GitHub gives a fork's pull request a read-only GITHUB_TOKEN. On GitLab, a fork's merge request
    whose pipeline runs in the fork (CI_PROJECT_ID is not the target's) has no token of the target.
    """
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_EVENT_NAME") == "pull_request":
        if from_fork(env):
            return "the pull request comes from a fork, whose GITHUB_TOKEN may not comment"
        return None
    target, source = env.get("CI_MERGE_REQUEST_PROJECT_ID"), env.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID")
    running = env.get("CI_PROJECT_ID")
    if target and source and source != target and running and running != target:
        return "the merge request comes from a fork, and its pipeline runs there without the target's token"
    return None
