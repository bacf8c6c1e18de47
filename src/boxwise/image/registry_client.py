"""The Registry HTTP API v2 client (docs/design.md, Registry HTTP API v2): references, requests
with auth (anonymous, Basic, Bearer tokens per challenge) and retries, blobs and manifests.

http for localhost and 127.0.0.0/8 (the engine's insecure-registry default), https elsewhere,
verified with the system CA store or REQUESTS_CA_BUNDLE. Every failure is one UserError line.
`requests` is imported only when a registry is used.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from boxwise.errors import UserError
from boxwise.httpretry import RETRY_STATUS, next_attempt, retries
from boxwise.image.digest import DIGEST
from boxwise.image.mediatypes import MANIFEST_ACCEPT
from boxwise.image.reference import PATH as _REPO
from boxwise.image.reference import TAG as _TAG
from boxwise.image.registry_auth import HUB_HOST, find_credentials, parse_challenge
from boxwise.image.registry_scope import may_send_credentials, same_origin
from boxwise.netread import (
    DOCUMENT_LIMIT,
    ERROR_BODY_LIMIT,
    IDLE_SECONDS,
    Deadline,
    deadline_seconds,
    response_body,
    some,
    user_error,
)

_TIMEOUT = (15, IDLE_SECONDS)  # connect; then the longest silence while reading an answer
_RETRIES = 3
_RETRY_CAP = 30.0


@dataclass(frozen=True)
class RegistryRef:
    host: str  # host[:port], as the Docker config keys it
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        return self.digest or self.tag or "latest"

    @property
    def text(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        return f"{self.host}/{self.repository}{tag}" + (f"@{self.digest}" if self.digest else "")

    @property
    def scheme(self) -> str:
        """http for loopback (the engine's insecure-registry default), https elsewhere."""
        name = self.host.rpartition(":")[0] if re.search(r":\d+$", self.host) else self.host
        name = name.strip("[]")
        if name == "localhost":
            return "http"
        try:
            return "http" if ipaddress.ip_address(name).is_loopback else "https"
        except ValueError:
            return "https"


def parse_ref(text: str) -> RegistryRef:
    """`HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]`; a name without a host is Docker Hub's."""
    usage = (
        f"registry://{text}: not a registry reference; write registry://HOST[:PORT]/REPO[:TAG]"
        " (REPO in lowercase; TAG of letters, digits, '.', '_' and '-')"
    )
    rest, _, digest = text.partition("@")
    name, tag = rest, None
    if ":" in rest.rpartition("/")[2]:
        name, _, tag = rest.rpartition(":")
    first, slash, remainder = name.partition("/")
    if slash and first in ("docker.io", "index.docker.io", HUB_HOST):
        host, repository = HUB_HOST, remainder if "/" in remainder else f"library/{remainder}"
    elif slash and ("." in first or ":" in first or first == "localhost"):
        host, repository = first, remainder
    else:
        host, repository = HUB_HOST, name if "/" in name else f"library/{name}"
    if not _REPO.match(repository) or (tag is not None and not _TAG.match(tag)):
        raise UserError(usage)
    if digest and not DIGEST.match(digest):
        raise UserError(f"registry://{text}: '{digest}' is not a sha256:<64 hex> digest")
    return RegistryRef(host, repository, tag, digest or None)


class Registry:
    """One registry repository, spoken to over HTTP; every failure is one UserError line."""

    def __init__(self, ref: RegistryRef, label: str, push: bool = False) -> None:
        import requests

        self.ref = ref
        self.label = label  # the reference as the user wrote it
        self.base = f"{ref.scheme}://{ref.host}"
        self.actions = "pull,push" if push else "pull"
        self.session = requests.Session()
        self.credentials = find_credentials(ref.host)
        self.authorization: str | None = None
        self.tried: dict[str, float] = {}  # challenge -> when it was last answered
        self.insufficient_scope = False

    def url(self, path: str) -> str:
        return f"{self.base}/v2/{self.ref.repository}/{path}"

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        """One request; a 401 is answered (token or Basic), and a 429 or 5xx waited out
        (`Retry-After`, else 1, 2, 4 s), a few times each, and the request sent again.

        The answer is streamed: its body is read by the caller, bounded (`netread`)."""
        import requests

        answered = 0
        policy = retries(_RETRIES, _RETRY_CAP)
        ours = same_origin(url, self.base)  # an upload Location may point anywhere
        while True:
            sent = dict(headers or {})
            if self.authorization and ours:
                sent["Authorization"] = self.authorization
            data = body() if callable(body) else body
            try:
                response = self.session.request(
                    method, url, headers=sent, data=data, stream=True, timeout=_TIMEOUT
                )
            except requests.exceptions.RequestException as exc:
                raise self._unreachable(exc) from None
            finally:
                if callable(body) and hasattr(data, "close"):
                    data.close()
            if response.status_code == 401 and ours and answered < 4 and self._authenticate(response):
                answered += 1
            elif response.status_code in RETRY_STATUS and (
                step := next_attempt(policy, method, url, response)
            ):
                policy, pause = step
                response.close()
                time.sleep(pause)
                continue
            else:
                return response
            response.close()

    def _unreachable(self, exc: Exception) -> UserError:
        import requests

        if isinstance(exc, requests.exceptions.SSLError):
            return UserError(
                f"{self.label}: {self.ref.host}'s TLS certificate cannot be verified; "
                "set REQUESTS_CA_BUNDLE to the CA bundle that signed it"
            )
        return UserError(
            f"{self.label}: cannot reach {self.ref.host} ({type(exc).__name__}); "
            "check the host and port, and that the registry is running"
        )

    def _authenticate(self, response: Any) -> bool:
        """Set the Authorization the challenge asks for; False when there is nothing new to try."""
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        # the same challenge answered again soon after: the credentials or the token do not do;
        # a minute later it is a token that expired during a long upload, worth one more try
        key = "|".join([scheme, *(params.get(k, "") for k in ("realm", "service", "scope", "error"))])
        if time.monotonic() - self.tried.get(key, -1e9) < 60:
            return False
        self.tried[key] = time.monotonic()
        # a token that lacks the scope: the credentials were good, the access is not granted
        self.insufficient_scope = params.get("error") == "insufficient_scope"
        creds = self.credentials
        if scheme == "basic":
            if creds is None or creds.identity_token:  # a refresh token is for token servers only
                return False
            token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
            header = f"Basic {token}"
        elif scheme == "bearer" and params.get("realm"):
            header = self._token(params)
        else:
            return False
        self.authorization = header
        return True

    def _token(self, params: dict[str, str]) -> str:
        import requests

        ours = f"repository:{self.ref.repository}:"
        scopes = [ours + self.actions]
        for scope in params.get("scope", "").split():
            covered = scope.startswith(ours) and set(scope[len(ours) :].split(",")) <= set(
                self.actions.split(",")
            )
            if not covered:
                scopes.append(scope)  # what the registry says it needs beyond our own scope
        query: dict[str, Any] = {"scope": scopes}
        if params.get("service"):
            query["service"] = params["service"]
        # a realm on another host, or over plain http, is asked for an anonymous token
        creds = self.credentials if may_send_credentials(params["realm"], self.ref.host) else None
        try:
            if creds is not None and creds.identity_token:  # OAuth2: trade the refresh token
                form = {
                    **query,
                    "scope": " ".join(scopes),
                    "grant_type": "refresh_token",
                    "refresh_token": creds.identity_token,
                    "client_id": "boxwise",
                }
                answer = self.session.post(params["realm"], data=form, timeout=_TIMEOUT, stream=True)
            else:
                auth = (creds.username, creds.password) if creds else None
                answer = self.session.get(
                    params["realm"], params=query, auth=auth, timeout=_TIMEOUT, stream=True
                )
        except requests.exceptions.RequestException as exc:
            raise self._unreachable(exc) from None
        if answer.status_code in (401, 403):
            answer.close()
            raise self._denied(answer.status_code)
        data = response_body(answer, DOCUMENT_LIMIT, user_error(f"{self.label}: the token server"))
        try:
            body = json.loads(data)
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError, RecursionError):
            token = None
        token = token if isinstance(token, str) else None
        if answer.status_code != 200 or not token:
            raise UserError(
                f"{self.label}: the token server of {self.ref.host} answered {answer.status_code}"
                " without a token; check the registry's auth setup"
            )
        return f"Bearer {token}"

    def _denied(self, status: int) -> UserError:
        host, creds = self.ref.host, self.credentials
        what = "push to" if "push" in self.actions else "pull from"
        if creds is None:
            return UserError(
                f"{self.label}: {host} needs credentials to {what} {self.ref.repository}; run "
                f"`docker login {host}` or set BOXWISE_REGISTRY={host}, BOXWISE_REGISTRY_USER and "
                "BOXWISE_REGISTRY_PASSWORD"
            )
        if status == 401 and not self.insufficient_scope:
            return UserError(
                f"{self.label}: {host} refused the credentials from {creds.source}; "
                f"check them (`docker login {host}`)"
            )
        return UserError(
            f"{self.label}: {host} denies {creds.username or 'this user'} the right to {what} "
            f"{self.ref.repository}; ask for access or check the repository name"
        )

    def fail(self, response: Any, what: str) -> UserError:
        """The one line for an answer that is not what was asked."""
        status = response.status_code
        code, message = "", ""
        try:
            data = response_body(response, ERROR_BODY_LIMIT, user_error(f"{self.label}: {what}"))
            error = (json.loads(data).get("errors") or [{}])[0]
            code, message = str(error.get("code") or ""), str(error.get("message") or "")[:160]
        except (ValueError, AttributeError, IndexError, TypeError, KeyError, RecursionError, UserError):
            pass
        if status in (401, 403):
            return self._denied(status)
        if status == 404 or code in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"):
            return UserError(
                f"{self.label}: {self.ref.host} has no {what} ({code or 'not found'}); "
                "check the repository name and the tag or digest"
            )
        if status == 429:
            return UserError(
                f"{self.label}: {self.ref.host} says too many requests (429, also after {_RETRIES} retries);"
                " try again later, or log in (anonymous pulls are limited more)"
            )
        detail = f" {code}: {message}" if code else ""
        later = f" (also after {_RETRIES} retries); try again later" if status in RETRY_STATUS else ""
        return UserError(f"{self.label}: {self.ref.host} answered {status}{detail} to {what}{later}")

    # --- reading ---

    def manifest(self, reference: str) -> tuple[bytes, str]:
        """The manifest's exact bytes and its media type; its digest checked."""
        response = self.send("GET", self.url(f"manifests/{reference}"), headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code != 200:
            raise self.fail(response, f"manifest {self.ref.repository}:{reference}")
        data = response_body(response, DOCUMENT_LIMIT, user_error(f"{self.label}: manifest {reference}"))
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        expected = (
            reference if reference.startswith("sha256:") else response.headers.get("Docker-Content-Digest")
        )
        if expected and expected.startswith("sha256:") and expected != actual:
            raise UserError(
                f"{self.label}: manifest digest mismatch (expected {expected}, content is {actual});"
                " the registry or a proxy altered it, pull by digest from a trusted registry"
            )
        media_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
        return data, media_type

    def blob(self, digest: str, what: str) -> bytes:
        response = self.send("GET", self.url(f"blobs/{digest}"))
        if response.status_code != 200:
            raise self.fail(response, f"{what} blob {digest}")
        data = response_body(response, DOCUMENT_LIMIT, user_error(f"{self.label}: {what} {digest}"))
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise UserError(
                f"{self.label}: {what} digest mismatch (expected {digest}, content is {actual});"
                " push the image again"
            )
        return data

    def open_blob(self, digest: str, size: int) -> BlobStream:
        response = self.send("GET", self.url(f"blobs/{digest}"))
        if response.status_code != 200:
            raise self.fail(response, f"layer blob {digest}")
        return BlobStream(response, digest, size, self.label)

    # --- pushing ---

    def has_blob(self, digest: str) -> bool:
        response = self.send("HEAD", self.url(f"blobs/{digest}"))
        if response.status_code in (200, 404):
            response.close()
            return response.status_code == 200
        raise self.fail(response, f"blob {digest}")

    def mount(self, digest: str, source: str) -> str | None:
        """Mount a blob from another repository of this registry: None when it is now here,
        else the Location of the upload session the registry opened instead ("" for none)."""
        response = self.send("POST", self.url(f"blobs/uploads/?mount={digest}&from={source}"))
        response.close()
        if response.status_code == 201:
            return None
        if response.status_code == 202:
            return response.headers.get("Location") or ""
        return ""  # no right to the other repository, or gone: a plain upload does it

    def upload(self, digest: str, size: int, body: Any, location: str = "") -> None:
        """A monolithic upload: POST a session (unless one is open), PUT the whole blob with its digest."""
        if not location:
            response = self.send("POST", self.url("blobs/uploads/"))
            if response.status_code != 202 or not response.headers.get("Location"):
                raise self.fail(response, f"an upload session for {digest}")
            response.close()
            location = response.headers["Location"]
        location = urljoin(self.base + "/", location)
        target = f"{location}{'&' if '?' in location else '?'}digest={digest}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        response = self.send("PUT", target, headers=headers, body=body)
        if response.status_code != 201:
            raise self.fail(response, f"the upload of {digest}")
        response.close()

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        response = self.send(
            "PUT", self.url(f"manifests/{reference}"), headers={"Content-Type": media_type}, body=data
        )
        if response.status_code != 201:
            raise self.fail(response, f"the manifest for {reference}")
        response.close()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        answered = response.headers.get("Docker-Content-Digest")
        if answered and answered != digest:
            raise UserError(f"{self.label}: the registry stored the manifest as {answered}, not {digest}")
        return digest


class BlobStream:
    """A layer blob as it downloads: read piece by piece, hashed; checked when fully read."""

    def __init__(self, response: Any, digest: str, size: int, label: str) -> None:
        self._response = response
        self._hash = hashlib.sha256()
        self._digest = digest
        self._size = size
        self._label = label
        self._done = 0
        self._eof = False
        # an overall deadline: the read timeout alone lets a byte every minute go on forever
        self._deadline = Deadline(deadline_seconds() + max(size, 0) / (1 << 20))
        from urllib3.exceptions import HTTPError

        self._broken = HTTPError

    def read(self, size: int = -1) -> bytes:
        if size < 0:  # everything: piece by piece, so each piece is checked
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        if self._deadline.passed():
            raise UserError(
                f"{self._label}: the download of layer {self._digest} took longer than "
                f"{self._deadline.seconds:.0f} s (BOXWISE_NET_DEADLINE); read the image again"
            )
        try:
            data = some(self._response.raw, size, False)
        except (self._broken, OSError) as exc:
            raise UserError(
                f"{self._label}: the download of layer {self._digest} broke off ({type(exc).__name__});"
                " read the image again"
            ) from None
        if not data and size != 0:
            self._eof = True
        self._hash.update(data)
        self._done += len(data)
        if 0 <= self._size < self._done:
            raise UserError(
                f"{self._label}: layer {self._digest} is longer than the {self._size} bytes its "
                "descriptor says; the registry is broken or hostile"
            )
        return data

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> BlobStream:
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        try:
            if kind is None:
                self._verify()
        finally:
            self.close()

    def _verify(self) -> None:
        # Whatever is left after the tar's end blocks is read too: the blob is checked whole,
        # whatever size its descriptor claims (the read deadline bounds an endless one).
        while not self._eof:
            self.read(1 << 16)
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self._digest:
            raise UserError(
                f"{self._label}: layer {self._digest} digest mismatch (content is {actual});"
                " push the image again"
            )
