"""Which cache image `boxwise ci` gives a build, and who may write it (ci_cache.py)."""

from __future__ import annotations

import json
from pathlib import Path

from boxwise.ci_cache import cache_image_use

NAME = "registry.example.com/acme/shop/apps-api"
GITLAB_MAIN = {"CI_DEFAULT_BRANCH": "main", "CI_PROJECT_ID": "5"}


def test_the_default_branch_reads_and_writes_the_cache_image_of_the_app() -> None:
    use = cache_image_use(NAME, "boxwise-cache", GITLAB_MAIN, in_mr=False, branch="main")
    assert use.ref == f"registry://{NAME}:boxwise-cache"
    assert use.write


def test_a_merge_request_and_another_branch_only_read_it() -> None:
    mr = {**GITLAB_MAIN, "CI_MERGE_REQUEST_IID": "7", "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "5"}
    use = cache_image_use(NAME, "boxwise-cache", mr, in_mr=True, branch="feature")
    assert use.ref == f"registry://{NAME}:boxwise-cache" and not use.write
    assert "read only in a merge request" in use.why
    other = cache_image_use(NAME, "boxwise-cache", GITLAB_MAIN, in_mr=False, branch="release")
    assert other.ref and not other.write


def test_a_forks_pull_request_never_writes_even_on_a_branch_named_like_the_default(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    pull = {"head": {"repo": {"full_name": "someone/shop", "fork": True}}, "base": {"repo": {}}}
    event.write_text(json.dumps({"pull_request": pull}))
    env = {
        "GITHUB_EVENT_NAME": "pull_request_target",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "acme/shop",
        "BOXWISE_DEFAULT_BRANCH": "main",
    }
    use = cache_image_use(NAME, "boxwise-cache", env, in_mr=False, branch="main")
    assert use.ref and not use.write


def test_without_a_known_default_branch_or_a_registry_nothing_is_written() -> None:
    assert not cache_image_use(NAME, "boxwise-cache", {}, in_mr=False, branch="main").write
    local = cache_image_use("boxwise/apps-api", "boxwise-cache", GITLAB_MAIN, in_mr=False, branch="main")
    assert local.ref is None and "names no registry" in local.why
    assert cache_image_use(NAME, None, GITLAB_MAIN, in_mr=False, branch="main").ref is None
