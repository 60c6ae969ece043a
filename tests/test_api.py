"""The public API contract: load, sample, latents, generate, and every bad input's error."""
import hashlib
import json
import shutil
import subprocess
import sys

import pytest
import torch

import ganlab
from ganlab import checkpoint
from ganlab.models import FAMILIES, MAX_SAMPLES, CheckpointError

from .conftest import ROOT


def test_sample_is_deterministic_and_matches_latents(tiny_checkpoints):
    m = ganlab.load(str(tiny_checkpoints / "tiny-dcgan"))
    state = torch.get_rng_state()
    a, b = m.sample(6, seed=11), m.sample(6, seed=11)
    assert (a == b).all() and not (a == m.sample(6, seed=12)).all()
    assert torch.equal(torch.get_rng_state(), state)  # no global RNG touched
    z = m.latents(6, seed=11)
    from ganlab.models.base import to_uint8
    assert (to_uint8(m.generate(z)) == a).all()


@pytest.mark.slow
def test_same_seed_same_bytes_in_another_process(tiny_checkpoints):
    path = str(tiny_checkpoints / "tiny-stylegan2")
    here = hashlib.sha256(ganlab.load(path).sample(4, seed=3).tobytes()).hexdigest()
    code = f"import ganlab, hashlib; print(hashlib.sha256(ganlab.load({path!r}).sample(4, seed=3).tobytes()).hexdigest())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == here


def test_labels_int_or_list(tiny_checkpoints):
    m = ganlab.load(str(tiny_checkpoints / "tiny-cgan"))
    assert (m.sample(3, seed=0, labels=4) == m.sample(3, seed=0, labels=[4, 4, 4])).all()
    assert m.sample(2, seed=0).shape == (2, 28, 28, 1)  # random classes from the seed


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "between 1 and"),
    ({"n": MAX_SAMPLES + 1}, "between 1 and"),
    ({"n": 2.5}, "whole number"),
    ({"n": 2, "truncation": float("nan")}, "finite"),
    ({"n": 2, "truncation": float("inf")}, "finite"),
    ({"n": 2, "labels": 3}, "unconditional"),
    ({"n": 2, "seed": -1}, "seed"),
])
def test_bad_sample_arguments_raise_clear_errors(tiny_checkpoints, kwargs, message):
    m = ganlab.load(str(tiny_checkpoints / "tiny-mlp"))
    with pytest.raises(ValueError, match=message):
        m.sample(**kwargs)


@pytest.mark.parametrize("labels, message", [(10, "out of range"), (-1, "out of range"), ([1, 2, 3], "3 labels"),
                                             (1.5, "int"), (None, "needs class labels")])
def test_bad_labels_on_a_conditional_model(tiny_checkpoints, labels, message):
    m = ganlab.load(str(tiny_checkpoints / "tiny-cgan"))
    with pytest.raises(ValueError, match=message):
        m.generate(m.latents(2), labels)


def test_bad_latents(tiny_checkpoints):
    m = ganlab.load(str(tiny_checkpoints / "tiny-mlp"))
    with pytest.raises(ValueError, match="shape"):
        m.generate(torch.zeros(2, m.z_dim + 1))
    with pytest.raises(ValueError, match="NaN"):
        m.generate(torch.full((1, m.z_dim), float("nan")))


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc", "no-such-model", "", "   ", "a/b/c", "..",
                                  "<script>alert(1)</script>"])
def test_bad_model_names_fail_cleanly(name):
    with pytest.raises(ValueError):
        ganlab.load(name)


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown model"):
        ganlab.load("nonexistent-model")


def broken_copy(tiny_checkpoints, tmp_path, name="tiny-dcgan"):
    dst = tmp_path / "broken"
    shutil.copytree(tiny_checkpoints / name, dst)
    return dst


def test_missing_weights_file(tiny_checkpoints, tmp_path):
    d = broken_copy(tiny_checkpoints, tmp_path)
    (d / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model.safetensors.*not found"):
        ganlab.load(str(d))


def test_truncated_weights_file(tiny_checkpoints, tmp_path):
    d = broken_copy(tiny_checkpoints, tmp_path)
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors.*not a valid safetensors"):
        ganlab.load(str(d))


def test_check_weights_reads_the_header(tiny_checkpoints, tmp_path):
    """The registry's cheap look at a weights file: a whole file passes; cut, padded or foreign bytes say why."""
    d = broken_copy(tiny_checkpoints, tmp_path)
    w = d / "model.safetensors"
    assert checkpoint.check_weights(w) == ""
    data = w.read_bytes()
    for bad in (data[:-4], data + b"\0" * 4, b"\x80\x04not safetensors at all", b""):
        w.write_bytes(bad)
        assert checkpoint.check_weights(w).startswith("model.safetensors is not a valid safetensors file")


def test_pickle_named_like_weights_is_never_unpickled(tiny_checkpoints, tmp_path):
    d = broken_copy(tiny_checkpoints, tmp_path)
    marker = tmp_path / "pwned"
    import pickle

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    (d / "model.safetensors").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError):
        ganlab.load(str(d))
    (d / "model.safetensors").unlink()
    (d / "pytorch_model.bin").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="not found"):
        ganlab.load(str(d))
    assert not marker.exists()


def test_wrong_shapes_in_config(tiny_checkpoints, tmp_path):
    d = broken_copy(tiny_checkpoints, tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    cfg["config"]["g_fc"] = 32
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="shape"):
        ganlab.load(str(d))


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(family="biggan"), "unknown family"),
    (lambda c: c.update(format_version=99), "format_version"),
    (lambda c: c["config"].update(bogus=1), "unknown"),
])
def test_bad_config(tiny_checkpoints, tmp_path, edit, message):
    d = broken_copy(tiny_checkpoints, tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    edit(cfg)
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=message):
        ganlab.load(str(d))


def test_corrupt_config_json(tiny_checkpoints, tmp_path):
    d = broken_copy(tiny_checkpoints, tmp_path)
    (d / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json.*JSON"):
        ganlab.load(str(d))


def test_list_models_lists_generators_only(tiny_checkpoints, tmp_path):
    root = tmp_path / "ck"
    shutil.copytree(tiny_checkpoints, root)
    (root / "classifiers" / "mnist").mkdir(parents=True)
    (root / "classifiers" / "mnist" / "config.json").write_text(json.dumps({"family": "classifier", "format_version": 1}))
    (root / "junk").mkdir()
    assert checkpoint.list_models(root) == sorted(f"tiny-{f}" for f in FAMILIES)


def test_imported_models_folder_is_scanned_and_named_models_load(tiny_checkpoints, tmp_path, monkeypatch):
    from ganlab.registry import ModelRegistry

    imported = tmp_path / "imported"
    shutil.copytree(tiny_checkpoints / "tiny-dcgan", imported / "imported-dcgan")
    monkeypatch.setattr(checkpoint, "MODELS_DIR", imported)
    assert "imported-dcgan" in ganlab.list_models()                     # beside the bundled ones
    assert ganlab.load("imported-dcgan").info["name"] == "imported-dcgan"
    assert "imported-dcgan" in ModelRegistry().available()              # the app sees it at its next scan


def test_checkpoint_folder_round_trip_is_strict(tmp_path):
    state = {"w": torch.arange(6.0).view(2, 3)}
    checkpoint.write_folder(tmp_path / "x", {"family": "thing", "config": {"size": (2, 3)}, "note": "hi"}, state)
    meta, got = checkpoint.read_folder(tmp_path / "x", family="thing")
    assert meta == {"family": "thing", "format_version": 1, "config": {"size": [2, 3]}, "note": "hi"}
    assert torch.equal(got["w"], state["w"])
    with pytest.raises(CheckpointError, match="not a other checkpoint"):
        checkpoint.read_folder(tmp_path / "x", family="other")
    with pytest.raises(ValueError, match="family"):
        checkpoint.write_folder(tmp_path / "y", {"config": {}}, state)


def test_save_records_the_source_of_imported_models(tmp_path):
    from .conftest import tiny_generator

    source = {"origin": "https://example.org/net.pkl", "sha256": "0" * 64, "licence": "x", "format": "pkl",
              "upstream": {"z_dim": 8}}
    checkpoint.save(tiny_generator("dcgan"), tmp_path / "m", dataset="mnist", source=source)
    assert checkpoint.read_config(tmp_path / "m")["source"] == source
    assert ganlab.load(str(tmp_path / "m")).info["source"] == source


def test_bundled_models_are_listed_and_load():
    for name in ganlab.list_models():
        m = ganlab.load(name)
        assert m.info["name"] == name
