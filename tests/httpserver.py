"""A scriptable HTTP server on 127.0.0.1 for tests of anything that downloads.

Use the `http_server` fixture (registered in tests/conftest.py):

    def test_x(http_server, tmp_path):
        url = http_server.serve("/a.tar.gz", b"bytes", fail=[503])   # one 503, then the file
        ...
        assert len(http_server.hits("/a.tar.gz")) == 2

Each served path can misbehave in the ways real mirrors do: answer given statuses
first, drop the connection part-way through a body, stall before a body, ignore
Range requests, omit Content-Length. Unknown paths answer 404. Every request is
recorded (path, Range header, status sent).
"""
from __future__ import annotations

import dataclasses
import http.server
import threading
import time

import pytest


@dataclasses.dataclass
class Resource:
    data: bytes
    fail: list[int] = dataclasses.field(default_factory=list)  # statuses sent first, one per request
    drop_after: int | None = None  # close the connection after this many body bytes ...
    drops: int = 0  # ... in this many responses
    stall: float = 0.0  # sleep this long before the body ...
    stalls: int = 0  # ... in this many responses
    honour_range: bool = True
    send_length: bool = True
    etag: str | None = None
    token: str | None = None  # answer 401 unless "Authorization: Bearer <token>" is sent


@dataclasses.dataclass
class Hit:
    path: str
    range: str | None
    if_range: str | None
    status: int
    authorization: str | None = None


class FixtureServer:
    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.log: list[Hit] = []
        self._guard = threading.Lock()
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control
    def start(self) -> "FixtureServer":
        handler = type("Handler", (_Handler,), {"fixture": self})
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # a stalled handler must not hold up stop()
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: later connections are refused."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, data: bytes, **behaviour) -> str:
        """Serve `data` at `path` (replacing what was there); return its URL."""
        with self._guard:
            self.resources[path] = Resource(data, **behaviour)
        return self.url(path)

    def hits(self, path: str) -> list[Hit]:
        with self._guard:
            return [h for h in self.log if h.path == path]

    # -- used by the handler
    def _plan(self, path: str, range_header: str | None, if_range: str | None, authorization: str | None = None):
        """Decide, atomically, how to answer one request."""
        with self._guard:
            res = self.resources.get(path)
            plan = {"res": res, "status": 404, "fail": False, "drop": None, "stall": 0.0}
            if res is not None:
                if res.token is not None and authorization != f"Bearer {res.token}":
                    plan.update(status=401, fail=True)
                elif res.fail:
                    plan.update(status=res.fail.pop(0), fail=True)
                else:
                    plan["status"] = 200
                    if res.drops > 0 and res.drop_after is not None:
                        res.drops -= 1
                        plan["drop"] = res.drop_after
                    if res.stalls > 0:
                        res.stalls -= 1
                        plan["stall"] = res.stall
            plan["hit"] = Hit(path, range_header, if_range, plan["status"], authorization)
            self.log.append(plan["hit"])
            return plan


class _Handler(http.server.BaseHTTPRequestHandler):
    fixture: FixtureServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        range_header = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        plan = self.fixture._plan(self.path, range_header, if_range, self.headers.get("Authorization"))
        res: Resource | None = plan["res"]
        if res is None or plan["fail"]:
            body = f"status {plan['status']}\n".encode()
            self.send_response(plan["status"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        data, start, status = res.data, 0, 200
        if range_header and res.honour_range and (if_range is None or if_range == res.etag):
            first = int(range_header.removeprefix("bytes=").split("-")[0])
            if first >= len(data):
                self._sent(plan, 416)
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start, status = first, 206
        body = data[start:]
        self._sent(plan, status)
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        if res.send_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.close_connection = True  # the end of the body is the end of the connection
            self.send_header("Connection", "close")
        if res.etag:
            self.send_header("ETag", res.etag)
        self.end_headers()
        if plan["stall"]:
            time.sleep(plan["stall"])
        if plan["drop"] is not None:
            self.wfile.write(body[: plan["drop"]])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def _sent(self, plan: dict, status: int) -> None:
        with self.fixture._guard:
            plan["hit"].status = status  # refine the planned 200 to what was sent


@pytest.fixture
def http_server():
    """A FixtureServer listening on 127.0.0.1 for the duration of one test."""
    server = FixtureServer().start()
    try:
        yield server
    finally:
        server.stop()
