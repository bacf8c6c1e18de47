"""Issue 12 item 3: the comment API token never follows a redirect to another host.

A 302/307 from the API (a hijacked proxy, a hostile instance) pointing at 127.0.0.2 must not take
GitLab's PRIVATE-TOKEN (or GitHub's Authorization) with it; the run says so in one line.
"""

from __future__ import annotations

import pytest
from support.cli import run_boxwise
from support.report import github_env, gitlab_env

from .hostserver import Answer, serving


def _report(analyses, env, platform):
    return run_boxwise(
        "report", str(analyses["new"]), "--baseline", str(analyses["baseline"]), "--app", "api",
        "--post", platform, cwd=analyses["new"].parent, env=env,
    )  # fmt: skip


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("platform", ["gitlab", "github"])
def test_a_redirect_to_another_host_gets_no_token(fake_api, analyses, tmp_path, status, platform) -> None:
    with serving("127.0.0.2", lambda seen: Answer(200, body=b"[]")) as elsewhere:
        if platform == "gitlab":
            fake_api.add_merge_request("5", 7)
            env = gitlab_env(fake_api)
            token = env["BOXWISE_GITLAB_TOKEN"]
        else:
            fake_api.add_pull_request("shop/mono", 12)
            env = github_env(fake_api, tmp_path)
            token = env["GITHUB_TOKEN"]
        listing = "/comments" if platform == "github" else "/notes"
        fake_api.fail("GET", listing, status, location=elsewhere.url)
        fake_api.fail("GET", "/user", status, location=f"{elsewhere.url}/user")
        result = _report(analyses, env, platform)
    leaked = [s for s in elsewhere.seen if token in str(s.headers)]
    assert leaked == [], f"the token went to {elsewhere.host}"
    assert "Traceback" not in result.stderr and token not in result.stderr
    assert "redirect" in result.stderr and "127.0.0.2" in result.stderr
