"""Build-time secrets: given to the build container for the build only, and checked for afterwards.

The CA bundle (`--ca-cert`, else the file `SSL_CERT_FILE`, `PIP_CERT` or `REQUESTS_CA_BUNDLE`
names), the `.netrc` (`NETRC`, else `~/.netrc`) and pip's index settings (`PIP_INDEX_URL`,
`PIP_EXTRA_INDEX_URL`, `PIP_TRUSTED_HOST`) go into the container's exec environment and into
/tmp/boxwise-secrets, which is never exported. After export, `scan_layers` fails the build when a
layer boxwise wrote holds the CA file or the netrc, or any layer or the config holds a credential,
verbatim or base64 (standard or URL-safe, at any alignment), hex or URL-encoded: build code from a
merge request can read what the build is given (SECURITY.md), so these copies are looked for too.

`BOXWISE_BUILD_CREDENTIALS=none` (what `boxwise ci` sets for a merge request from a fork) gives the
build no netrc and no index URL that carries credentials; the CA bundle still goes (it is no
credential, and an intercepting proxy needs it).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_from_bytes, urlsplit

from boxwise.errors import UserError

SECRETS_DIR = "/tmp/boxwise-secrets"
INDEX_VARS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST")
CA_VARS = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")
# A CA file with this many certificates or fewer is a private CA: each of its certificates is a
# secret to look for. A big system bundle is only looked for whole (public roots are everywhere).
PRIVATE_CA_MAX_CERTS = 10
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


@dataclass
class BuildSecrets:
    env: dict[str, str] = field(default_factory=dict)  # exec environment of the build only
    files: dict[str, bytes] = field(default_factory=dict)  # container path -> content
    file_hashes: dict[str, str] = field(default_factory=dict)  # sha256 hex -> what it is
    needles: dict[bytes, str] = field(default_factory=dict)  # secret bytes -> what it is

    def describe(self) -> str:
        parts = [name for name in ("CA bundle", "netrc") if name in self.file_hashes.values()]
        parts += [name for name in INDEX_VARS if name in self.env]
        return ", ".join(parts) or "none"


def _url_secrets(value: str) -> list[str]:
    found = []
    for url in value.split():
        parts = urlsplit(url)
        if parts.password:
            found.append(parts.password)
        elif parts.username and len(parts.username) >= 8:  # a token used as the user name
            found.append(parts.username)
    return found


def _netrc_secrets(text: str) -> list[str]:
    tokens = text.split()
    return [tokens[i + 1] for i, tok in enumerate(tokens[:-1]) if tok in ("password", "account")]


MIN_NEEDLE = 6  # a shorter needle would match everywhere


def encoded_forms(secret: bytes) -> dict[bytes, str]:
    """The common encodings of `secret` as they appear inside a larger encoded text: hex (both
    cases), URL-encoding, and base64 (standard and URL-safe) at each of the three alignments a
    secret can take inside a base64 stream (the characters its neighbours also shape are cut)."""
    forms = {secret.hex().encode(): "hex", secret.hex().upper().encode(): "hex"}
    quoted = quote_from_bytes(secret, safe="").encode()
    if quoted != secret:
        forms[quoted] = "URL-encoded"
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + secret)
        start = (offset * 4 + 2) // 3  # characters that also hold the padding bytes' bits
        end = len(encoded) - (0 if (offset + len(secret)) % 3 == 0 else 4)
        stable = encoded[start:end]
        if len(stable) >= MIN_NEEDLE:
            forms[stable] = "base64"
            forms[stable.replace(b"+", b"-").replace(b"/", b"_")] = "base64"
    return {form: how for form, how in forms.items() if form != secret}


def _with_encodings(needles: dict[bytes, str]) -> dict[bytes, str]:
    found = dict(needles)
    for needle, what in needles.items():
        if len(needle) >= MIN_NEEDLE:
            for form, how in encoded_forms(needle).items():
                found.setdefault(form, f"{what} ({how})")
    return found


def collect(ca_cert: Path | None, environ: dict[str, str] | None = None) -> BuildSecrets:
    env = dict(os.environ if environ is None else environ)
    secrets = BuildSecrets()
    if ca_cert is None:
        named = next((env[var] for var in CA_VARS if env.get(var)), None)
        ca_cert = Path(named) if named else None
        from_flag = False
    else:
        from_flag = True
    if ca_cert is not None:
        try:
            data = ca_cert.read_bytes()
        except OSError as exc:
            where = "--ca-cert" if from_flag else "the CA file named in SSL_CERT_FILE/PIP_CERT"
            raise UserError(
                f"{ca_cert}: cannot read {where} ({exc.strerror}); give a readable PEM file"
            ) from None
        path = f"{SECRETS_DIR}/ca.crt"
        secrets.files[path] = data
        secrets.file_hashes[hashlib.sha256(data).hexdigest()] = "CA bundle"
        certs = _PEM.findall(data)
        if 0 < len(certs) <= PRIVATE_CA_MAX_CERTS:
            for cert in certs:
                secrets.needles[cert] = "CA certificate"
        for var in CA_VARS:
            secrets.env[var] = path
    if env.get("BOXWISE_BUILD_CREDENTIALS") == "none":
        return _without_credentials(secrets, env)
    netrc = Path(env["NETRC"]) if env.get("NETRC") else Path.home() / ".netrc"
    if netrc.is_file():
        data = netrc.read_bytes()
        path = f"{SECRETS_DIR}/netrc"
        secrets.files[path] = data
        secrets.file_hashes[hashlib.sha256(data).hexdigest()] = "netrc"
        secrets.env["NETRC"] = path
        for value in _netrc_secrets(data.decode("utf-8", "replace")):
            secrets.needles[value.encode()] = "netrc credential"
    for var in INDEX_VARS:
        if env.get(var):
            secrets.env[var] = env[var]
            for value in _url_secrets(env[var]):
                secrets.needles[value.encode()] = f"credential in {var}"
    secrets.needles = _with_encodings(secrets.needles)
    return secrets


def _without_credentials(secrets: BuildSecrets, env: dict[str, str]) -> BuildSecrets:
    """No netrc (an empty one hides ~/.netrc from pip) and only index settings without credentials."""
    secrets.files[f"{SECRETS_DIR}/netrc"] = b""
    secrets.env["NETRC"] = f"{SECRETS_DIR}/netrc"
    for var in INDEX_VARS:
        if env.get(var) and not _url_secrets(env[var]) and "@" not in env[var]:
            secrets.env[var] = env[var]
    secrets.needles = _with_encodings(secrets.needles)
    return secrets


def scan_layer(path: Path, secrets: BuildSecrets) -> list[str]:
    """What secret a layer tar holds: 'file X is the CA bundle', 'X contains a credential in ...'."""
    found = []
    needles = [(needle, what) for needle, what in secrets.needles.items() if len(needle) >= MIN_NEEDLE]
    with tarfile.open(path, mode="r:") as tar:
        for member in tar:
            if not member.isreg():
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            data = handle.read()
            what = secrets.file_hashes.get(hashlib.sha256(data).hexdigest())
            if what:
                found.append(f"/{member.name} is the {what} given to the build")
                continue
            for needle, label in needles:
                if needle in data:
                    found.append(f"/{member.name} contains a {label}")
    return found


def scan_config(config_bytes: bytes, secrets: BuildSecrets) -> list[str]:
    found = [
        f"the image config contains a {what}"
        for needle, what in secrets.needles.items()
        if needle in config_bytes
    ]
    found += [
        f"the image config names the build-only {var}"
        for var in (*INDEX_VARS, "NETRC")
        if f'"{var}='.encode() in config_bytes
    ]
    if SECRETS_DIR.encode() in config_bytes:
        found.append(f"the image config points into {SECRETS_DIR}")
    return found
