"""A tiny HTTP backend for the DNS controller example: ``/healthz`` answers 200 ``ok``.

    python backend.py --name a --host 127.0.0.2 --port 8080

Run as its own process (standard library only), so that killing it is a real crash:
connections are refused at once and the controller's HTTP probe fails.  ``/`` says which
backend answered, so ``curl http://$(dig +short ...):PORT/`` shows where the record points.
"""

from __future__ import annotations

import argparse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def handler_for(name: str) -> type[BaseHTTPRequestHandler]:
    class Backend(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"ok\n" if self.path == "/healthz" else f"hello from backend {name}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # one probe a second would flood the log
            pass

    return Backend


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    with ThreadingHTTPServer((args.host, args.port), handler_for(args.name)) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
