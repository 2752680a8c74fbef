"""An OpenAI-compatible HTTP endpoint on the standard library's ``http.server``.

Routes: ``GET /v1/models``, ``GET /health``, ``POST /v1/chat/completions``, ``POST
/v1/completions`` (``stream: true`` answers Server-Sent Events ending with ``data: [DONE]``).
Errors are OpenAI-shaped JSON (``{"error": {"message", "type"}}``) with status 400/404/500.
Requests are answered one at a time (a lock around the model), which is what one CPU model
can do anyway; a GPU deployment uses vLLM instead. The standard library is used because no
ASGI framework is a hanforge dependency and this server must run in CI.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY_BYTES = 1 << 20


class _Handler(BaseHTTPRequestHandler):
    """One request of :func:`make_server`'s server: the backend, lock and log live on ``self.server``."""

    protocol_version = "HTTP/1.1"
    server_version = "hanforge-serve"

    def log_message(self, fmt, *args):
        if self.server.log:
            self.server.log(f"{self.address_string()} {fmt % args}")

    def _json(self, status: int, obj: dict) -> None:
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        self._json(status, {"error": {"message": message, "type": kind, "code": status}})

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": self.server.backend.name,
                            "object": "model",
                            "created": self.server.created,
                            "owned_by": "hanforge",
                        }
                    ],
                },
            )
        elif self.path.rstrip("/") in ("/health", "/v1/health"):
            self._json(200, {"status": "ok"})
        else:
            self._error(404, f"no route {self.path}", "not_found")

    def do_POST(self) -> None:
        route = self.path.rstrip("/")
        if route not in ("/v1/chat/completions", "/v1/completions"):
            self._error(404, f"no route {self.path}", "not_found")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY_BYTES:
            self._error(400, f"request body must be 1..{MAX_BODY_BYTES} bytes of JSON")
            return
        try:
            body = json.loads(self.rfile.read(length))
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            self._error(400, f"bad JSON: {exc}")
            return
        with self.server.lock:
            try:
                backend = self.server.backend
                fn = backend.chat_completion if route == "/v1/chat/completions" else backend.completion
                result = fn(body)
                if isinstance(result, dict):
                    self._json(200, result)
                else:
                    self._sse(result)
            except ValueError as exc:
                self._error(400, str(exc))
            except Exception as exc:  # a failed generation answers 500; the server keeps running  # noqa: BLE001 - one bad item is reported, never a crash of the whole job
                self._error(500, f"{type(exc).__name__}: {exc}", "server_error")

    def _sse(self, chunks) -> None:
        first = next(chunks)  # errors in the request surface before the 200 is sent
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for chunk in _chain(first, chunks):
            self.wfile.write(b"data: " + json.dumps(chunk, ensure_ascii=False).encode("utf-8") + b"\n\n")
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def make_server(backend, *, host: str = "127.0.0.1", port: int = 8000, log=None) -> ThreadingHTTPServer:
    """An HTTP server for ``backend`` bound to ``host:port`` (port 0: an ephemeral one); not started."""
    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    server.backend = backend  # type: ignore[attr-defined]
    server.lock = threading.Lock()  # type: ignore[attr-defined]  # one generation at a time
    server.created = int(time.time())  # type: ignore[attr-defined]
    server.log = log  # type: ignore[attr-defined]
    return server


def _chain(first, rest):
    yield first
    yield from rest
