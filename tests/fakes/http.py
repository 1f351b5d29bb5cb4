"""A tiny threaded HTTP server on 127.0.0.1 with scripted faults, shared by the fakes."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Response = tuple[int, dict[str, str], bytes]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake = self.server.fake
        with fake.lock:
            fake.requests.append((self.command, self.path, dict(self.headers), body))
        status, headers, payload = fake.dispatch(self.command, self.path, self.headers, body)
        if status == 0:  # drop the connection without an answer
            self.close_connection = True
            return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer


class FakeServer:
    """Subclasses implement ``handle``; ``fault(route, kind, ...)`` scripts failures per route."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.fake = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fault(self, route: str, *kinds: str) -> None:
        """Queue faults for the next requests on ``route`` ("*" for any), one each."""
        with self.lock:
            self.faults[route].extend(kinds)

    def take_fault(self, route: str) -> str | None:
        with self.lock:
            for key in (route, "*"):
                if self.faults[key]:
                    return self.faults[key].popleft()
        return None

    def count(self, needle: str) -> int:
        """How many requests mention ``needle`` in their path or body."""
        with self.lock:
            return sum(1 for _m, path, _h, body in self.requests
                       if needle in path or needle.encode() in body)

    def dispatch(self, method: str, path: str, headers: Any, body: bytes) -> Response:
        try:
            return self.handle(method, path, headers, body)
        except Exception as exc:  # noqa: BLE001 - a broken fake must show up as a 599, not hang
            return 599, {"Content-Type": "text/plain"}, f"fake error: {exc!r}".encode()

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Response:
        raise NotImplementedError


def query(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query, keep_blank_values=True)


def truncated(payload: bytes) -> bytes:
    """A body cut in half, as a dropped connection or a proxy time-out leaves it."""
    return payload[: max(1, len(payload) // 2)]
