"""The JSON of detect, plan and buildpacks matches the schemas published in schemas/."""

from __future__ import annotations

import json

from support.cli import run_boxwise
from support.schemas import errors

from .helpers import detect_json


def test_detect_json_with_findings_and_refusing_buildpacks_matches_its_schema(make_git_repo) -> None:
    # an `unpinned` warning (with its line), a `no-process` one (without), and procfile-run's refusal
    repo = make_git_repo({"apps/api/requirements.txt": "flask>=3\n"})
    report = detect_json(repo)
    assert ("apps/api/requirements.txt", 1, "unpinned") in report.rules(), report.stderr
    assert report.apps["apps/api"]["failed"] == {"procfile-run": "no Procfile"}
    assert errors(report.data, "detect") == []
    # the schema is not a formality: a finding without its line or with a new severity is refused
    broken = json.loads(json.dumps(report.data))
    broken["findings"][0]["severity"] = "info"
    del broken["apps"][0]["slug"]
    assert len(errors(broken, "detect")) == 2


def test_plan_and_buildpacks_json_match_their_schemas(make_git_repo) -> None:
    repo = make_git_repo({"apps/api/requirements.txt": "flask==3.0.0\n", "apps/web/Procfile": "web: x\n"})
    plan = run_boxwise("plan", "--apps", "apps/api", "apps/web", cwd=repo)
    assert plan.returncode == 0, plan.stderr
    document = json.loads(plan.stdout)
    assert [app["name"] for app in document["apps"]] == ["apps/api", "apps/web"]
    assert errors(document, "plan") == []
    listing = run_boxwise("buildpacks", "--format", "json", cwd=repo)
    assert listing.returncode == 0, listing.stderr
    document = json.loads(listing.stdout)
    assert document["order"] and errors(document, "buildpacks") == []
