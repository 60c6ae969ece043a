"""Local servers for the tests and the benchmark scripts (``bench/`` imports this module too).

- ``serve(folder)``: a real HTTP server for downloads: serves a folder with HTTP Range support, logs every
  request, can cut a file's first transfer short (as a dropped connection does) and throttle its responses.
  Threaded, 127.0.0.1, random port.
- ``free_port()``: a free loopback port; ``refused_url()``: a URL whose port nobody listens on.
- ``wait_import(client, name)``: waits until the app (through gradio_client) reports an import ready or failed.
- ``stop_process(proc)``: stops a server started as a subprocess (SIGTERM, then SIGKILL if it lingers).
"""
from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHUNK = 1 << 16


class _Handler(BaseHTTPRequestHandler):
    server: "FixtureServer"

    def log_message(self, *args):          # quiet tests
        pass

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    def _serve(self, head: bool):
        rel = unquote(urlsplit(self.path).path).lstrip("/")
        srv = self.server
        with srv.lock:
            srv.requests.append((rel, self.headers.get("Range")))
        path = (srv.root / rel).resolve()
        if srv.root not in path.parents or not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        total, start, status = len(data), 0, 200
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        if m and srv.ranges:
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else total - 1
            if start >= total:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{total}")
                self.end_headers()
                return
            data, status = data[start:end + 1], 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{start + len(data) - 1}/{total}")
        self.end_headers()
        if head:
            return
        with srv.lock:
            cut = srv.cut.pop(rel, None) if rel in srv.cut else None
            if rel in srv.cut_always:
                cut = srv.cut_always[rel]
        if cut is not None:                       # send part of the body, then drop the connection
            self.wfile.write(data[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if not srv.rate:
            self.wfile.write(data)
            return
        start = time.perf_counter()
        for i in range(0, len(data), CHUNK):                # at most srv.rate MB/s
            self.wfile.write(data[i:i + CHUNK])
            time.sleep(max(0.0, start + (i + CHUNK) / (srv.rate * 1e6) - time.perf_counter()))


class FixtureServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = Path(root).resolve()
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str | None]] = []
        self.cut: dict[str, int] = {}          # rel path → bytes sent before the FIRST transfer is cut
        self.cut_always: dict[str, int] = {}   # rel path → bytes sent before EVERY transfer is cut
        self.ranges = True                     # False: ignore Range headers (always 200 with the whole file)
        self.rate = 0.0                        # > 0: send each response at most this many MB/s

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):   # a client that hangs up early (a refused size)
            super().handle_error(request, client_address)        # is part of the tests, not a fault

    def url(self, rel: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{rel}"


@contextlib.contextmanager
def serve(root: Path):
    srv = FixtureServer(root)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused_url(name: str = "ffhq.pkl") -> str:
    """An http URL on a loopback port that was free a moment ago: connecting to it is refused."""
    return f"http://127.0.0.1:{free_port()}/{name}"


def wait_import(client, name: str, timeout: float = 120) -> str:
    """Poll the app's ``/import_status`` (a gradio_client ``client``) until the import called ``name`` is ready or
    failed; returns its state text ("ready" or "failed: ..."). TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, status = client.predict(api_name="/import_status")
        row = next((r for r in status["data"] if r[0] == name), None)
        if row and (row[2] == "ready" or row[2].startswith("failed")):
            return row[2]
        time.sleep(0.5)
    raise TimeoutError(f"{name} not ready after {timeout:g} s")


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    """Stop ``proc`` (e.g. ``python app.py``): SIGTERM, and SIGKILL if it has not exited after ``timeout`` s."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
