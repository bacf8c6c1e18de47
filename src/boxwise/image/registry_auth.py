"""Registry credentials and auth challenges: where a user's login for a registry is found.

First found wins: BOXWISE_REGISTRY_USER/PASSWORD when the host is one of BOXWISE_REGISTRY (a
credential belongs to a host: a registry a merge request names gets none of another's); GitLab's
CI_REGISTRY_USER/PASSWORD when the host is $CI_REGISTRY; the Docker config
($DOCKER_CONFIG/config.json, else ~/.docker/config.json): credHelpers/credsStore
(`docker-credential-NAME get`), then `auths`. A credential's value never goes into a message;
`Credentials.source` says where it came from.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from boxwise.errors import UserError

HUB_HOST = "registry-1.docker.io"
HUB_CONFIG_KEY = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    source: str = ""  # where they came from, for messages (never the values)
    # an OAuth2 refresh token (`identitytoken` of `docker login`), traded at the token realm
    identity_token: str | None = field(default=None, repr=False)


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
    if not isinstance(answer, dict) or not answer.get("Secret"):
        return None
    if answer.get("Username") == "<token>":  # the helper's way of giving an identity token
        return Credentials("", "", source, identity_token=str(answer["Secret"]))
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
        if entry.get("identitytoken"):
            return Credentials("", "", str(path), identity_token=str(entry["identitytoken"]))
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


def _named_hosts(variable: str) -> set[str]:
    """The hosts of a comma-separated `host[:port]` list (`docker.io` names Docker Hub)."""
    hosts = {item.strip() for item in os.environ.get(variable, "").split(",") if item.strip()}
    return {HUB_HOST if h in ("docker.io", "index.docker.io") else h for h in hosts}


def find_credentials(host: str) -> Credentials | None:
    user, password = os.environ.get("BOXWISE_REGISTRY_USER"), os.environ.get("BOXWISE_REGISTRY_PASSWORD")
    if user and password and host in _named_hosts("BOXWISE_REGISTRY"):
        return Credentials(user, password, "BOXWISE_REGISTRY_USER/BOXWISE_REGISTRY_PASSWORD")
    return gitlab_job_credentials(host, os.environ) or _from_docker_config(host)


def gitlab_job_credentials(host: str, env: Mapping[str, str]) -> Credentials | None:
    """GitLab's job credentials (CI_REGISTRY_USER/PASSWORD), for its own registry ($CI_REGISTRY) only:
    the one reader of them, for the registry client and for the engine's pull of a baseline."""
    if env.get("CI_REGISTRY") == host:
        user, password = env.get("CI_REGISTRY_USER"), env.get("CI_REGISTRY_PASSWORD")
        if user and password:
            return Credentials(user, password, "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD")
    return None


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…",scope="…"` -> ("bearer", {realm, service, scope})."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', params))
