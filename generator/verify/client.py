"""HTTP to one serving endpoint: GETs for the engine's figures, chat completions (streamed or not).

Standard library ``http.client``, one connection per request, so that a load test's threads never
share one. Connection failures become :class:`Unreachable` and refused credentials
:class:`AuthRequired` (both end the run with exit 2); other HTTP errors are :class:`HttpError`
for the caller to count.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from llmplan.errors import LlmplanError

DEFAULT_TIMEOUT_S = 30.0


class Unreachable(LlmplanError):
    """The endpoint does not answer at all (DNS, refused, timed out, TLS)."""

    exit_code = 2


class AuthRequired(LlmplanError):
    exit_code = 2


class HttpError(Exception):
    def __init__(self, status: int, path: str, body: str) -> None:
        self.status = status
        self.path = path
        self.body = body
        detail = " ".join(body.split())[:200]
        super().__init__(f"HTTP {status} on {path}" + (f": {detail}" if detail else ""))


@dataclass(frozen=True)
class StreamEvent:
    """One server-sent event of a streamed completion: its arrival time and parsed JSON."""

    at: float
    data: dict[str, Any]


class Endpoint:
    """``base_url`` is the server root (``http://host:8000``; a trailing ``/v1`` is dropped)."""

    def __init__(self, base_url: str, api_key: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LlmplanError(f"--endpoint {base_url!r}: expected http://HOST[:PORT] or "
                               "https://HOST[:PORT]")
        self.url = base_url.rstrip("/")
        self.scheme = parts.scheme
        self.host = parts.hostname
        try:
            self.port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise LlmplanError(f"--endpoint {base_url!r}: the port is not a number") from None
        prefix = parts.path.rstrip("/")
        self.prefix = prefix[:-3] if prefix.endswith("/v1") else prefix
        self.api_key = api_key
        self.timeout = timeout
        # Sockets of requests in flight: the connection lets go of its socket once a response
        # that ends with the connection is under way, so they are kept here to cut them.
        self._open: dict[http.client.HTTPConnection, socket.socket] = {}
        self._lock = threading.Lock()

    # --- plumbing

    def _connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        t = timeout or self.timeout
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=t,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=t)

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"User-Agent": "llmplan-verify", "Accept": "*/*"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers | (extra or {})

    def _send(self, method: str, path: str, body: bytes | None = None,
              timeout: float | None = None) -> tuple[http.client.HTTPConnection,
                                                     http.client.HTTPResponse]:
        conn = self._connection(timeout)
        headers = self._headers({"Content-Type": "application/json"} if body else None)
        try:
            conn.request(method, self.prefix + path, body=body, headers=headers)
            if conn.sock is not None:
                with self._lock:
                    self._open[conn] = conn.sock
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self._forget(conn)
            raise Unreachable(f"endpoint {self.url}: {_reason(exc)}") from None

    def _forget(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._open.pop(conn, None)
        conn.close()

    def abort_all(self) -> None:
        """Cut every open connection (a load test's hard deadline); their readers get errors."""
        with self._lock:
            sockets = list(self._open.values())
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _check(self, path: str, status: int, body: bytes) -> None:
        if status in (401, 403):
            if self.api_key:
                raise AuthRequired(f"endpoint {self.url}: the API key was refused "
                                   f"(HTTP {status} on {path})")
            raise AuthRequired(f"endpoint {self.url} requires an API key (HTTP {status} on "
                               f"{path}): pass --api-key-env VAR naming the variable that "
                               "holds it")
        if status >= 400:
            raise HttpError(status, path, body.decode("utf-8", "replace"))

    # --- requests

    def get(self, path: str) -> str | None:
        """The body of a GET, or None when the path does not exist (404/405)."""
        conn, resp = self._send("GET", path)
        try:
            body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(f"endpoint {self.url}: {_reason(exc)} reading {path}") from None
        finally:
            self._forget(conn)
        if resp.status in (404, 405):
            return None
        self._check(path, resp.status, body)
        return body.decode("utf-8", "replace")

    def get_json(self, path: str) -> Any:
        text = self.get(path)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise HttpError(200, path, f"not JSON: {text[:100]}") from None

    def post_json(self, path: str, payload: dict[str, Any], timeout: float | None = None) -> Any:
        conn, resp = self._send("POST", path, json.dumps(payload).encode(), timeout)
        try:
            body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise HttpError(0, path, f"connection lost: {_reason(exc)}") from None
        finally:
            self._forget(conn)
        self._check(path, resp.status, body)
        try:
            return json.loads(body)
        except ValueError:
            raise HttpError(resp.status, path, f"not JSON: {body[:100]!r}") from None

    def stream(self, path: str, payload: dict[str, Any], timeout: float | None = None,
               clock: Callable[[], float] = time.perf_counter) -> Iterator[StreamEvent]:
        """Server-sent events of a streamed POST, each stamped on arrival."""
        conn, resp = self._send("POST", path, json.dumps(payload).encode(), timeout)
        try:
            if resp.status >= 400:
                self._check(path, resp.status, resp.read())
            while True:
                try:
                    line = resp.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise HttpError(0, path, f"stream broken: {_reason(exc)}") from None
                if not line:
                    raise HttpError(0, path, "the stream ended before data: [DONE]")
                text = line.decode("utf-8", "replace").strip()
                if not text.startswith("data:"):
                    continue
                data = text[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    doc = json.loads(data)
                except ValueError:
                    raise HttpError(resp.status, path, f"bad event: {data[:100]}") from None
                if isinstance(doc, dict):
                    if "error" in doc and not doc.get("choices"):
                        raise HttpError(resp.status, path, json.dumps(doc["error"])[:200])
                    yield StreamEvent(clock(), doc)
        finally:
            self._forget(conn)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host ({exc.strerror or exc})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
