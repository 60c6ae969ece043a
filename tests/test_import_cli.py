"""`python -m ganlab import URL` for real: a subprocess downloads an upstream file from a local HTTP server (the
path a user with internet takes), converts it, and the result renders exactly as a local import does; offline
(a closed port) it is one line and exit code 2, with nothing left behind."""
import os
import subprocess
import sys

import pytest
import torch

import ganlab

from .conftest import ROOT, free_port
from .http_fixtures import serve
from .importer_fixtures import FIXTURES

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures not present")


def run_cli(*args, env):
    return subprocess.run([sys.executable, "-m", "ganlab", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


@pytest.mark.slow
def test_cli_imports_a_url_through_the_download_path(tmp_path):
    env = {**os.environ, "GANLAB_CACHE": str(tmp_path / "cache"), "GANLAB_MODELS_DIR": str(tmp_path / "models")}
    with serve(FIXTURES) as srv:
        url = srv.url("stylegan2-ada/rgb32.pkl")
        r = run_cli("import", url, "--out", str(tmp_path / "from-url"), env=env)
        assert r.returncode == 0, r.stderr
        assert any(rel == "stylegan2-ada/rgb32.pkl" for rel, _ in srv.requests)
    local = tmp_path / "from-file"
    ganlab.import_model(FIXTURES / "stylegan2-ada" / "rgb32.pkl", local)
    a, b = ganlab.load(str(tmp_path / "from-url")), ganlab.load(str(local))
    z = a.latents(2, seed=3)
    assert torch.equal(a.generate(z, truncation=0.7), b.generate(z, truncation=0.7))
    assert a.info["source"]["origin"] == url and a.info["source"]["sha256"] == b.info["source"]["sha256"]


@pytest.mark.slow
def test_cli_import_offline_is_one_line_and_leaves_nothing(tmp_path):
    env = {**os.environ, "GANLAB_CACHE": str(tmp_path / "cache"), "GANLAB_MODELS_DIR": str(tmp_path / "models")}
    r = run_cli("import", f"http://127.0.0.1:{free_port()}/ffhq.pkl", "--out", str(tmp_path / "m"), env=env)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "cannot reach" in r.stderr
    assert not (tmp_path / "m").exists()
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.name != "hashes.json"] \
        if (tmp_path / "cache").exists() else []
    assert leftovers == []
