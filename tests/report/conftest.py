"""Fixtures of the report area: the fake GitLab/GitHub API, fixed analyses, CI environments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .fakeapi import FakeServer

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def fake_api(clean_env: None) -> Iterator[FakeServer]:
    server = FakeServer().start()
    yield server
    server.stop()


@pytest.fixture
def analyses(tmp_path: Path) -> dict[str, Path]:
    """The fixed analyses as files a user would pass to `boxwise report`, in a folder that is no repo."""
    work = tmp_path / "work"
    work.mkdir()
    paths = {}
    for name in ("analysis-new.json", "analysis-baseline.json"):
        paths[name.removeprefix("analysis-").removesuffix(".json")] = work / name
        (work / name).write_text((FIXTURES / name).read_text())
    return paths


def gitlab_env(
    server: FakeServer, project: str = "5", iid: int = 7, token: str | None = None
) -> dict[str, str]:
    return {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": f"{server.url}/api/v4",
        "CI_MERGE_REQUEST_PROJECT_ID": project,
        "CI_MERGE_REQUEST_IID": str(iid),
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "BOXWISE_GITLAB_TOKEN": token if token is not None else server.state.gitlab_token,
    }


def github_env(
    server: FakeServer, tmp_path: Path, number: int = 12, repo: str = "shop/mono"
) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"action": "synchronize", "number": number, "pull_request": {"number": number}})
    )
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_API_URL": f"{server.url}/gh",
        "GITHUB_REPOSITORY": repo,
        "GITHUB_BASE_REF": "main",
        "GITHUB_TOKEN": server.state.github_token,
    }
