"""A small web app: GET / answers which of its dependencies the image holds (stdlib only)."""

import http.server
import importlib.util
import os

WANTED = ("six", "colorama", "greet")


def installed() -> str:
    return " ".join(f"{name}={'yes' if importlib.util.find_spec(name) else 'no'}" for name in WANTED)


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = installed().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    http.server.HTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Hello).serve_forever()


if __name__ == "__main__":
    main()
