"""Serve a signed greeting on $PORT (default 8080) with the standard library's WSGI server."""

from __future__ import annotations

import os
from wsgiref.simple_server import make_server

from itsdangerous import URLSafeSerializer


def app(environ, start_response):
    signer = URLSafeSerializer(os.environ.get("SECRET_KEY", "not-a-secret"))
    body = f"hello from boxwise: {signer.dumps({'path': environ.get('PATH_INFO', '/')})}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    with make_server("", port, app) as server:
        print(f"listening on :{port}", flush=True)
        server.serve_forever()
