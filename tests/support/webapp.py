"""The smallest real web app: what the tests' apps run, so the smoke check sees it answer."""

from __future__ import annotations


def serve_main(greeting: str) -> str:
    """A `__main__.py` that answers `greeting` on 0.0.0.0:$PORT (and prints it, for `docker run`)."""
    return (
        "import http.server, os\n"
        f"print({greeting!r}, flush=True)\n"
        "class Hello(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        f"        body = {greeting!r}.encode() + b'\\n'\n"
        "        self.send_response(200)\n"
        "        self.send_header('Content-Length', str(len(body)))\n"
        "        self.end_headers()\n"
        "        self.wfile.write(body)\n"
        "if 'PORT' in os.environ:\n"
        "    http.server.HTTPServer(('0.0.0.0', int(os.environ['PORT'])), Hello).serve_forever()\n"
    )
