"""Misbehaving servers (issue 18): endless bodies, trickles, slow transfers, web pages with status 200, empty
and truncated first responses. Each download ends in one clear DownloadError (a CheckpointError through
``import_model``) within its bound, with nothing left in the cache, and a first download's hash is recorded only
once the file has converted. The server is a real local one, built here; no ``../shared`` needed."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

import ganlab
from ganlab import download
from ganlab.download import DownloadError
from ganlab.models import CheckpointError

from . import hostile_files as H


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


@pytest.mark.parametrize("mode, size, env, match", [a[1:] for a in H.DOWNLOAD_ATTACKS],
                         ids=[a[0] for a in H.DOWNLOAD_ATTACKS])
def test_a_misbehaving_server_ends_in_one_error_with_nothing_kept(cache, monkeypatch, mode, size, env, match):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with H.misbehaving(bytes(size), mode) as (_, url):
        refused_download(url, match, cache, 20)


def test_a_first_download_is_recorded_only_after_it_converted(cache, tmp_path):
    good = H.make("progan", tmp_path / "src").read_bytes()
    with H.misbehaving(good, mode="truncated") as (_, url):
        with pytest.raises(CheckpointError, match="weights.pth"):
            ganlab.import_model(url, tmp_path / "out", format="progan")
        assert url not in download.recorded_hashes() and left_in(cache) == []    # not poisoned, nothing kept
    assert not (tmp_path / "out").exists()
    with H.misbehaving(good) as (srv, _):
        url2 = url.rsplit(":", 1)[0] + f":{srv.server_address[1]}/weights.pth"
        out = ganlab.import_model(url2, tmp_path / "out", format="progan")    # the real file is accepted
        assert ganlab.load(str(out)).sample(1, seed=0).shape == (1, 8, 8, 3)
        assert download.recorded_hashes()[url2]["size"] == len(good)           # and now recorded


def test_the_command_line_reports_a_stall_in_one_line(cache, monkeypatch, tmp_path, capsys):
    from ganlab import cli
    monkeypatch.setenv("GANLAB_STALL_TIMEOUT", "1")
    with H.misbehaving(bytes(1000), mode="trickle") as (_, url):
        assert cli.main(["import", url, "--out", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err                 # the progress bar's lines, then the error in one line
    errors = [ln for ln in err.splitlines() if "error" in ln]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "stalled" in errors[0]
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists() and left_in(cache) == []
