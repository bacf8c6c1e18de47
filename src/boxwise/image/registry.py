"""Images in a registry (`registry://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]`), read and pushed
over the Registry HTTP API v2 with no engine (notes/oci-images-and-registries.md §2).

Reading gives the manifest and config (their digests checked) and layers whose bytes are fetched
only when a layer's index is not cached: `Layer.opener` streams the blob, hashing as it goes.
Pushing follows the engine's flow: HEAD each blob (present: skip it), POST an upload and PUT the
blob with its digest, then PUT the manifest, whose exact bytes give its digest.

Auth: anonymous, Basic, or the Bearer token flow a 401 asks for, with credentials from
BOXWISE_REGISTRY_USER/PASSWORD, GitLab's CI_REGISTRY_* (for $CI_REGISTRY), or the Docker config
(`auths`, credential helpers). A credential never goes into a message. `requests` is imported
only when a registry is used.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import platform
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from boxwise.errors import UserError
from boxwise.image.model import MEDIA_OCI_LAYER, Image, Layer, diff_ids, layer_commands, load_json

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join((MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST, MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST))
HUB_HOST = "registry-1.docker.io"
HUB_CONFIG_KEY = "https://index.docker.io/v1/"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# what is left of a layer blob after its tar's end blocks is read and hashed, up to this much
_DRAIN_LIMIT = 4 << 20
_TIMEOUT = (15, 120)  # connect; then the longest silence while reading an answer
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_RETRIES = 3
_RETRY_CAP = 30.0
_PUSHED_KEEP = 5000  # blobs remembered per registry for cross-repository mounts


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
    usage = f"registry://{text}: not a registry reference; write registry://HOST[:PORT]/REPO[:TAG]"
    rest, _, digest = text.partition("@")
    name, tag = rest, None
    if ":" in rest.rpartition("/")[2]:
        name, _, tag = rest.rpartition(":")
    first, slash, remainder = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, repository = first, remainder
    else:
        host, repository = HUB_HOST, name if "/" in name else f"library/{name}"
    if not _REPO.match(repository) or (tag is not None and not _TAG.match(tag)):
        raise UserError(usage)
    if digest and not _DIGEST.match(digest):
        raise UserError(f"registry://{text}: '{digest}' is not a sha256:<64 hex> digest")
    return RegistryRef(host, repository, tag, digest or None)


# --- credentials -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str = ""  # where they came from, for messages (never the values)


def _docker_config_path() -> Path:
    folder = os.environ.get("DOCKER_CONFIG")
    return (Path(folder) if folder else Path.home() / ".docker") / "config.json"


def _config_key(key: str) -> str:
    """`https://host:5000/v1/` and `host:5000` name the same registry."""
    return re.sub(r"^https?://", "", key).split("/", 1)[0]


def _from_helper(helper: str, server: str, source: str) -> Credentials | None:
    try:
        result = subprocess.run(
            [f"docker-credential-{helper}", "get"], input=server, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    try:
        answer = json.loads(result.stdout)
    except ValueError:
        return None
    if not isinstance(answer, dict) or not answer.get("Secret") or answer.get("Username") == "<token>":
        return None
    return Credentials(str(answer.get("Username") or ""), str(answer["Secret"]), source)


def _from_docker_config(host: str) -> Credentials | None:
    path = _docker_config_path()
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    wanted = "index.docker.io" if host == HUB_HOST else host
    server = HUB_CONFIG_KEY if host == HUB_HOST else host
    helper = (config.get("credHelpers") or {}).get(host) or config.get("credsStore")
    if isinstance(helper, str) and helper:
        found = _from_helper(helper, server, f"{path} (docker-credential-{helper})")
        if found is not None:
            return found
    for key, entry in (config.get("auths") or {}).items():
        if _config_key(str(key)) != wanted or not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise UserError(
                    f"{path}: auths.{key}.auth is not base64 user:password; log in again"
                ) from None
            return Credentials(user, password, str(path))
        if entry.get("username") and entry.get("password"):
            return Credentials(str(entry["username"]), str(entry["password"]), str(path))
    return None


def find_credentials(host: str) -> Credentials | None:
    user, password = os.environ.get("BOXWISE_REGISTRY_USER"), os.environ.get("BOXWISE_REGISTRY_PASSWORD")
    if user and password:
        return Credentials(user, password, "BOXWISE_REGISTRY_USER/BOXWISE_REGISTRY_PASSWORD")
    if os.environ.get("CI_REGISTRY") == host:
        user, password = os.environ.get("CI_REGISTRY_USER"), os.environ.get("CI_REGISTRY_PASSWORD")
        if user and password:
            return Credentials(user, password, "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD")
    return _from_docker_config(host)


def _retry_after(header: str | None, attempt: int) -> float:
    """Seconds to wait before asking again: the registry's `Retry-After` (seconds), capped."""
    try:
        return min(max(float(header or ""), 0.0), _RETRY_CAP)
    except ValueError:
        return float(2**attempt)


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', params))


# --- the client --------------------------------------------------------------------------------


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
        stream: bool = False,
    ) -> Any:
        """One request; a 401 is answered (token or Basic), and a 429 or 5xx waited out
        (`Retry-After`, else 1, 2, 4 s), a few times each, and the request sent again."""
        import requests

        answered = waited = 0
        while True:
            sent = dict(headers or {})
            if self.authorization:
                sent["Authorization"] = self.authorization
            data = body() if callable(body) else body
            try:
                response = self.session.request(
                    method, url, headers=sent, data=data, stream=stream, timeout=_TIMEOUT
                )
            except requests.exceptions.RequestException as exc:
                raise self._unreachable(exc) from None
            finally:
                if callable(body) and hasattr(data, "close"):
                    data.close()
            if response.status_code == 401 and answered < 4 and self._authenticate(response):
                answered += 1
            elif response.status_code in _RETRY_STATUS and waited < _RETRIES:
                pause = _retry_after(response.headers.get("Retry-After"), waited)
                waited += 1
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
        scheme, params = _challenge(response.headers.get("WWW-Authenticate", ""))
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
            if creds is None:
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
        auth = (self.credentials.username, self.credentials.password) if self.credentials else None
        try:
            answer = self.session.get(params["realm"], params=query, auth=auth, timeout=_TIMEOUT)
        except requests.exceptions.RequestException as exc:
            raise self._unreachable(exc) from None
        if answer.status_code in (401, 403):
            raise self._denied(answer.status_code)
        try:
            body = answer.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
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
                f"`docker login {host}` or set BOXWISE_REGISTRY_USER and BOXWISE_REGISTRY_PASSWORD"
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
            error = (response.json().get("errors") or [{}])[0]
            code, message = str(error.get("code") or ""), str(error.get("message") or "")[:160]
        except (ValueError, AttributeError, IndexError, TypeError):
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
        later = f" (also after {_RETRIES} retries); try again later" if status in _RETRY_STATUS else ""
        return UserError(f"{self.label}: {self.ref.host} answered {status}{detail} to {what}{later}")

    # --- reading ---

    def manifest(self, reference: str) -> tuple[bytes, str]:
        """The manifest's exact bytes and its media type; its digest checked."""
        response = self.send("GET", self.url(f"manifests/{reference}"), headers={"Accept": ACCEPT})
        if response.status_code != 200:
            raise self.fail(response, f"manifest {self.ref.repository}:{reference}")
        data = response.content
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
        data = response.content
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise UserError(
                f"{self.label}: {what} digest mismatch (expected {digest}, content is {actual});"
                " push the image again"
            )
        return data

    def open_blob(self, digest: str, size: int) -> BlobStream:
        response = self.send("GET", self.url(f"blobs/{digest}"), stream=True)
        if response.status_code != 200:
            response.close()
            raise self.fail(response, f"layer blob {digest}")
        return BlobStream(response, digest, size, self.label)

    # --- pushing ---

    def has_blob(self, digest: str) -> bool:
        response = self.send("HEAD", self.url(f"blobs/{digest}"))
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        raise self.fail(response, f"blob {digest}")

    def mount(self, digest: str, source: str) -> str | None:
        """Mount a blob from another repository of this registry: None when it is now here,
        else the Location of the upload session the registry opened instead ("" for none)."""
        response = self.send("POST", self.url(f"blobs/uploads/?mount={digest}&from={source}"))
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
            location = response.headers["Location"]
        location = urljoin(self.base + "/", location)
        target = f"{location}{'&' if '?' in location else '?'}digest={digest}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        response = self.send("PUT", target, headers=headers, body=body)
        if response.status_code != 201:
            raise self.fail(response, f"the upload of {digest}")

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        response = self.send(
            "PUT", self.url(f"manifests/{reference}"), headers={"Content-Type": media_type}, body=data
        )
        if response.status_code != 201:
            raise self.fail(response, f"the manifest for {reference}")
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
        from urllib3.exceptions import HTTPError

        self._broken = HTTPError

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._response.raw.read(None if size < 0 else size, decode_content=False) or b""
        except (self._broken, OSError) as exc:
            raise UserError(
                f"{self._label}: the download of layer {self._digest} broke off ({type(exc).__name__});"
                " read the image again"
            ) from None
        if not data and size != 0:
            self._eof = True
        self._hash.update(data)
        self._done += len(data)
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
        # The index stops at the tar's end blocks; the few bytes after them are read to check it all.
        if not self._eof and (self._size < 0 or self._size - self._done > _DRAIN_LIMIT):
            return
        while not self._eof:
            self.read(1 << 16)
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self._digest:
            raise UserError(
                f"{self._label}: layer {self._digest} digest mismatch (content is {actual});"
                " push the image again"
            )


# --- the image model -------------------------------------------------------------------------


def _pick_platform(index: dict[str, Any], label: str) -> tuple[dict[str, Any], str]:
    entries = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    arch = _ARCH.get(platform.machine(), platform.machine())
    for wanted in (arch, "amd64"):
        for item in entries:
            plat = item.get("platform") or {}
            if plat.get("os") == "linux" and plat.get("architecture") == wanted:
                return item, f"linux/{wanted}"
    offered = sorted(
        {
            f"{(m.get('platform') or {}).get('os')}/{(m.get('platform') or {}).get('architecture')}"
            for m in entries
        }
    )
    raise UserError(
        f"{label}: no linux/{arch} or linux/amd64 image in its index (it has {', '.join(offered) or 'none'});"
        " give the image's digest (REPO@sha256:...)"
    )


def read_registry_image(text: str, ref: str) -> Image:
    """The image `registry://text` names: manifest and config now, layer bytes when indexed."""
    where = parse_ref(text)
    client = Registry(where, ref)
    data, media_type = client.manifest(where.reference)
    guess = None
    for _ in range(4):
        document = load_json(data, f"{ref}: manifest")
        if not isinstance(document, dict):
            raise UserError(f"{ref}: the manifest is not a JSON object; the image is corrupt")
        kind = media_type or str(document.get("mediaType") or "")
        if kind in (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST) or "manifests" in document:
            chosen, plat = _pick_platform(document, ref)
            digest = str(chosen.get("digest") or "")
            count = len(document.get("manifests") or [])
            guess = f"registry://{where.host}/{where.repository}@{digest} ({plat} of {count} in its index)"
            data, media_type = client.manifest(digest)
            continue
        if document.get("schemaVersion") == 1:
            raise UserError(
                f"{ref}: a schema 1 manifest (deprecated); push the image again with a current client"
            )
        image = _image(client, ref, document)
        image.guess = guess
        return image
    raise UserError(f"{ref}: indexes nested too deep; the image is corrupt")


def _image(client: Registry, ref: str, manifest: dict[str, Any]) -> Image:
    config_descriptor = manifest.get("config")
    descriptors = manifest.get("layers")
    if not isinstance(config_descriptor, dict) or not isinstance(descriptors, list):
        raise UserError(f"{ref}: the manifest lacks config or layers; the image is corrupt")
    config_bytes = client.blob(str(config_descriptor.get("digest") or ""), "config")
    config = load_json(config_bytes, f"{ref}: config")
    if not isinstance(config, dict):
        raise UserError(f"{ref}: the config is not a JSON object; the image is corrupt")
    ids = diff_ids(config)
    if len(ids) != len(descriptors):
        raise UserError(
            f"{ref}: the manifest lists {len(descriptors)} layers but the config has {len(ids)} diff_ids;"
            " the image is corrupt"
        )
    commands = layer_commands(config, len(descriptors))
    layers = []
    for number, descriptor in enumerate(descriptors):
        digest = str(descriptor.get("digest") or "") if isinstance(descriptor, dict) else ""
        if not _DIGEST.match(digest):
            raise UserError(f"{ref}: layer {number} has no sha256 digest; the image is corrupt")
        size = int(descriptor.get("size") or -1)
        layers.append(
            Layer(
                digest=digest,
                diff_id=ids[number],
                media_type=str(descriptor.get("mediaType") or MEDIA_OCI_LAYER),
                size=size,
                created_by=commands[number],
                opener=lambda digest=digest, size=size: client.open_blob(digest, size),  # type: ignore[misc]
                location=f"{client.ref.host}/{client.ref.repository}@{digest}",
            )
        )
    name = f"{client.ref.host}/{client.ref.repository}" + (f":{client.ref.tag}" if client.ref.tag else "")
    return Image(
        ref=ref,
        manifest=manifest,
        config=config,
        layers=layers,
        source="registry",
        name=name,
        config_bytes=config_bytes,
    )


def _pushed_record(host: str) -> Path:
    from boxwise.image.cache import cache_root

    return cache_root() / "registry-blobs" / (re.sub(r"[^A-Za-z0-9.-]", "_", host) + ".json")


def _read_pushed(host: str) -> dict[str, str]:
    """digest -> a repository of `host` that held it when this machine last pushed there."""
    try:
        record = json.loads(_pushed_record(host).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write_pushed(host: str, record: dict[str, str]) -> None:
    path = _pushed_record(host)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dict(list(record.items())[-_PUSHED_KEEP:])))
        os.replace(tmp, path)
    except OSError:
        pass  # only a shortcut for the next push is lost


def push_image(
    config: bytes, manifest: bytes, layers: list[tuple[str, int, Path]], text: str, say: Any = print
) -> str:
    """Push blobs that are missing, then the manifest; the pushed manifest's digest.

    `layers` are (digest, size, file) triples; `manifest` refers to them and to `config` exactly.
    A blob this machine pushed to another repository of the registry is mounted from there."""
    where = parse_ref(text)
    label = f"registry://{text}"
    client = Registry(where, label, push=True)
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    counts = {"uploaded": 0, "mounted": 0, "present": 0}
    blobs: list[tuple[str, int, Any]] = [(config_digest, len(config), config)]
    blobs += [(digest, size, lambda path=path: open(path, "rb")) for digest, size, path in layers]  # noqa: SIM115
    elsewhere = _read_pushed(where.host)
    record: dict[str, str] = {}
    for digest, size, body in blobs:
        if digest in record:
            continue
        record[digest] = where.repository
        if client.has_blob(digest):
            counts["present"] += 1
            continue
        source = elsewhere.get(digest)
        location = client.mount(digest, source) if source and source != where.repository else ""
        if location is None:
            counts["mounted"] += 1
            continue
        client.upload(digest, size, body, location)
        counts["uploaded"] += 1
    media_type = str(load_json(manifest, f"{label}: manifest").get("mediaType") or MEDIA_OCI_MANIFEST)
    digest = client.put_manifest(where.digest or where.tag or "latest", manifest, media_type)
    _write_pushed(where.host, {**{d: r for d, r in elsewhere.items() if d not in record}, **record})
    say(
        f"pushed {where.host}/{where.repository}:{where.tag or 'latest'}  digest {digest}"
        f"  ({counts['uploaded']} blobs uploaded, {counts['mounted']} mounted from other repositories,"
        f" {counts['present']} already there)"
    )
    return digest
