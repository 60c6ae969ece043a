"""Fuzzing the importers (issue 18): byte flips and truncations of a valid file of every format, from a fixed
seed. Every case must end in one of

- ``refused``: a CheckpointError naming the file, no output folder, no hidden scratch folder left;
- ``equal``: it imported and renders exactly the images the original renders;
- ``value``: it imported with the same architecture (tensor names, shapes and model config keys) and differs
  from the original in no more stored numbers than bytes were flipped (values the import computes from them,
  as StyleGAN v1's estimated ``w_avg``, follow): a flipped bit inside a weight, which no format without a
  checksum can tell from a real weight (the README says so);

each within a time and memory bound. (The legacy torch format names its storages by memory addresses, so that
file, and which of its cases end how, differ from run to run; the rule holds for every run.) Anything else (another exception, a changed architecture, an image that
differs by more than its flipped numbers explain, NaN) fails the test. ``bench/hostile.py`` prints the counts.
"""
from __future__ import annotations

import json
import random
import resource
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

import ganlab
from ganlab.models import CheckpointError

from . import hostile_files as H

SEED = 18
CASES_PER_FORMAT = 40               # × 7 formats: 280 cases
SECONDS = 20                        # per case (each takes well under a second)
PEAK_MB = 400                       # growth of the process's peak memory over the whole run
OPTIONS = {"stylegan1": {"w_avg_samples": 256}, "stylegan1-legacy": {"w_avg_samples": 256}}
# values an import computes from the stored ones rather than reads (the port's file has no w_avg: it is the
# mean of w over seeded latents, so a flipped mapping weight moves all of it)
DERIVED = {"stylegan1": {"w_avg"}, "stylegan1-legacy": {"w_avg"}}


def mutations(data: bytes, rng: random.Random, n: int):
    """(label, mutated bytes, number of bytes changed): half flips of 1–4 bytes, half truncations."""
    for i in range(n):
        if i % 2:
            cut = rng.randrange(len(data))
            yield f"truncate@{cut}", data[:cut], 0
        else:
            b = bytearray(data)
            where = rng.sample(range(len(b)), rng.randint(1, 4))
            for k in where:
                b[k] ^= rng.randint(1, 255)
            yield f"flip@{sorted(where)}", bytes(b), len(where)


def numbers(folder: Path) -> tuple[dict, dict]:
    """(model config, state dict) of an imported folder."""
    cfg = json.loads((folder / "config.json").read_text())
    return {"family": cfg["family"], **cfg["config"]}, ganlab.checkpoint.read_weights(folder / "model.safetensors")


def changed_values(a: tuple[dict, dict], b: tuple[dict, dict], derived: set = frozenset()) -> int | None:
    """How many stored numbers differ between two imports of the same architecture (tensors in ``derived``,
    computed at import, not counted); None if the architecture (config keys, non-numeric config values, tensor
    names and shapes) differs."""
    (ca, sa), (cb, sb) = a, b
    if ca.keys() != cb.keys() or sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        return None
    n = 0
    for k in ca:
        x, y = ca[k], cb[k]
        if x != y:
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)):
                return None
            n += 1
    return n + sum(int((sa[k] != sb[k]).sum()) for k in sa if k not in derived)


def images(folder: Path) -> torch.Tensor:
    m = ganlab.load(str(folder))
    labels = [0, 1] if m.num_classes else None
    return torch.as_tensor(m.sample(2, seed=0, labels=labels) if labels else m.sample(2, seed=0))


def run(fmt: str, folder: Path, cases: int = CASES_PER_FORMAT, seed: int = SEED) -> dict:
    """Fuzz one format; returns {"outcomes": Counter, "slowest": s, "cases": [...]}; raises AssertionError on
    a case that ends in none of the allowed outcomes."""
    src = H.make(fmt, folder / "src")
    options = OPTIONS.get(fmt, {})
    name = H.FORMAT_OF.get(fmt, fmt)
    ref = ganlab.import_model(src, folder / "ref", format=name, **options)
    ref_numbers, ref_images = numbers(ref), images(ref)
    rng = random.Random(f"{seed}-{fmt}")
    outcomes, slowest = Counter(), 0.0
    data = src.read_bytes()
    for i, (label, mutated, flipped) in enumerate(mutations(data, rng, cases)):
        path = folder / f"case{i}{src.suffix}"
        path.write_bytes(mutated)
        out = folder / f"out{i}"
        t = time.perf_counter()
        try:
            ganlab.import_model(path, out, format=name, **options)
        except CheckpointError as e:
            outcome = "refused"
            assert not out.exists(), f"{fmt} {label}: refused but left {out}"
            assert str(path) in str(e) and "\n" not in str(e), f"{fmt} {label}: {e}"
        except Exception as e:                                     # noqa: BLE001 (that is the failure)
            raise AssertionError(f"{fmt} {label}: {type(e).__name__}: {e}") from None
        else:
            if torch.equal(images(out), ref_images):
                outcome = "equal"
            else:
                n = changed_values(ref_numbers, numbers(out), DERIVED.get(fmt, set()))
                assert n is not None, f"{fmt} {label}: imported with another architecture"
                assert 0 < n <= max(flipped, 1), f"{fmt} {label}: {n} numbers changed by {flipped} flipped bytes"
                outcome = "value"
        took = time.perf_counter() - t
        assert took < SECONDS, f"{fmt} {label}: took {took:.1f} s"
        assert not [p for p in folder.iterdir() if p.name.startswith(".importing-")]
        slowest = max(slowest, took)
        outcomes[outcome] += 1
        path.unlink()
    return {"outcomes": outcomes, "slowest": slowest}


def test_fuzzed_files_of_every_format_are_exact_or_refused(tmp_path):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = Counter()
    for fmt in H.FORMATS:
        result = run(fmt, tmp_path / fmt)
        total.update(result["outcomes"])
        assert sum(result["outcomes"].values()) == CASES_PER_FORMAT
        assert result["outcomes"]["refused"] >= CASES_PER_FORMAT // 2      # every truncation at least
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    assert grew < PEAK_MB, f"peak memory grew by {grew:.0f} MB"
    assert sum(total.values()) == CASES_PER_FORMAT * len(H.FORMATS)


@pytest.mark.parametrize("fmt", ["stylegan2-ada", "dcgan-tutorial-wheel"])
def test_every_truncation_is_refused(tmp_path, fmt):
    src = H.make(fmt, tmp_path / "src")
    data = src.read_bytes()
    name = H.FORMAT_OF.get(fmt, fmt)
    for cut in sorted({0, 1, 2, 7, len(data) // 3, len(data) // 2, len(data) - 2, len(data) - 1}):
        path = tmp_path / f"cut{cut}{src.suffix}"
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            ganlab.import_model(path, tmp_path / "o", format=name)
        assert not (tmp_path / "o").exists()
