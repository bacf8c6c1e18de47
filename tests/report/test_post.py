"""`boxwise report --post`: one comment per app, created once and edited after, against a fake API.

The real CLI runs in a child process against tests/report/fakeapi.py, which checks tokens,
paginates and fails on purpose the way GitLab and GitHub do.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from support.cli import run_boxwise
from support.report import github_env, gitlab_env

MARKER_API = "<!-- boxwise:report app=api -->"


def report(analyses: dict[str, Path], env: dict[str, str], *extra: str, app: str = "api"):
    return run_boxwise(
        "report",
        str(analyses["new"]),
        "--baseline",
        str(analyses["baseline"]),
        "--app",
        app,
        *extra,
        cwd=analyses["new"].parent,
        env=env,
    )


def assert_no_token(result, *tokens: str) -> None:
    for token in tokens:
        assert token not in result.stdout
        assert token not in result.stderr


# --- GitLab ---------------------------------------------------------------------------------------


def test_gitlab_second_run_edits_the_first_comment(fake_api, analyses) -> None:
    fake_api.add_merge_request("5", 7)
    env = gitlab_env(fake_api)
    first = report(analyses, env, "--post", "gitlab")
    assert first.returncode == 0, first.stderr
    assert "created the api comment on merge request !7" in first.stderr
    notes = fake_api.state.notes[("5", "7")]
    assert len(notes) == 1
    assert notes[0]["body"].startswith("### boxwise · `api`")
    assert MARKER_API in notes[0]["body"]
    first_id = notes[0]["id"]

    second = report(analyses, env, "--post", "auto")
    assert second.returncode == 0, second.stderr
    assert "updated the api comment" in second.stderr
    assert [n["id"] for n in fake_api.state.notes[("5", "7")]] == [first_id]
    edits = [r for r in fake_api.state.requests if r.method == "PUT"]
    assert len(edits) == 1 and edits[0].path.endswith(f"/notes/{first_id}")
    # the token goes in GitLab's header, and nowhere the user can see it
    assert all(r.headers.get("PRIVATE-TOKEN") == env["BOXWISE_GITLAB_TOKEN"] for r in fake_api.state.requests)
    assert_no_token(first, env["BOXWISE_GITLAB_TOKEN"])
    assert_no_token(second, env["BOXWISE_GITLAB_TOKEN"])


def test_gitlab_marker_on_page_two_is_found_and_system_notes_are_skipped(fake_api, analyses) -> None:
    notes = [fake_api.gitlab_note(f"review comment {i}") for i in range(130)]
    # a system note quoting the marker (GitLab writes these on its own) must never be edited
    notes.insert(3, fake_api.gitlab_note(f"changed the description {MARKER_API}", author_id=77, system=True))
    ours = fake_api.gitlab_note(f"old report\n{MARKER_API}", author_id=77)
    notes.insert(120, ours)
    # someone else's note holding the marker (a quote) is not ours to edit
    notes.insert(10, fake_api.gitlab_note(f"> quoting {MARKER_API}", author_id=5))
    fake_api.add_merge_request("5", 7, notes)

    result = report(analyses, gitlab_env(fake_api), "--post", "gitlab")
    assert result.returncode == 0, result.stderr
    assert "updated the api comment" in result.stderr
    listed_pages = [
        r.query.get("page", ["1"])[0]
        for r in fake_api.state.requests
        if r.method == "GET" and r.path.endswith("/notes")
    ]
    assert listed_pages == ["1", "2"]
    assert [r.method for r in fake_api.state.requests if r.method in ("POST", "PUT")] == ["PUT"]
    assert ours["body"].startswith("### boxwise · `api`")
    assert notes[3]["body"] == f"changed the description {MARKER_API}"
    assert notes[10]["body"].startswith("> quoting")
    assert len(fake_api.state.notes[("5", "7")]) == 133


def test_two_apps_get_two_comments_and_keep_them(fake_api, analyses) -> None:
    fake_api.add_merge_request("shop%2Fmono", 3)
    fake_api.state.notes[("shop/mono", "3")] = fake_api.state.notes.pop(("shop%2Fmono", "3"))
    env = gitlab_env(fake_api, project="shop/mono", iid=3)
    for _round in range(2):
        for app in ("api", "worker"):
            result = report(analyses, env, "--post", "gitlab", app=app)
            assert result.returncode == 0, result.stderr
    bodies = [n["body"] for n in fake_api.state.notes[("shop/mono", "3")]]
    assert len(bodies) == 2
    assert "<!-- boxwise:report app=api -->" in bodies[0]
    assert "<!-- boxwise:report app=worker -->" in bodies[1]
    # the project path is sent URL-encoded, as GitLab wants it
    assert all(
        "/projects/shop%2Fmono/" in r.path or r.path.endswith("/user") for r in fake_api.state.requests
    )


def test_rate_limit_and_server_error_are_retried(fake_api, analyses) -> None:
    fake_api.add_merge_request("5", 7)
    fake_api.fail("GET", "/notes", 429, retry_after="1")
    fake_api.fail("POST", "/notes", 500)
    started = time.monotonic()
    result = report(analyses, gitlab_env(fake_api), "--post", "gitlab", "--strict")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "created the api comment" in result.stderr
    statuses = [(r.method, r.status) for r in fake_api.state.requests if r.path.endswith("/notes")]
    assert statuses == [("GET", 429), ("GET", 200), ("POST", 500), ("POST", 201), ("GET", 200)]
    assert len(fake_api.state.notes[("5", "7")]) == 1
    assert elapsed >= 1.0  # Retry-After was honoured


def test_endless_server_errors_give_up_without_failing_the_pipeline(fake_api, analyses) -> None:
    fake_api.add_merge_request("5", 7)
    fake_api.fail("GET", "/notes", 503, retry_after="0", times=10)
    result = report(analyses, gitlab_env(fake_api), "--post", "gitlab")
    assert result.returncode == 0
    assert (
        "warning: report not posted: gave up posting to merge request !7 of project 5 after 5 attempts"
        in result.stderr
    )
    assert "| image size |" not in result.stderr and "image size" in result.stdout  # the report still shows
    strict = report(analyses, gitlab_env(fake_api), "--post", "gitlab", "--strict")
    assert strict.returncode == 1
    assert "error: report not posted" in strict.stderr


def test_wrong_token_is_one_line_and_never_shown(fake_api, analyses) -> None:
    fake_api.add_merge_request("5", 7)
    wrong = "glpat-WRONG-token-value-42"
    result = report(analyses, gitlab_env(fake_api, token=wrong), "--post", "gitlab")
    assert result.returncode == 0
    lines = [line for line in result.stderr.splitlines() if "not posted" in line]
    assert lines == [
        "boxwise: warning: report not posted: GitLab rejected the token in BOXWISE_GITLAB_TOKEN (401 "
        "Unauthorized): it is wrong, expired or revoked; create a new one and update the CI/CD variable"
    ]
    assert "Traceback" not in result.stderr
    assert_no_token(result, wrong)
    strict = report(analyses, gitlab_env(fake_api, token=wrong), "--post", "gitlab", "--strict")
    assert strict.returncode == 2
    assert_no_token(strict, wrong)


def test_read_only_token_and_unknown_merge_request(fake_api, analyses) -> None:
    fake_api.add_merge_request("5", 7, [fake_api.gitlab_note("hello")])
    fake_api.state.gitlab_readonly_tokens.add("glpat-readonly-123456")
    forbidden = report(analyses, gitlab_env(fake_api, token="glpat-readonly-123456"), "--post", "gitlab")
    assert "may not comment on merge request !7 of project 5 (403 Forbidden)" in forbidden.stderr
    assert "'api' scope" in forbidden.stderr
    missing = report(analyses, gitlab_env(fake_api, iid=99), "--post", "gitlab")
    assert "merge request !99 of project 5 was not found (404)" in missing.stderr
    assert forbidden.returncode == missing.returncode == 0
    assert len(fake_api.state.notes[("5", "7")]) == 1
    assert_no_token(forbidden, "glpat-readonly-123456")


def test_job_token_alone_explains_how_to_make_a_project_access_token(fake_api, analyses) -> None:
    fake_api.add_merge_request("5", 7)
    env = gitlab_env(fake_api)
    del env["BOXWISE_GITLAB_TOKEN"]
    env["CI_JOB_TOKEN"] = "job-token-secret-987"
    result = report(analyses, env, "--post", "auto")
    assert result.returncode == 0
    assert "only CI_JOB_TOKEN is set" in result.stderr
    assert "project access token with the 'api' scope" in result.stderr
    assert fake_api.state.requests == []
    assert_no_token(result, "job-token-secret-987")
    # GITLAB_TOKEN is the second place boxwise looks
    env["GITLAB_TOKEN"] = fake_api.state.gitlab_token
    assert "created the api comment" in report(analyses, env, "--post", "auto").stderr


def test_outside_a_merge_request_the_report_is_printed_and_the_reason_given(fake_api, analyses) -> None:
    env = {"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "main", "GITLAB_TOKEN": "glpat-x-123456"}
    result = report(analyses, env, "--post", "auto", "--strict")
    assert result.returncode == 0
    assert "image size" in result.stdout
    assert "report not posted: this GitLab pipeline is not a merge-request pipeline" in result.stderr
    local = report(analyses, {}, "--post", "auto")
    assert (
        "report not posted: not running in a GitLab merge-request pipeline or a GitHub pull-request"
        in local.stderr
    )
    assert fake_api.state.requests == []


# --- GitHub ---------------------------------------------------------------------------------------


def test_github_comment_is_created_then_found_on_page_two_and_edited(fake_api, analyses, tmp_path) -> None:
    fake_api.add_pull_request("shop/mono", 12, [fake_api.github_comment(f"LGTM {i}") for i in range(140)])
    env = github_env(fake_api, tmp_path)
    env.pop("GITHUB_ACTIONS")  # runner files are tested elsewhere
    first = report(analyses, env, "--post", "github")
    assert first.returncode == 0, first.stderr
    assert "created the api comment on pull request #12 of shop/mono" in first.stderr
    comments = fake_api.state.comments[("shop/mono", "12")]
    assert len(comments) == 141 and MARKER_API in comments[-1]["body"]

    second = report(analyses, env, "--post", "auto")
    assert second.returncode == 0, second.stderr
    assert "updated the api comment" in second.stderr
    assert len(fake_api.state.comments[("shop/mono", "12")]) == 141
    gets = [r for r in fake_api.state.requests if r.method == "GET" and r.path.endswith("/comments")]
    # Link rel=next followed: before creating, once more after (a concurrent job?), then to edit
    assert [g.query.get("page", ["1"])[0] for g in gets] == ["1", "2", "1", "2", "1", "2"]
    assert [r.method for r in fake_api.state.requests if r.method in ("POST", "PATCH")] == ["POST", "PATCH"]
    assert all(r.headers["Authorization"] == f"Bearer {env['GITHUB_TOKEN']}" for r in fake_api.state.requests)
    assert_no_token(first, env["GITHUB_TOKEN"])
    assert_no_token(second, env["GITHUB_TOKEN"])


def test_github_bad_token_and_missing_pull_request(fake_api, analyses, tmp_path) -> None:
    fake_api.add_pull_request("shop/mono", 12)
    env = github_env(fake_api, tmp_path)
    env["GITHUB_TOKEN"] = "ghs_not_the_right_one_000"
    bad = report(analyses, env, "--post", "github")
    assert "GitHub rejected the token in GITHUB_TOKEN (401 Unauthorized)" in bad.stderr
    assert_no_token(bad, "ghs_not_the_right_one_000")
    missing = report(analyses, github_env(fake_api, tmp_path, number=404), "--post", "github", "--strict")
    assert missing.returncode == 2
    assert "pull request #404 of shop/mono was not found (404)" in missing.stderr


def test_github_body_is_cut_to_the_comment_limit(fake_api, analyses, tmp_path) -> None:
    big = json.loads(analyses["new"].read_text())
    layer = big["layers"][0]
    big["layers"] = [
        {
            **layer,
            "index": i,
            "digest": f"sha256:{i:064x}",
            "diff_id": f"sha256:{i:064x}",
            "size_bytes": 1000 + i,
            "command": f"RUN pip install package-number-{i} " + "x" * 60,
        }
        for i in range(2000)
    ]
    analyses["new"].write_text(json.dumps(big))
    fake_api.add_pull_request("shop/mono", 12)
    result = report(analyses, github_env(fake_api, tmp_path), "--post", "github", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) > 65_536  # the printed report is whole
    body = fake_api.state.comments[("shop/mono", "12")][0]["body"]
    assert len(body) <= 65_536
    assert "This report was cut to fit the 65,536-character comment limit of GitHub" in body
    assert body.rstrip().endswith(MARKER_API)
    assert body.count("<details>") == body.count("</details>")


# --- a real image -----------------------------------------------------------------------------------


@pytest.mark.engine
def test_real_image_report_is_posted_then_edited(fake_api, saved_images, engine, tmp_path) -> None:
    fake_api.add_merge_request("5", 7)
    env = gitlab_env(fake_api)
    args = (
        "report",
        f"docker-archive:{saved_images['new']}",
        "--baseline",
        f"docker-archive:{saved_images['baseline']}",
        "--app",
        "shop",
        "--post",
        "gitlab",
        "--highestUserWastedPercent",
        "0.5",
        "--lowestEfficiency",
        "0.99",
    )
    first = run_boxwise(*args, cwd=tmp_path, env=env)
    assert first.returncode == 1, first.stderr  # 97.8 % is below the 99 % asked for
    assert "created the shop comment" in first.stderr
    body = fake_api.state.notes[("5", "7")][0]["body"]
    assert body.startswith("### boxwise · `shop` · ❌ gate failed: lowestEfficiency\n")
    assert "| layers | 4 | 3 | +1 |" in body
    assert "| 1 | 0 B | ±0 B | `/bin/busybox --install -s /bin` | yes |" in body
    assert "| `/data/big.bin` | 205 kB | new |" in body
    assert "| `/data/app.txt` | 5.00 kB | +4.00 kB |" in body
    assert "| 2 | 50.0 kB | `/data/waste.bin` |" in body

    second = run_boxwise(*args[:-2], cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert "updated the shop comment" in second.stderr
    notes = fake_api.state.notes[("5", "7")]
    assert len(notes) == 1 and "✅ gate passed" in notes[0]["body"]
    assert_no_token(first, env["BOXWISE_GITLAB_TOKEN"])


def test_github_secondary_rate_limit_403_is_waited_out(fake_api, analyses, tmp_path) -> None:
    fake_api.add_pull_request("shop/mono", 12)
    fake_api.fail("POST", "/comments", 403, retry_after="1")
    started = time.monotonic()
    result = report(analyses, github_env(fake_api, tmp_path), "--post", "github", "--strict")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 1.0
    assert [(r.method, r.status) for r in fake_api.state.requests if r.method == "POST"] == [
        ("POST", 403),
        ("POST", 201),
    ]
    assert len(fake_api.state.comments[("shop/mono", "12")]) == 1


def test_gitlab_body_is_cut_to_its_million_character_limit(fake_api, analyses) -> None:
    big = json.loads(analyses["new"].read_text())
    layer = big["layers"][0]
    big["layers"] = [
        {
            **layer,
            "index": i,
            "diff_id": f"sha256:{i:064x}",
            "size_bytes": i,
            "command": f"RUN step {i} " + "y" * 90,
        }
        for i in range(12_000)
    ]
    analyses["new"].write_text(json.dumps(big))
    fake_api.add_merge_request("5", 7)
    result = report(analyses, gitlab_env(fake_api), "--post", "gitlab", "--strict", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) > 1_000_000
    body = fake_api.state.notes[("5", "7")][0]["body"]
    assert 900_000 < len(body) <= 1_000_000  # cut only as much as needed
    assert "cut to fit the 1,000,000-character comment limit of GitLab" in body
    assert body.rstrip().endswith(MARKER_API)


def test_two_jobs_creating_at_once_settle_on_one_gitlab_note(fake_api, analyses) -> None:
    fake_api.add_merge_request("5", 7)
    notes = fake_api.state.notes[("5", "7")]

    def other_job_posts_first(_key) -> None:  # it listed, found nothing and created its note meanwhile
        notes.append(fake_api.gitlab_note(f"the other job's report\n{MARKER_API}", author_id=77))

    fake_api.state.before_create.append(other_job_posts_first)
    result = report(analyses, gitlab_env(fake_api), "--post", "gitlab", "--strict")
    assert result.returncode == 0, result.stderr
    assert len(notes) == 1
    assert notes[0]["body"].startswith("### boxwise · `api`")  # the older note, now with this report
    assert [r.method for r in fake_api.state.requests if r.method in ("POST", "PUT", "DELETE")] == [
        "POST",
        "PUT",
        "DELETE",
    ]


def test_two_jobs_creating_at_once_settle_on_one_github_comment(fake_api, analyses, tmp_path) -> None:
    fake_api.add_pull_request("shop/mono", 12, [fake_api.github_comment(f"a human quoting {MARKER_API}")])
    comments = fake_api.state.comments[("shop/mono", "12")]

    def other_job_posts_first(_key) -> None:
        comments.append(fake_api.github_comment(f"other job\n{MARKER_API}", login="github-actions[bot]"))

    fake_api.state.before_create.append(other_job_posts_first)
    result = report(analyses, github_env(fake_api, tmp_path), "--post", "github", "--strict")
    assert result.returncode == 0, result.stderr
    # the bot's identity comes from its own new comment (GITHUB_TOKEN may not read /user)
    assert [c["user"]["login"] for c in comments] == ["octocat", "github-actions[bot]"]
    assert comments[0]["body"] == f"a human quoting {MARKER_API}"  # never someone else's
    assert comments[1]["body"].startswith("### boxwise · `api`")
