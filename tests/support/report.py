"""The report area's fixed analyses and the CI environments that point boxwise at the fake API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from report.fakeapi import FakeServer

    from boxwise.analyze.efficiency import Analysis

FIXTURES = Path(__file__).resolve().parents[1] / "report" / "fixtures"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def load_analysis(name: str) -> Analysis:
    """A fixed analysis read back as `boxwise report` reads a saved one."""
    from boxwise.analyze.efficiency import Analysis

    return Analysis.from_json(load_fixture(name))


def copy_analysis(analysis: Analysis) -> Analysis:
    """A deep copy to make hostile: the fixture's own stays as it is."""
    from boxwise.analyze.efficiency import Analysis

    return Analysis.from_json(analysis.to_json())


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
