"""Post the report as one comment per app on a GitLab merge request or a GitHub pull request.

The first run creates the comment; later runs find it by its hidden marker (every page, system
notes skipped) and edit it. 429 and 5xx are retried with bounded backoff honouring Retry-After.
The token goes into request headers only: every message this module makes is passed through
`redact`, and the Target's repr hides it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from boxwise.errors import BoxwiseError
from boxwise.httpretry import next_attempt, retries
from boxwise.netread import ERROR_BODY_LIMIT, response_body
from boxwise.report.markdown import GITHUB_LIMIT, GITLAB_LIMIT
from boxwise.report.model import holds_marker

MAX_ATTEMPTS = 5
# one answer of the API: a page of 100 notes of GitLab's largest (1,000,000 characters) is less
ANSWER_LIMIT = 32 << 20
MAX_PAGES = 1000
MAX_REDIRECTS = 5
MAX_WAIT_SECONDS = 60.0
TIMEOUT_SECONDS = 30
GITLAB_TOKEN_VARS = ("BOXWISE_GITLAB_TOKEN", "GITLAB_TOKEN")
JOB_TOKEN_HELP = (
    "CI_JOB_TOKEN cannot write merge-request notes (GitLab lets it only read them); create a project "
    "access token with the 'api' scope and the Reporter role (Settings > Access tokens) and store it "
    "as a masked CI/CD variable named BOXWISE_GITLAB_TOKEN"
)


class PostError(BoxwiseError):
    """Why the comment was not posted: one line, never holding the token.

    Exit code 2 when the configuration is wrong (token, variables, MR), 1 when the server failed.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class NoTarget:
    """Not a merge-request pipeline (or posting is off): print the report, say why nothing was posted."""

    reason: str


@dataclass(frozen=True)
class Target:
    platform: str  # "gitlab" or "github"
    api_url: str
    comments_url: str  # list (GET) and create (POST)
    item_url: str  # edit one comment: format with id=
    edit_method: str  # PUT on GitLab, PATCH on GitHub
    what: str  # "merge request !12 of project 42", for messages
    token_var: str
    token: str = field(repr=False)
    limit: int = GITLAB_LIMIT

    @property
    def headers(self) -> dict[str, str]:
        if self.platform == "gitlab":
            return {"PRIVATE-TOKEN": self.token}
        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    @property
    def where(self) -> str:
        return "GitLab" if self.platform == "gitlab" else "GitHub"


@dataclass(frozen=True)
class Reply:
    """One API answer, its body read (bounded) and the connection released."""

    status_code: int
    reason: str
    headers: Mapping[str, str]
    links: dict[str, dict[str, str]]
    data: bytes
    where: str

    def json(self) -> Any:
        try:
            return json.loads(self.data)
        except (ValueError, RecursionError):
            raise PostError(
                f"{self.where} answered {self.status_code} with something that is not JSON"
            ) from None


@dataclass(frozen=True)
class Posted:
    action: str  # "created" or "updated"
    comment_id: int | str
    what: str


def redact(text: str, token: str | None) -> str:
    return text.replace(token, "[token hidden]") if token else text


# --- where to post ---------------------------------------------------------------------------------


def resolve_target(mode: str, env: Mapping[str, str]) -> Target | NoTarget:
    """The MR/PR to post to, from the CI environment; PostError when asked to post but cannot."""
    if mode == "none":
        return NoTarget("posting is off (--post none)")
    if mode == "gitlab" or (mode == "auto" and env.get("CI_MERGE_REQUEST_IID")):
        return _gitlab_target(env)
    if mode == "github" or (mode == "auto" and _github_pr_number(env) is not None):
        return _github_target(env)
    if env.get("GITLAB_CI") == "true":
        return NoTarget(
            "this GitLab pipeline is not a merge-request pipeline (CI_MERGE_REQUEST_IID is not set); "
            'run the job with `rules: - if: $CI_PIPELINE_SOURCE == "merge_request_event"`'
        )
    if env.get("GITHUB_ACTIONS") == "true":
        event = env.get("GITHUB_EVENT_NAME") or "unknown"
        return NoTarget(f"this GitHub workflow run is for a '{event}' event, not a pull request")
    return NoTarget("not running in a GitLab merge-request pipeline or a GitHub pull-request workflow")


def _missing(env: Mapping[str, str], names: tuple[str, ...], platform: str) -> None:
    absent = [name for name in names if not env.get(name)]
    if absent:
        raise PostError(
            f"cannot post to {platform}: {', '.join(absent)} not set; run inside a merge-request "
            "pipeline or set them",
            exit_code=2,
        )


def _gitlab_target(env: Mapping[str, str]) -> Target:
    if not env.get("CI_MERGE_REQUEST_PROJECT_ID") and env.get("CI_PROJECT_ID"):
        env = {**env, "CI_MERGE_REQUEST_PROJECT_ID": env["CI_PROJECT_ID"]}
    _missing(env, ("CI_API_V4_URL", "CI_MERGE_REQUEST_PROJECT_ID", "CI_MERGE_REQUEST_IID"), "GitLab")
    token_var = next((name for name in GITLAB_TOKEN_VARS if env.get(name)), None)
    if token_var is None:
        if env.get("CI_JOB_TOKEN"):
            raise PostError(f"cannot post to GitLab: only CI_JOB_TOKEN is set. {JOB_TOKEN_HELP}", 2)
        raise PostError(
            "cannot post to GitLab: no token; set BOXWISE_GITLAB_TOKEN (or GITLAB_TOKEN) to a project "
            "access token with the 'api' scope",
            2,
        )
    api = env["CI_API_V4_URL"].rstrip("/")
    project = quote(env["CI_MERGE_REQUEST_PROJECT_ID"], safe="")
    iid = env["CI_MERGE_REQUEST_IID"]
    notes = f"{api}/projects/{project}/merge_requests/{quote(iid, safe='')}/notes"
    return Target(
        platform="gitlab",
        api_url=api,
        comments_url=notes,
        item_url=notes + "/{id}",
        edit_method="PUT",
        what=f"merge request !{iid} of project {env['CI_MERGE_REQUEST_PROJECT_ID']}",
        token_var=token_var,
        token=env[token_var],
        limit=GITLAB_LIMIT,
    )


def _github_pr_number(env: Mapping[str, str]) -> int | None:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
    except (OSError, ValueError):
        return None
    pull = event.get("pull_request") if isinstance(event, dict) else None
    number = pull.get("number") if isinstance(pull, dict) else None
    return number if isinstance(number, int) else None


def _github_target(env: Mapping[str, str]) -> Target:
    _missing(env, ("GITHUB_REPOSITORY", "GITHUB_EVENT_PATH"), "GitHub")
    number = _github_pr_number(env)
    if number is None:
        raise PostError(
            f"cannot post to GitHub: {env['GITHUB_EVENT_PATH']} holds no pull_request number; run the "
            "workflow on `pull_request`",
            2,
        )
    if not env.get("GITHUB_TOKEN"):
        raise PostError(
            "cannot post to GitHub: GITHUB_TOKEN is not set; pass `env: GITHUB_TOKEN: ${{ github.token }}` "
            "and give the job `permissions: pull-requests: write`",
            2,
        )
    api = (env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
    repo = env["GITHUB_REPOSITORY"]
    return Target(
        platform="github",
        api_url=api,
        comments_url=f"{api}/repos/{repo}/issues/{number}/comments",
        item_url=f"{api}/repos/{repo}/issues/comments/{{id}}",
        edit_method="PATCH",
        what=f"pull request #{number} of {repo}",
        token_var="GITHUB_TOKEN",
        token=env["GITHUB_TOKEN"],
        limit=GITHUB_LIMIT,
    )


# --- HTTP with retries ---------------------------------------------------------------------------


def _rate_limited(response: Any) -> bool:
    """GitHub's secondary rate limit answers 403 with Retry-After (or no requests left)."""
    if response.status_code != 403:
        return False
    return "Retry-After" in response.headers or response.headers.get("X-RateLimit-Remaining") == "0"


def _problem(target: Target, status: int, method: str) -> str:
    if status == 401:
        return (
            f"{target.where} rejected the token in {target.token_var} (401 Unauthorized): it is wrong, "
            "expired or revoked; create a new one and update the CI/CD variable"
        )
    if status == 403:
        needs = (
            "the 'api' scope and at least the Reporter role on the project"
            if target.platform == "gitlab"
            else "`permissions: pull-requests: write` (fork pull requests only get a read-only token)"
        )
        return (
            f"the token in {target.token_var} may not comment on {target.what} (403 Forbidden); "
            f"it needs {needs}"
        )
    return (
        f"{target.what} was not found (404) on {method}: check the CI variables that name it, and that the "
        f"token in {target.token_var} can see the project"
    )


class Client:
    """A requests session bound to one target, retrying what is worth retrying."""

    def __init__(self, target: Target, sleep: Callable[[float], None] = time.sleep) -> None:
        import requests  # lazy: only a posting run pays for it

        self.target = target
        self.session = requests.Session()
        self.session.headers.update(target.headers)
        self.session.headers["User-Agent"] = "boxwise-report"
        self.sleep = sleep
        self.errors = (requests.RequestException,)

    def close(self) -> None:
        self.session.close()

    def _redirected(self, method: str, url: str, response: Any) -> str:
        """Where a redirect leads, when it stays on the API's origin: the token goes nowhere else
        (requests would carry a PRIVATE-TOKEN header to any host)."""
        location = urljoin(url, response.headers.get("Location") or "")
        if not _same_origin(location, self.target.api_url):
            response.close()
            raise PostError(
                f"{self.target.where} redirected {method} {urlsplit(url).path} to "
                f"{urlsplit(location).netloc or 'nowhere'}: the token is sent only to "
                f"{urlsplit(self.target.api_url).netloc}; check the API URL the CI variables give",
                exit_code=2,
            )
        response.close()
        return location

    def _reply(self, response: Any, limit: int) -> Reply:
        def fail(why: str) -> PostError:
            return PostError(f"{self.target.where}: {why}")

        data = response_body(response, limit, fail)
        return Reply(
            response.status_code,
            str(response.reason or ""),
            response.headers,
            response.links,
            data,
            self.target.where,
        )

    def call(self, method: str, url: str, allow: tuple[int, ...] = (), **kwargs: Any) -> Reply:
        target = self.target
        last = ""
        redirects = 0
        policy = retries(MAX_ATTEMPTS - 1, MAX_WAIT_SECONDS)
        while True:
            try:
                response = self.session.request(
                    method, url, timeout=TIMEOUT_SECONDS, allow_redirects=False, stream=True, **kwargs
                )
                while response.is_redirect and redirects < MAX_REDIRECTS:
                    url, redirects = self._redirected(method, url, response), redirects + 1
                    response = self.session.request(
                        method, url, timeout=TIMEOUT_SECONDS, allow_redirects=False, stream=True, **kwargs
                    )
            except self.errors as exc:
                last = f"cannot reach {urlsplit(url).netloc} ({type(exc).__name__})"
                step = next_attempt(policy, method, url, error=exc)
            else:
                status = response.status_code
                if status < 400 or status in allow:
                    return self._reply(response, ANSWER_LIMIT)
                if status == 429 or status >= 500 or _rate_limited(response):
                    response.close()
                    last = f"{target.where} answered {status} {response.reason}"
                    step = next_attempt(policy, method, url, response)
                elif status in (401, 403, 404):
                    response.close()
                    raise PostError(_problem(target, status, method), exit_code=2)
                else:
                    text = self._reply(response, ERROR_BODY_LIMIT).data.decode("utf-8", "replace")
                    detail = redact(text[:200].replace("\n", " "), target.token)
                    raise PostError(
                        f"{target.where} answered {status} to {method} {urlsplit(url).path}: {detail}"
                    )
            if step is None:
                break
            policy, wait = step
            self.sleep(wait)
        raise PostError(
            redact(f"gave up posting to {target.what} after {MAX_ATTEMPTS} attempts: {last}", target.token)
        )

    def pages(self, url: str, params: dict[str, Any]) -> list[Any]:
        """Every item of a paginated list: GitLab's X-Next-Page, else an RFC 5988 Link rel=next."""
        items: list[Any] = []
        next_url: str | None = url
        next_params: dict[str, Any] | None = params
        seen = 0
        while next_url:
            response = self.call("GET", next_url, params=next_params)
            page = response.json()
            if not isinstance(page, list):
                raise PostError(
                    f"{self.target.where} answered a list request with something else than a list"
                )
            items.extend(page)
            seen += 1
            next_page = response.headers.get("X-Next-Page", "").strip()
            link = response.links.get("next", {}).get("url")
            if next_page:
                next_url, next_params = url, {**params, "page": next_page}
            elif link and _same_origin(link, self.target.api_url):
                next_url, next_params = link, None
            else:
                next_url = None
            if seen >= MAX_PAGES:  # a server that never stops paging
                break
        return items


def _same_origin(url: str, api_url: str) -> bool:
    """Only follow links to the API the token is meant for: the token must never go elsewhere."""
    a, b = urlsplit(url), urlsplit(api_url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


# --- upsert ----------------------------------------------------------------------------------------


def _own_identity(client: Client) -> Any:
    """The token's user (GitLab id, GitHub login), or None when the token may not say (GITHUB_TOKEN)."""
    response = client.call("GET", f"{client.target.api_url}/user", allow=(403, 404))
    if response.status_code >= 400:
        return None
    user = response.json()
    if not isinstance(user, dict):
        return None  # an odd answer: no identity, so nothing is deleted as a duplicate
    return user.get("id") if client.target.platform == "gitlab" else user.get("login")


def _author(comment: dict[str, Any], platform: str) -> Any:
    if platform == "gitlab":
        return (comment.get("author") or {}).get("id")
    return (comment.get("user") or {}).get("login")


def own_comments(client: Client, marker: str, me: Any) -> list[dict[str, Any]]:
    """Non-system comments holding the marker, by the token's own user (or a bot); oldest first."""
    target = client.target
    params: dict[str, Any] = {"per_page": 100}
    if target.platform == "gitlab":
        params.update(sort="asc", order_by="created_at")
    found = [
        c
        for c in client.pages(target.comments_url, params)
        if isinstance(c, dict)
        and not c.get("system")
        and holds_marker(str(c.get("body") or ""), marker)
        and _maybe_mine(c, target.platform, me)
    ]
    return sorted(found, key=lambda c: c.get("id") or 0)


def _maybe_mine(comment: dict[str, Any], platform: str, me: Any) -> bool:
    if me is not None:
        return _author(comment, platform) == me
    # GITHUB_TOKEN may not read /user, but its comments are a bot's: a person's quote is not ours
    return platform != "github" or (comment.get("user") or {}).get("type") == "Bot"


def _edit(client: Client, comment_id: Any, body: str) -> None:
    client.call(client.target.edit_method, client.target.item_url.format(id=comment_id), json={"body": body})


def _delete(client: Client, comment_id: Any) -> None:
    # 404: a concurrent run removed it already
    client.call("DELETE", client.target.item_url.format(id=comment_id), allow=(404,))


def upsert_comment(
    target: Target, marker: str, body: str, sleep: Callable[[float], None] = time.sleep
) -> Posted:
    """Edit the app's comment (the oldest holding its marker), or create it.

    Two jobs of one merge request may both find no comment and both create one: after creating,
    the comments are listed again and the oldest is kept (edited to this body), the others
    deleted, so both jobs settle on the same single comment. Duplicates are only deleted when
    they are known to be the token's own.
    """
    client = Client(target, sleep=sleep)
    try:
        me = _own_identity(client)
        mine = own_comments(client, marker, me)
        if mine:
            _edit(client, mine[0]["id"], body)
            if me is not None:
                for extra in mine[1:]:
                    _delete(client, extra["id"])
            return Posted("updated", mine[0]["id"], target.what)
        created = client.call("POST", target.comments_url, json={"body": body}).json()
        if not isinstance(created, dict) or "id" not in created:
            raise PostError(f"{target.where} answered the new comment with something that is not a comment")
        me = me if me is not None else _author(created, target.platform)
        if me is None:
            return Posted("created", created.get("id", "?"), target.what)
        mine = own_comments(client, marker, me)
        keep = mine[0] if mine else created
        if keep["id"] != created.get("id"):
            _edit(client, keep["id"], body)
        extras = {c["id"]: c for c in [*mine, created] if c.get("id") != keep["id"]}
        for extra_id in extras:
            _delete(client, extra_id)
        return Posted("created" if keep["id"] == created.get("id") else "updated", keep["id"], target.what)
    except PostError as exc:
        raise PostError(redact(str(exc), target.token), exc.exit_code) from None
    finally:
        client.close()
