"""`python -m ganlab import URL` for real: a subprocess downloads an NVIDIA-layout pickle (written by the test)
from a local HTTP server (the path a user with internet takes), converts it, and the result renders exactly as a local import does; offline
(a closed port) it is one line and exit code 2, with nothing left behind."""
import os
import subprocess
import sys

import pytest
import torch

import ganlab

from .conftest import ROOT
from .http_fixtures import refused_url, serve
from .made_files import nvidia_pickle


def run_cli(*args, env):
    return subprocess.run([sys.executable, "-m", "ganlab", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


@pytest.mark.slow
def test_cli_imports_a_url_through_the_download_path(tmp_path):
    env = {**os.environ, "GANLAB_CACHE": str(tmp_path / "cache"), "GANLAB_MODELS_DIR": str(tmp_path / "models")}
    (tmp_path / "www").mkdir()
    pkl = nvidia_pickle(tmp_path / "www" / "rgb32.pkl")
    with serve(tmp_path / "www") as srv:
        url = srv.url("rgb32.pkl")
        r = run_cli("import", url, "--out", str(tmp_path / "from-url"), env=env)
        assert r.returncode == 0, r.stderr
        assert any(rel == "rgb32.pkl" for rel, _ in srv.requests)
    local = tmp_path / "from-file"
    ganlab.import_model(pkl, local)
    a, b = ganlab.load(str(tmp_path / "from-url")), ganlab.load(str(local))
    z = a.latents(2, seed=3)
    assert torch.equal(a.generate(z, truncation=0.7), b.generate(z, truncation=0.7))
    assert a.info["source"]["origin"] == url and a.info["source"]["sha256"] == b.info["source"]["sha256"]


@pytest.mark.slow
def test_cli_import_offline_is_one_line_and_leaves_nothing(tmp_path):
    env = {**os.environ, "GANLAB_CACHE": str(tmp_path / "cache"), "GANLAB_MODELS_DIR": str(tmp_path / "models")}
    r = run_cli("import", refused_url(), "--out", str(tmp_path / "m"), env=env)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "cannot reach" in r.stderr
    assert not (tmp_path / "m").exists()
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.name != "hashes.json"] \
        if (tmp_path / "cache").exists() else []
    assert leftovers == []
