"""A small token server for distribution's `auth: token` mode: RS256 JWTs signed with openssl.

It answers `GET /token?service=&scope=` the way Docker Hub's and GitLab's do: with Basic
credentials matching USER/PASSWORD it grants the scopes asked for (only pull on a repository
named *readonly*), and so it does for a POST with the right refresh token (OAuth2, as for an
`identitytoken`); anonymous callers get a token that grants nothing. Every request is recorded
(the scopes asked, whether the right credentials came).
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from support.serving import serving_thread

ISSUER = "boxwise-test-issuer"
SERVICE = "boxwise-test-registry"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_key(folder: Path) -> tuple[Path, Path]:
    """A self-signed RSA certificate (the registry's rootcertbundle) and its key."""
    key, cert = folder / "token.key", folder / "token.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=boxwise-test-token"],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


class TokenServer:
    def __init__(self, key: Path, cert: Path, user: str, password: str) -> None:
        self.key = key
        der = subprocess.run(
            ["openssl", "x509", "-in", str(cert), "-outform", "DER"], check=True, capture_output=True
        ).stdout
        self.x5c = base64.b64encode(der).decode()
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.refresh_token = "refresh-" + password  # what `docker login` keeps as identitytoken
        self.seen: list[tuple[list[str], bool]] = []  # (scopes asked, credentials right)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = serving_thread(self.server)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def _sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(), check=True, capture_output=True,
        ).stdout  # fmt: skip
        return f"{signing_input}.{_b64url(signature)}"

    def token(self, scopes: list[str], granted: bool) -> str:
        access = []
        for scope in scopes if granted else []:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            allowed = ["pull"] if "readonly" in name else actions.split(",")  # pull only, as a guest
            access.append({"type": kind, "name": name, "actions": allowed})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": "boxwise-ci" if granted else "", "aud": SERVICE, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}  # fmt: skip
        return self._sign(claims)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # a body written apart from its headers goes out at once

            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                authorization = self.headers.get("Authorization")
                if authorization is not None and authorization != owner.expected:
                    owner.seen.append((query.get("scope", []), False))  # before the answer: see fakeapi
                    self.send_response(401)
                    self.end_headers()
                    return
                granted = authorization == owner.expected
                owner.seen.append((query.get("scope", []), granted))
                body = json.dumps({"token": owner.token(query.get("scope", []), granted), "expires_in": 300})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                scopes = " ".join(form.get("scope", [])).split()
                granted = form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") == [
                    owner.refresh_token
                ]
                owner.seen.append((scopes, granted))
                if not granted:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"access_token": owner.token(scopes, True), "expires_in": 300})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def __enter__(self) -> TokenServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
