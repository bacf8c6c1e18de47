"""A local stand-in for the GitLab notes API and the GitHub issue-comments API, on 127.0.0.1.

It behaves as the real services do for the calls boxwise makes: token header checks (401 for a
wrong token, 403 for a read-only one), 404 for an unknown project/MR/PR, pagination (GitLab's
X-Next-Page/X-Page/X-Total plus Link; GitHub's Link only), system notes, and injected faults
(429 with Retry-After, a 500) to exercise the retries. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from support.serving import serving_thread


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Fault:
    method: str
    path_part: str
    status: int
    retry_after: str | None = None
    times: int = 1
    location: str | None = None  # a redirect (3xx) to this URL, perhaps on another host


@dataclass
class FakeState:
    gitlab_token: str = "glpat-secret-0123456789"
    gitlab_readonly_tokens: set[str] = field(default_factory=set)
    gitlab_user: dict[str, Any] = field(default_factory=lambda: {"id": 77, "username": "project_5_bot"})
    github_token: str = "ghs_secretsecret0123456789"
    github_user_forbidden: bool = True  # GITHUB_TOKEN may not read /user
    github_login: str = "github-actions[bot]"
    # (project id as sent, MR iid) -> notes; (owner/repo, PR number) -> comments
    notes: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    # called just before a comment is created: lets a test play a concurrent job
    before_create: list[Any] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    next_id: int = 1000

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


def _page(items: list[Any], query: dict[str, list[str]], default_per_page: int) -> tuple[list[Any], int, int]:
    per_page = min(int(query.get("per_page", [default_per_page])[0]), 100)
    page = max(int(query.get("page", ["1"])[0]), 1)
    pages = max((len(items) + per_page - 1) // per_page, 1)
    return items[(page - 1) * per_page : page * per_page], page, pages


class Handler(BaseHTTPRequestHandler):
    server: FakeServer  # type: ignore[assignment]
    # headers and body go out as two writes: with Nagle on, the body waited for the client's delayed
    # ACK of the headers (about 40 ms a request, a tenth of a second per `report --post`)
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    # --- plumbing -------------------------------------------------------------------------------

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if status == 204 else json.dumps(payload).encode()
        # recorded before the answer goes out: a client in the test's own process (support.cli)
        # may read the record as soon as it has the answer
        self.server.state.requests[-1].status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        state = self.server.state
        with self.server.lock:
            state.requests.append(
                Recorded(method, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
            )
            for fault in state.faults:
                if fault.times > 0 and fault.method == method and fault.path_part in parts.path:
                    fault.times -= 1
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    if fault.location:
                        headers["Location"] = fault.location
                    return self._send(fault.status, {"message": f"{fault.status} injected"}, headers)
            if parts.path.startswith("/api/v4/"):
                return self._gitlab(method, parts.path[len("/api/v4") :], parse_qs(parts.query), body)
            if parts.path.startswith("/gh/"):
                return self._github(method, parts.path[len("/gh") :], parse_qs(parts.query), body)
            return self._send(404, {"message": "404 Not Found"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _run_before_create(self, key: tuple[str, str]) -> None:
        hooks, self.server.state.before_create = self.server.state.before_create, []
        for hook in hooks:
            hook(key)

    # --- GitLab ---------------------------------------------------------------------------------

    def _gitlab(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
        state = self.server.state
        token = self.headers.get("PRIVATE-TOKEN")
        if token not in {state.gitlab_token, *state.gitlab_readonly_tokens}:
            return self._send(401, {"message": "401 Unauthorized"})
        if path == "/user" and method == "GET":
            return self._send(200, state.gitlab_user)
        segments = path.strip("/").split("/")
        # projects/:id/merge_requests/:iid/notes[/:note_id]
        if len(segments) < 5 or segments[0] != "projects" or segments[2] != "merge_requests":
            return self._send(404, {"message": "404 Not Found"})
        if segments[4] != "notes":
            return self._send(404, {"message": "404 Not Found"})
        key = (unquote(segments[1]), segments[3])
        if key not in state.notes:
            return self._send(404, {"message": "404 Not found"})
        notes = state.notes[key]
        if method != "GET" and token in state.gitlab_readonly_tokens:
            return self._send(403, {"message": "403 Forbidden"})
        if len(segments) == 5 and method == "GET":
            ordered = sorted(notes, key=lambda n: n["id"], reverse=query.get("sort", ["desc"])[0] != "asc")
            items, page, pages = _page(ordered, query, 20)
            base = f"http://{self.headers['Host']}/api/v4{path}"
            headers = {
                "X-Page": str(page),
                "X-Total-Pages": str(pages),
                "X-Total": str(len(notes)),
                "X-Per-Page": query.get("per_page", ["20"])[0],
                "X-Next-Page": str(page + 1) if page < pages else "",
            }
            if page < pages:
                headers["Link"] = f'<{base}?page={page + 1}&per_page={headers["X-Per-Page"]}>; rel="next"'
            return self._send(200, items, headers)
        if len(segments) == 5 and method == "POST":
            if not isinstance(body, dict) or not body.get("body"):
                return self._send(400, {"message": "400 Bad request - body is missing"})
            if len(body["body"]) > 1_000_000:
                return self._send(400, {"message": "Note is too long (maximum is 1000000 characters)"})
            self._run_before_create(key)
            note = {
                "id": state.new_id(),
                "body": body["body"],
                "system": False,
                "author": dict(state.gitlab_user),
                "noteable_iid": int(key[1]),
            }
            notes.append(note)
            return self._send(201, note)
        if len(segments) == 6 and method == "PUT":
            note = next((n for n in notes if str(n["id"]) == segments[5]), None)
            if note is None:
                return self._send(404, {"message": "404 Note Not Found"})
            if note["author"]["id"] != state.gitlab_user["id"]:
                return self._send(403, {"message": "403 Forbidden"})
            note["body"] = body["body"]
            return self._send(200, note)
        if len(segments) == 6 and method == "DELETE":
            note = next((n for n in notes if str(n["id"]) == segments[5]), None)
            if note is None:
                return self._send(404, {"message": "404 Note Not Found"})
            if note["author"]["id"] != state.gitlab_user["id"]:
                return self._send(403, {"message": "403 Forbidden"})
            notes.remove(note)
            return self._send(204, None)
        return self._send(405, {"message": "405 Method Not Allowed"})

    # --- GitHub ---------------------------------------------------------------------------------

    def _github(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
        state = self.server.state
        auth = self.headers.get("Authorization", "")
        if auth not in (f"Bearer {state.github_token}", f"token {state.github_token}"):
            return self._send(401, {"message": "Bad credentials"})
        if path == "/user" and method == "GET":
            if state.github_user_forbidden:
                return self._send(403, {"message": "Resource not accessible by integration"})
            return self._send(200, {"login": state.github_login})
        segments = path.strip("/").split("/")
        # repos/:owner/:repo/issues/:number/comments | repos/:owner/:repo/issues/comments/:id
        if len(segments) < 5 or segments[0] != "repos" or segments[3] != "issues":
            return self._send(404, {"message": "Not Found"})
        repo = f"{segments[1]}/{segments[2]}"
        if segments[4] == "comments" and len(segments) == 6 and method in ("PATCH", "DELETE"):
            for (owner_repo, _number), comments in state.comments.items():
                for comment in comments:
                    if owner_repo == repo and str(comment["id"]) == segments[5]:
                        if comment["user"]["login"] != state.github_login:
                            return self._send(403, {"message": "Resource not accessible by integration"})
                        if method == "DELETE":
                            comments.remove(comment)
                            return self._send(204, None)
                        comment["body"] = body["body"]
                        return self._send(200, comment)
            return self._send(404, {"message": "Not Found"})
        if len(segments) != 6 or segments[5] != "comments":
            return self._send(404, {"message": "Not Found"})
        key = (repo, segments[4])
        if key not in state.comments:
            return self._send(404, {"message": "Not Found"})
        comments = state.comments[key]
        if method == "GET":
            items, page, pages = _page(comments, query, 30)
            headers = {}
            if page < pages:
                per_page = query.get("per_page", ["30"])[0]
                base = f"http://{self.headers['Host']}/gh{path}"
                headers["Link"] = (
                    f'<{base}?per_page={per_page}&page={page + 1}>; rel="next", '
                    f'<{base}?per_page={per_page}&page={pages}>; rel="last"'
                )
            return self._send(200, items, headers)
        if method == "POST":
            if len(body.get("body", "")) > 65_536:
                return self._send(422, {"message": "Validation Failed", "errors": [{"code": "too long"}]})
            self._run_before_create(key)
            comment = {
                "id": state.new_id(),
                "body": body["body"],
                "user": {"login": state.github_login, "type": "Bot"},
            }
            comments.append(comment)
            return self._send(201, comment)
        return self._send(405, {"message": "Method Not Allowed"})


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = FakeState()
        self.lock = threading.Lock()
        self.thread = serving_thread(self)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    # --- helpers for tests ---------------------------------------------------------------------

    def add_merge_request(self, project: str, iid: int, notes: list[dict[str, Any]] | None = None) -> None:
        self.state.notes[(project, str(iid))] = list(notes or [])

    def add_pull_request(self, repo: str, number: int, comments: list[dict[str, Any]] | None = None) -> None:
        self.state.comments[(repo, str(number))] = list(comments or [])

    def fail(
        self,
        method: str,
        path_part: str,
        status: int,
        retry_after: str | None = None,
        times: int = 1,
        location: str | None = None,
    ) -> None:
        self.state.faults.append(Fault(method, path_part, status, retry_after, times, location))

    def gitlab_note(self, body: str, author_id: int = 5, system: bool = False) -> dict[str, Any]:
        return {"id": self.state.new_id(), "body": body, "system": system, "author": {"id": author_id}}

    def github_comment(self, body: str, login: str = "octocat") -> dict[str, Any]:
        kind = "Bot" if login.endswith("[bot]") else "User"
        return {"id": self.state.new_id(), "body": body, "user": {"login": login, "type": kind}}
