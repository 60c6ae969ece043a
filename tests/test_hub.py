"""Hub loading through huggingface_hub's real code path, offline, against a cache laid out as it lays one out."""
import hashlib
import os
import shutil
import subprocess
import sys

import numpy as np

import ganlab

from .conftest import ROOT


def make_hub_cache(cache, repo_id, folder, commit="0123456789abcdef0123456789abcdef01234567"):
    """models--{org}--{name}/{blobs, refs/main, snapshots/COMMIT/<file> → ../../blobs/<sha256>}."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for f in folder.iterdir():
        sha = hashlib.sha256(f.read_bytes()).hexdigest()
        shutil.copy(f, repo / "blobs" / sha)
        os.symlink(os.path.join("..", "..", "blobs", sha), snap / f.name)
    return repo


def run_offline(code, cache):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": str(cache.parent / "hfhome")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)


def test_load_a_repo_id_from_the_offline_cache(tiny_checkpoints, tmp_path):
    cache = tmp_path / "hub"
    make_hub_cache(cache, "someone/ganlab-tiny", tiny_checkpoints / "tiny-cgan")
    import ganlab
    expected = ganlab.load(str(tiny_checkpoints / "tiny-cgan")).sample(2, seed=5, labels=3).tobytes()
    out = run_offline("import ganlab, sys; m = ganlab.load('someone/ganlab-tiny'); "
                      "sys.stdout.write(m.sample(2, seed=5, labels=3).tobytes().hex())", cache)
    assert out.returncode == 0, out.stderr
    assert bytes.fromhex(out.stdout) == expected


def test_missing_repo_offline_is_a_clear_error(tmp_path):
    cache = tmp_path / "hub"
    cache.mkdir()
    out = run_offline("import ganlab\ntry:\n ganlab.load('someone/not-cached')\nexcept ValueError as e:\n print('ERR', e)", cache)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERR") and "not in the local Hugging Face cache" in out.stdout


def test_generator_class_from_pretrained_works_on_a_folder(tiny_checkpoints):
    from ganlab.models import stylegan2
    m = stylegan2.Generator.from_pretrained(str(tiny_checkpoints / "tiny-stylegan2"))
    assert m.num_ws > 0 and not m.training


def test_the_mixins_save_pretrained_writes_a_ganlab_checkpoint(tiny_checkpoints, tmp_path):
    m = ganlab.load(str(tiny_checkpoints / "tiny-stylegan2"))
    m.save_pretrained(tmp_path / "copy")
    again = ganlab.load(str(tmp_path / "copy"))
    assert again.info["family"] == "stylegan2" and again.info["dataset"] == "mnist"
    assert np.array_equal(again.sample(2, seed=1), m.sample(2, seed=1))
