"""Hostile model files: each class of attack from issue 18 is built here, on files the test makes, and must be
refused with a CheckpointError naming the file and the problem, within a time and memory bound, leaving no
output folder behind (or, for checkpoint folders, listed as unavailable while the others keep serving).

The peak-memory bound uses the process's high-water mark (``ru_maxrss``): an attack that allocated gigabytes
would raise it by that much. ``bench/hostile.py`` runs the same classes in fresh processes and prints the figures.
"""
from __future__ import annotations

import json
import math
import pickle
import re
import resource
import shutil
import time
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

import ganlab
from ganlab import checkpoint, cli
from ganlab.importers import _pickle
from ganlab.models import CheckpointError
from ganlab.registry import ModelRegistry

from . import hostile_files as H
from .conftest import tiny_generator

SECONDS = 20                 # every refusal below takes well under a second on a laptop; generous for CI
PEAK_MB = 400                # a refused file may not raise the process's peak memory by more than this


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def refused(path: Path, match: str, out: Path, fmt: str | None = None, **options) -> CheckpointError:
    """Import ``path`` and check: CheckpointError matching ``match`` that names the file, within SECONDS and
    PEAK_MB, and ``out`` not created."""
    before, t = _maxrss_mb(), time.perf_counter()
    with pytest.raises(CheckpointError, match=match) as e:
        ganlab.import_model(path, out, format=fmt or "auto", **options)
    took, grew = time.perf_counter() - t, _maxrss_mb() - before
    assert took < SECONDS, f"took {took:.1f} s"
    assert grew < PEAK_MB, f"peak memory grew by {grew:.0f} MB"
    assert str(path) in str(e.value) or path.name in str(e.value), str(e.value)
    assert "\n" not in str(e.value) and not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".importing-")]
    return e.value


class Rebuilt:
    """Pickles as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``, any view declared."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


def _tree_with(change) -> H.Persisted:
    g = H.stylegan2_tree()
    change(g)
    return g


def _mapping_fc0(g: H.Persisted) -> dict:
    return g.meta["state"]["_modules"]["mapping"].meta["state"]["_modules"]["fc0"].meta["state"]["_parameters"]


# -- 1. resource bounds before allocation --------------------------------------------------------------------------
def test_tensor_larger_than_its_storage_is_refused(tmp_path):
    one = torch.zeros(1).untyped_storage()
    storage = torch.storage.TypedStorage(wrap_storage=one, dtype=torch.float32, _internal=True)
    g = _tree_with(lambda g: _mapping_fc0(g).update(weight=Rebuilt(storage, 0, (8, 8), (8, 1))))
    refused(H.write_stylegan2(tmp_path / "big-view.pkl", g), "larger than the data the file holds", tmp_path / "o")


@pytest.mark.parametrize("size, stride, what", [((8, 8), (0, 1), "expanded"), ((8, 8), (1, 1), "overlapping")])
def test_stride0_and_overlapping_views_are_refused_in_pickles(tmp_path, size, stride, what):
    storage = torch.storage.TypedStorage(wrap_storage=torch.zeros(64).untyped_storage(), dtype=torch.float32,
                                         _internal=True)
    g = _tree_with(lambda g: _mapping_fc0(g).update(weight=Rebuilt(storage, 0, size, stride)))
    refused(H.write_stylegan2(tmp_path / "view.pkl", g), what, tmp_path / "o")


@pytest.mark.parametrize("view", ["expand", "as_strided"])
def test_stride0_and_overlapping_views_are_refused_in_state_dicts(tmp_path, view):
    sd = H.tutorial_state()
    w = sd["main.0.weight"]
    sd["main.0.weight"] = (torch.zeros(1).expand(w.shape) if view == "expand"
                           else torch.zeros(64).as_strided(w.shape, (1, 1, 1, 1)))
    path = tmp_path / "netG.pth"
    path.write_bytes(H.torch_bytes(sd))
    refused(path, "stride 0|overlapping", tmp_path / "o", "dcgan-tutorial")


def test_memo_index_bomb_is_refused_before_the_memo_grows(tmp_path):
    path = tmp_path / "memo.pkl"                    # PROTO 2, NONE, LONG_BINPUT 4 294 967 280, STOP
    path.write_bytes(b"\x80\x02Nr" + (0xFFFFFFF0).to_bytes(4, "little") + b".")
    refused(path, "memo index", tmp_path / "o", "stylegan2-ada")
    path.write_bytes(b"\x80\x02Nj" + (123456).to_bytes(4, "little") + b".")     # a GET of a never-written entry
    refused(path, "never written", tmp_path / "o", "stylegan2-ada")


def test_declared_string_length_beyond_the_file_is_refused(tmp_path):
    path = tmp_path / "long.pkl"                    # BINBYTES8 declaring 2**40 bytes in a 20-byte file
    path.write_bytes(b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"abc.")
    refused(path, "not a readable pickle", tmp_path / "o", "stylegan2-ada")


@pytest.mark.parametrize("where, value, match", [
    ("img_resolution", 1 << 20, "img_resolution"),
    ("z_dim", 10 ** 9, "z_dim"),
    ("num_layers", 10 ** 7, "num_layers"),
    ("c_dim", 10 ** 8, "c_dim"),
    ("resample_filter", [[1.0] * 1000] * 1000, "resample_filter"),       # a million values from memo references
    ("channel_base", 1 << 20, "larger model than its weights"),          # within the limits: the build budget
    ("lr_multiplier", float("nan"), "lr_multiplier"),
    ("conv_clamp", float("inf"), "conv_clamp"),
])
def test_constructor_arguments_are_bounded_before_the_generator_is_built(tmp_path, where, value, match):
    kwargs = json.loads(json.dumps(H.SG2_KWARGS))
    if where in ("num_layers", "lr_multiplier"):
        kwargs["mapping_kwargs"][where] = value
    elif where in ("resample_filter", "channel_base", "conv_clamp"):
        kwargs["synthesis_kwargs"][where] = value
        if where == "channel_base":
            kwargs.update(img_resolution=1024)
            kwargs["synthesis_kwargs"]["channel_max"] = 4096
    else:
        kwargs[where] = value
    g = H.stylegan2_tree()
    g.meta["state"]["_init_kwargs"] = kwargs
    if where == "channel_base":                     # a consistent pickle: its modules say 1024 px too
        for obj in (g, g.meta["state"]["_modules"]["synthesis"]):
            obj.meta["state"]["img_resolution"] = 1024
    path = H.write_stylegan2(tmp_path / "args.pkl", g)
    assert path.stat().st_size < 200_000
    refused(path, match, tmp_path / "o")


def test_billion_laughs_of_references_is_not_expanded(tmp_path):
    level = ["ha" * 50] * 10
    for _ in range(9):                                 # 10**10 strings by reference, a few hundred bytes pickled
        level = [level] * 10
    path = H.write_stylegan2(tmp_path / "laughs.pkl", extra={"training_set_kwargs": {"path": level}})
    refused(path, "more than 10,000 values", tmp_path / "o")


def test_zip_bomb_in_a_wheel_member_is_refused(tmp_path):
    payload = H.torch_bytes({"netG_state_dict": H.tutorial_state()}) + bytes(300 << 20)
    wheel = H.write_wheel(tmp_path / "bomb-1.0-py3-none-any.whl", payload)
    assert wheel.stat().st_size < 2 << 20
    refused(wheel, "expands beyond|zip bomb", tmp_path / "o", "dcgan-tutorial")


def test_compressed_member_of_a_torch_archive_is_refused(tmp_path):
    good = H.make("dcgan-tutorial", tmp_path / "src")
    bad = tmp_path / "deflated.pth"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename), zipfile.ZIP_DEFLATED)
    refused(bad, "compressed or larger than the file", tmp_path / "o", "dcgan-tutorial")


@pytest.mark.parametrize("compression, match", [(zipfile.ZIP_STORED, "CRC"),
                                                (zipfile.ZIP_DEFLATED, "CRC|deflat|invalid|incorrect|Error")])
def test_wheel_with_bad_crc_or_corrupt_stream_is_refused(tmp_path, compression, match):
    payload = H.torch_bytes({"netG_state_dict": H.tutorial_state()})
    wheel = H.write_wheel(tmp_path / "w-1.0-py3-none-any.whl", payload, compression=compression)
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(wheel) as z:
        info = z.getinfo("gan_face_generate/weights.tar")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(start + info.compress_size // 2, start + info.compress_size // 2 + 16):
        data[k] ^= 0x5A                                # damage the member's data, not the zip directory
    wheel.write_bytes(bytes(data))
    refused(wheel, match, tmp_path / "o", "dcgan-tutorial")


# -- 3. one error type for malformed files ---------------------------------------------------------------------------
@pytest.mark.parametrize("payload", [
    pickle.dumps({"G_ema": OrderedDict()}, protocol=2).replace(b")R", b"K\x05\x85R"),   # OrderedDict(5)
    b"\x80\x02cdnnlib.util\nEasyDict\n)\x81}X\x01\x00\x00\x00ab.",                   # EasyDict + BUILD state
    b"\x80\x02cbuiltins\nset\n](]ea\x85R.",                                            # a set of a list
    b"\x80\x02ctorch_utils.persistence\n_reconstruct_persistent_obj\n}(X\x04\x00\x00\x00typeX\x05\x00\x00\x00"
    b"classX\x05\x00\x00\x00state}X\n\x00\x00\x00_init_argsK\x07ssu\x85R.",            # _init_args = 7
])
def test_malformed_objects_are_one_error(tmp_path, payload):
    path = tmp_path / "odd.pkl"
    path.write_bytes(payload)
    refused(path, "refused|not a readable|no persisted", tmp_path / "o", "stylegan2-ada")


def test_the_command_line_prints_one_line_and_fails(tmp_path, capsys):
    path = tmp_path / "memo.pkl"
    path.write_bytes(b"\x80\x02Nr" + (0xFFFFFFF0).to_bytes(4, "little") + b".")
    assert cli.main(["import", str(path), "--format", "stylegan2-ada", "--out", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "memo.pkl" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


# -- 4. names and places ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("filename, name", [("...pth", "model"), ("My Model.pth", "my-model")])
def test_default_output_is_inside_the_models_folder_under_a_listed_name(tmp_path, monkeypatch, filename, name):
    models = tmp_path / "models" / "imported"
    monkeypatch.setattr(checkpoint, "MODELS_DIR", models)
    src = tmp_path / "src" / filename
    src.parent.mkdir()
    shutil.copy(H.make("dcgan-tutorial", tmp_path / "gen"), src)
    out = ganlab.import_model(src)
    assert out == models / name and out.parent == models
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["imported"]     # nothing beside it
    assert name in checkpoint.list_models(models)


# -- 5. no silently wrong model ----------------------------------------------------------------------------------------
def test_arguments_that_contradict_the_persisted_state_are_refused(tmp_path):
    def change(g):
        block = g.meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]["b8"]
        block.meta["state"]["_modules"]["conv1"].meta["state"]["conv_clamp"] = None   # upstream runs unclamped
    refused(H.write_stylegan2(tmp_path / "liar.pkl", _tree_with(change)), "contradicts itself", tmp_path / "o")


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64])
def test_weights_of_a_wrong_dtype_are_refused(tmp_path, dtype):
    g = _tree_with(lambda g: _mapping_fc0(g).update(weight=torch.ones(8, 8).to(dtype)))
    refused(H.write_stylegan2(tmp_path / "dtype.pkl", g), str(dtype).replace("torch.", ""), tmp_path / "o")


def test_negative_batchnorm_variance_and_nan_weights_are_refused(tmp_path):
    sd = H.dcgan_zoo_state()
    sd["main.batchNorm0.running_var"] = -sd["main.batchNorm0.running_var"]
    refused(H.write_zoo(tmp_path / "negvar.pth", sd, **H.DCGAN_ZOO_CONFIG), "negative variances", tmp_path / "o")
    sd = H.tutorial_state()
    sd["main.3.weight"][0, 0, 0, 0] = math.nan
    (tmp_path / "nan.pth").write_bytes(H.torch_bytes(sd))
    refused(tmp_path / "nan.pth", "NaN", tmp_path / "o", "dcgan-tutorial")


# -- checkpoint folders: config.json limits, listed as unavailable, the others keep serving -------------------------
def _folder(root: Path, name: str, family: str = "stylegan2", **config) -> Path:
    folder = checkpoint.save(tiny_generator(family), root / name)
    if config:
        meta = json.loads((folder / "config.json").read_text())
        meta["config"].update(config)
        (folder / "config.json").write_text(json.dumps(meta))
    return folder


def _edited(meta: dict, **config) -> str:
    return json.dumps({**meta, "config": {**meta["config"], **config}})


@pytest.mark.parametrize("text, match", [
    (lambda m: _edited(m, channels_base=1 << 20, channels_max=4096, image_size=1024), "larger model than its weights"),
    (lambda m: _edited(m, mapping_layers=10 ** 6), "larger model than its weights"),
    (lambda m: _edited(m, z_dim=10 ** 9), "beyond any model size"),
    (lambda m: _edited(m, mapping_lr_mul=math.nan), "not a finite number"),
    (lambda m: json.dumps({**m, "family": ["stylegan2"]}), "'family' entry must be a string"),
    (lambda m: json.dumps(m)[:-1] + ', "deep": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
], ids=["channels", "layers", "z_dim", "nan", "family", "deep"])
def test_broken_checkpoint_folders_are_listed_unavailable_and_the_others_serve(tmp_path, text, match):
    _folder(tmp_path, "good")
    bad = _folder(tmp_path, "bad")
    (bad / "config.json").write_text(text(json.loads((bad / "config.json").read_text())))
    reg = ModelRegistry(tmp_path)
    before, t = _maxrss_mb(), time.perf_counter()
    with pytest.raises(CheckpointError, match=match):
        checkpoint.load(str(bad))
    with pytest.raises(CheckpointError, match=match):
        reg.get("bad")
    assert reg.num_parameters("bad") is None
    assert time.perf_counter() - t < SECONDS and _maxrss_mb() - before < PEAK_MB
    status = {s.name: s for s in reg.status()}
    assert status["good"].available and not status["bad"].available and re.search(match, status["bad"].reason)
    assert reg.get("good").sample(1, seed=0).shape[0] == 1
