"""Run the prediction API locally on the standard library's HTTP server.

BH_PRICING_MODEL_URI=<bundle root> python -m bh_pricing.serving.local --port 8080
curl -s localhost:8080/predict -d '{"neighborhood": "Savassi", "square_foot": 90, "rooms": 3}'
"""

from __future__ import annotations

import argparse
import atexit
import logging
import signal
import sys
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

from bh_pricing.serving.api import JSON_HEADERS, MAX_BODY_BYTES, App, Response, error
from bh_pricing.serving.handler import get_app
from bh_pricing.serving.schemas import FieldProblem


class _Handler(BaseHTTPRequestHandler):
    app: App
    server_version = "bh-pricing"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def do_PATCH(self) -> None:
        self._answer()

    def _answer(self) -> None:
        request_id = uuid.uuid4().hex
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            problem = FieldProblem(field="Content-Length", problem=f"must be 0..{MAX_BODY_BYTES}")
            self._send(error(413 if length > 0 else 400, "bad Content-Length", [problem]))
            return
        body = self.rfile.read(length) if length else None
        path = self.path.split("?", 1)[0]
        self._send(self.app.handle(self.command, path, body, request_id))
        self.app.end_invocation()

    def _send(self, response: Response) -> None:
        payload = response.json_body().encode()
        self.send_response(response.status)
        for name, value in {**JSON_HEADERS, **response.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def serve(host: str = "127.0.0.1", port: int = 8080) -> HTTPServer:
    """A one-request-at-a-time server (like a Lambda container) on ``host:port``, not started.

    The prediction log is flushed when due after each request and once more at interpreter exit.
    """
    app = get_app()
    atexit.register(app.close)
    handler = type("Handler", (_Handler,), {"app": app})
    return HTTPServer((host, port), handler)


def main(argv: list[str] | None = None) -> None:
    """Parse ``--host``/``--port`` and serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = serve(args.host, args.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    status = server.RequestHandlerClass.app.handle("GET", "/health", None).body
    logging.info("serving on http://%s:%d (model: %s)", args.host, args.port, status["model"])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logging.info("stopped")
    finally:
        server.server_close()
        server.RequestHandlerClass.app.close()


if __name__ == "__main__":
    main()
