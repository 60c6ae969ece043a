"""Misbehaving servers (issue 18): endless bodies, trickles, slow transfers, web pages with status 200, empty
and truncated first responses. Each download ends in one clear DownloadError (a CheckpointError through
``import_model``) within its bound, with nothing left in the cache, and a first download's hash is recorded only
once the file has converted. The server is a real local one, built here; no ``../shared`` needed."""
from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import ganlab
from ganlab import download
from ganlab.download import DownloadError
from ganlab.models import CheckpointError

from . import hostile_files as H


class Misbehaving(BaseHTTPRequestHandler):
    """Serves ``server.body`` the way ``server.mode`` says."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv, body = self.server, self.server.body
        mode = srv.mode
        try:
            self.send_response(200)
            if mode == "html":
                body = b"<!doctype html><html><body>Please log in</body></html>"
                self.send_header("Content-Type", "text/html; charset=utf-8")
            else:
                self.send_header("Content-Type", "application/octet-stream")
            if mode in ("whole", "html", "empty", "slow"):
                body = b"" if mode == "empty" else body
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if mode == "endless":                      # no length, never stops
                while not srv.stop.is_set():
                    self.wfile.write(bytes(1 << 16))
            elif mode == "trickle":                    # a byte now and then: never idle long enough to time out
                for b in body:
                    if srv.stop.wait(0.2):
                        break
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
            elif mode == "slow":                       # fast enough not to stall, too slow to finish in time
                for i in range(0, len(body), 80 << 10):
                    if srv.stop.wait(0.1):
                        break
                    self.wfile.write(body[i:i + (80 << 10)])
            elif mode == "truncated":                  # no length, half the file, then the connection closes
                self.wfile.write(body[: len(body) // 2])
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextlib.contextmanager
def misbehaving(body: bytes = b"", mode: str = "whole"):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    srv.daemon_threads = True
    srv.body, srv.mode, srv.stop = body, mode, threading.Event()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv, f"http://127.0.0.1:{srv.server_address[1]}/weights.pth"
    finally:
        srv.stop.set()
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GANLAB_TIMEOUT", "5")
    return tmp_path / "cache"


def left_in(cache: Path) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def refused_download(url: str, match: str, cache: Path, seconds: float) -> str:
    t = time.perf_counter()
    with pytest.raises(DownloadError, match=match) as e:
        download.fetch(url, retries=0)
    assert time.perf_counter() - t < seconds
    assert "\n" not in str(e.value) and left_in(cache) == []
    return str(e.value)


def test_a_server_that_never_stops_sending_is_cut_at_the_size_cap(cache, monkeypatch):
    monkeypatch.setenv("GANLAB_MAX_DOWNLOAD_MB", "2")
    with misbehaving(mode="endless") as (_, url):
        refused_download(url, r"more than 2\.1 MB received", cache, 20)


def test_a_declared_length_beyond_the_cap_is_refused_before_reading(cache, monkeypatch):
    monkeypatch.setenv("GANLAB_MAX_DOWNLOAD_MB", "0.01")
    with misbehaving(bytes(100_000)) as (_, url):
        refused_download(url, "offers 0.1 MB, more than", cache, 10)


def test_a_trickling_server_is_a_stall(cache, monkeypatch):
    monkeypatch.setenv("GANLAB_STALL_TIMEOUT", "1")
    with misbehaving(bytes(1000), mode="trickle") as (_, url):
        refused_download(url, "stalled", cache, 10)


def test_a_transfer_that_takes_too_long_hits_the_overall_timeout(cache, monkeypatch):
    monkeypatch.setenv("GANLAB_DOWNLOAD_TIMEOUT", "1")
    with misbehaving(bytes(8 << 20), mode="slow") as (_, url):
        refused_download(url, "took more than 1 s", cache, 10)


def test_a_web_page_and_an_empty_body_are_refused(cache):
    with misbehaving(mode="html") as (_, url):
        refused_download(url, "web page", cache, 10)
    with misbehaving(mode="empty") as (_, url):
        refused_download(url, "empty", cache, 10)


def test_a_first_download_is_recorded_only_after_it_converted(cache, tmp_path):
    good = H.make("progan", tmp_path / "src").read_bytes()
    with misbehaving(good, mode="truncated") as (_, url):
        with pytest.raises(CheckpointError, match="weights.pth"):
            ganlab.import_model(url, tmp_path / "out", format="progan")
        assert url not in download.recorded_hashes() and left_in(cache) == []    # not poisoned, nothing kept
    assert not (tmp_path / "out").exists()
    with misbehaving(good) as (srv, _):
        url2 = url.rsplit(":", 1)[0] + f":{srv.server_address[1]}/weights.pth"
        out = ganlab.import_model(url2, tmp_path / "out", format="progan")    # the real file is accepted
        assert ganlab.load(str(out)).sample(1, seed=0).shape == (1, 8, 8, 3)
        assert download.recorded_hashes()[url2]["size"] == len(good)           # and now recorded


def test_the_command_line_reports_a_stall_in_one_line(cache, monkeypatch, tmp_path, capsys):
    from ganlab import cli
    monkeypatch.setenv("GANLAB_STALL_TIMEOUT", "1")
    with misbehaving(bytes(1000), mode="trickle") as (_, url):
        assert cli.main(["import", url, "--out", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err                 # the progress bar's lines, then the error in one line
    errors = [ln for ln in err.splitlines() if "error" in ln]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "stalled" in errors[0]
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists() and left_in(cache) == []
