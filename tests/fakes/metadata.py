"""Fakes of the instance metadata servers the node check publishes through, on 127.0.0.1.

AWS IMDSv2: ``PUT /latest/api/token`` (with ``X-aws-ec2-metadata-token-ttl-seconds``) returns a
session token that every ``GET /latest/meta-data/...`` must carry in ``X-aws-ec2-metadata-token``
(401 without it, as IMDSv2-only instances answer). GCE: ``PUT
/computeMetadata/v1/instance/guest-attributes/NAMESPACE/KEY`` needs ``Metadata-Flavor: Google``
(403 without). Both record what they were sent (header names in lower case).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "AQAEAFake-imds-token=="


class FakeMetadata:
    def __init__(self, instance_id: str = "i-0123456789abcdef0",
                 region: str = "us-east-1") -> None:
        self.instance_id = instance_id
        self.region = region
        self.calls: list[tuple[str, str, dict[str, str], bytes]] = []
        self.guest_attributes: dict[str, str] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.calls.append((self.command, self.path,
                                   {k.lower(): v for k, v in self.headers.items()}, body))
                status, payload = fake.answer(self.command, self.path, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeMetadata:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, bytes]:
        if path == "/latest/api/token" and method == "PUT":
            if not headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return 400, b""
            return 200, TOKEN.encode()
        if path.startswith("/latest/meta-data/"):
            if headers.get("X-aws-ec2-metadata-token") != TOKEN:
                return 401, b""
            item = path.removeprefix("/latest/meta-data/")
            values = {"instance-id": self.instance_id, "placement/region": self.region}
            return (200, values[item].encode()) if item in values else (404, b"")
        prefix = "/computeMetadata/v1/instance/guest-attributes/"
        if path.startswith(prefix) and method == "PUT":
            if headers.get("Metadata-Flavor") != "Google":
                return 403, b""
            self.guest_attributes[path.removeprefix(prefix)] = body.decode()
            return 200, b""
        return 404, b""
