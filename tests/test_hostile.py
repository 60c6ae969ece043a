"""Hostile model files: each class of attack from issue 18 is built here, on files the test makes, and must be
refused with a CheckpointError naming the file and the problem, within a time and memory bound, leaving no
output folder behind (or, for checkpoint folders, listed as unavailable while the others keep serving).

The peak-memory bound uses the process's high-water mark (``ru_maxrss``): an attack that allocated gigabytes
would raise it by that much. ``bench/hostile.py`` runs the same classes in fresh processes and prints the figures.
"""
from __future__ import annotations

import json
import re
import resource
import shutil
import time
from pathlib import Path

import pytest

import ganlab
from ganlab import checkpoint, cli
from ganlab.models import CheckpointError
from ganlab.registry import ModelRegistry, check_name

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


# -- every hostile file: bounds before allocation, one error type, no silently wrong model -------------------------
@pytest.mark.parametrize("build", [b for _, _, b in H.ATTACKS], ids=[f"{c}: {label}" for c, label, _ in H.ATTACKS])
def test_hostile_file_is_refused_within_bounds(tmp_path, build):
    path, fmt, match = build(tmp_path)
    refused(path, match, tmp_path / "o", fmt)


def test_every_attack_class_is_covered():
    assert {c for c, _, _ in H.ATTACKS} == {"bounds", "malformed", "wrong"}
    assert len(H.ATTACKS) >= 30


# -- 3. one error type for malformed files ---------------------------------------------------------------------------
def test_the_command_line_prints_one_line_and_fails(tmp_path, capsys):
    path = tmp_path / "memo.pkl"
    path.write_bytes(H.MEMO_BOMB)
    assert cli.main(["import", str(path), "--format", "stylegan2-ada", "--out", str(tmp_path / "o")]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "memo.pkl" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


# -- 4. names and places ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("filename, name", [("...pth", "model"), ("My Model.pth", "my-model"),
                                            ("..%2F..%2Fx.pth", "2f.-2fx"), ("Ä.pth", "model")])
def test_default_output_is_inside_the_models_folder_under_a_listed_name(tmp_path, monkeypatch, filename, name):
    models = tmp_path / "models" / "imported"
    monkeypatch.setattr(checkpoint, "MODELS_DIR", models)
    src = tmp_path / "src" / filename
    src.parent.mkdir()
    shutil.copy(H.make("dcgan-tutorial", tmp_path / "gen"), src)
    out = ganlab.import_model(src)
    assert out == models / name and out.parent == models
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["imported"]     # nothing beside it
    assert name in checkpoint.list_models(models) and check_name(name) == name     # the app accepts it


# -- checkpoint folders: config.json limits, listed as unavailable, the others keep serving -------------------------
def _folder(root: Path, name: str, family: str = "stylegan2", **config) -> Path:
    folder = checkpoint.save(tiny_generator(family), root / name)
    if config:
        meta = json.loads((folder / "config.json").read_text())
        meta["config"].update(config)
        (folder / "config.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("text, match", [(t, m) for _, t, m in H.FOLDER_ATTACKS],
                         ids=[label for label, _, _ in H.FOLDER_ATTACKS])
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
    from ganlab.ui.models import model_info, model_rows                 # the app's Models tab lists both
    rows = {r[0]: r for r in model_rows(reg)}
    assert set(rows) >= {"good", "bad"} and model_info(reg, "bad") and model_info(reg, "good")
