"""Issue 12 item 9: build secrets.

Build code from a merge request can read whatever the build is given (SECURITY.md). So: copies
of a secret in its common encodings (base64 at any alignment, hex, URL-encoding) fail the build
like verbatim ones, and `boxwise ci` gives no credentials to the builds of a fork's merge request.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from support.cli import run_boxwise

from tests.builder.helpers import PREFIX, WEB_APP, write_app
from tests.builder.test_secrets import TOKEN

NETRC_PASSWORD = "hostile-netrc-pa55/word+81"


@pytest.mark.engine
def test_encoded_copies_of_a_build_secret_fail_the_build(base_image, tmp_path, private_index) -> None:
    index_url, _ = private_index
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine pypi.example.invalid login bob password {NETRC_PASSWORD}\n")
    app = write_app(
        tmp_path / "encoded",
        {
            "Procfile": "web: python3 app.py\n",
            "app.py": WEB_APP,
            # what a setup.py that reads the build's netrc and keeps it would write
            "data/netrc.b64": base64.b64encode(netrc.read_bytes()).decode(),
            "data/token.hex": TOKEN.encode().hex(),
            "data/pw.url": quote(NETRC_PASSWORD, safe=""),
        },
    )
    env = {"NETRC": str(netrc), "PIP_EXTRA_INDEX_URL": index_url}
    result = run_boxwise(
        "build", str(app), "--base", base_image, "--tag", f"{PREFIX}/encoded:1",
        "--cache", str(tmp_path / "cache"), env=env,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr
    assert "build secret in the image" in result.stderr
    for name in ("netrc.b64", "token.hex", "pw.url"):
        assert f"/workspace/data/{name} contains" in result.stderr
    assert TOKEN not in result.stderr + result.stdout
    assert NETRC_PASSWORD not in result.stderr + result.stdout


FORK_APP = {
    "pyproject.toml": '[tool.boxwise]\napps = ["apps/*"]\n',
    "apps/api/requirements.txt": "six==1.16.0\n",
    "apps/api/Procfile": "web: python3 -m api\n",
    "apps/api/api/__main__.py": "print('api')\n",
}


@pytest.fixture
def fork_prefix(docker_client) -> Iterator[str]:
    """The tag prefix of this test's images, removed afterwards (only those)."""
    prefix = f"{PREFIX}-fork-{secrets.token_hex(4)}"
    yield prefix
    for image in docker_client.images.list(name=f"{prefix}/*"):
        for tag in image.tags:
            if tag.startswith(prefix + "/"):
                docker_client.images.remove(tag, noprune=False)


@pytest.mark.engine
@pytest.mark.slow
def test_a_fork_merge_request_builds_without_credentials(
    make_git_repo, base_image, tmp_path, private_index, clean_env, fork_prefix
) -> None:
    index_url, seen = private_index
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login bob password {NETRC_PASSWORD}\n")
    repo = make_git_repo(FORK_APP)
    env = {
        "GITLAB_CI": "true",
        "CI_MERGE_REQUEST_IID": "4",
        "CI_PROJECT_ID": "10",
        "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "99",  # the fork
        "PIP_EXTRA_INDEX_URL": index_url,
        "NETRC": str(netrc),
    }
    result = run_boxwise(
        "ci", "--apps", "apps/api", "--tag-prefix", fork_prefix, "--post", "none", cwd=repo, env=env
    )
    assert "Traceback" not in result.stderr
    assert not [auth for auth in seen if auth], "the fork's build was given the index credentials"
    assert "a merge request from a fork" in result.stderr and "BOXWISE_FORK_CREDENTIALS" in result.stderr
    assert result.returncode in (0, 1), result.stderr  # built (the gate may say what it likes)


def _event(tmp_path: Path, head: dict, base: str = "shop/mono") -> str:
    path = tmp_path / "event.json"
    payload = {"pull_request": {"number": 3, "head": {"repo": head}, "base": {"repo": {"full_name": base}}}}
    path.write_text(json.dumps(payload))
    return str(path)


def test_the_fork_signal_of_each_platform(tmp_path) -> None:
    from boxwise.forks import credentials_allowed, from_fork

    gitlab = {"CI_MERGE_REQUEST_IID": "4", "CI_PROJECT_ID": "10"}
    assert from_fork({**gitlab, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "99"})
    assert not from_fork({**gitlab, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "10"})
    github = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REPOSITORY": "shop/mono"}
    fork = _event(tmp_path, {"fork": True, "full_name": "mallory/mono"})
    assert from_fork({**github, "GITHUB_EVENT_PATH": fork})
    same = _event(tmp_path, {"fork": False, "full_name": "shop/mono"})
    assert not from_fork({**github, "GITHUB_EVENT_PATH": same})
    renamed = _event(tmp_path, {"full_name": "mallory/mono"})
    assert from_fork({**github, "GITHUB_EVENT_PATH": renamed})
    assert credentials_allowed({**github, "GITHUB_EVENT_PATH": fork, "BOXWISE_FORK_CREDENTIALS": "1"})
    assert not from_fork({**github, "GITHUB_EVENT_PATH": str(tmp_path / "absent.json")})
