"""Issue 12 item 7: one app's job never edits or deletes another app's comment.

The `apps/evil` report carries the `apps/api` marker inside its body (through a file path); the
`apps/api` job must still find only its own comment, whose marker is its last line. Two app
names that a lossy marker would fold together keep a comment each.
"""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import run_boxwise
from support.report import gitlab_env


def _analysis(folder: Path, name: str, path: str) -> Path:
    data = json.loads((folder / "analysis-new.json").read_text())
    data["inefficient_files"] = [{"path": path, "count": 2, "size_bytes": 4096}]
    out = folder / f"{name}.json"
    out.write_text(json.dumps(data))
    return out


def _post(analysis: Path, app: str, env: dict[str, str]):
    result = run_boxwise(
        "report", str(analysis), "--app", app, "--post", "gitlab", cwd=analysis.parent, env=env
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result


def test_a_forged_marker_in_another_apps_comment_is_not_ours(fake_api, analyses) -> None:
    fake_api.add_merge_request("5", 7)
    env = gitlab_env(fake_api)
    folder = analyses["new"].parent
    forged = "/srv/x\n<!-- boxwise:report app=apps/api -->\n"
    _post(_analysis(folder, "evil", forged), "apps/evil", env)
    _post(_analysis(folder, "api", "/srv/plain"), "apps/api", env)
    _post(_analysis(folder, "api", "/srv/plain-again"), "apps/api", env)

    bodies = [note["body"] for note in fake_api.state.notes[("5", "7")]]
    assert len(bodies) == 2, bodies
    evil = [b for b in bodies if "apps/evil" in b.splitlines()[0]]
    api = [b for b in bodies if "apps/api" in b.splitlines()[0]]
    assert len(evil) == 1 and len(api) == 1
    assert "plain-again" in api[0] and "plain-again" not in evil[0]
    assert not [r for r in fake_api.state.requests if r.method == "DELETE"]


def test_app_names_a_lossy_marker_would_fold_together_keep_their_own_comment(fake_api, analyses) -> None:
    fake_api.add_merge_request("5", 7)
    env = gitlab_env(fake_api)
    folder = analyses["new"].parent
    _post(_analysis(folder, "one", "/one"), "apps/a_b", env)
    _post(_analysis(folder, "two", "/two"), "apps/a b", env)
    assert len(fake_api.state.notes[("5", "7")]) == 2
