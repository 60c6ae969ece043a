"""Helpers of the importer exactness tests: where the upstream fixtures live, the comparison the issue fixes
(max |a − b| after clamping both sides to [-1, 1]) and an optional log of every case's error.

``GANLAB_FIXTURES`` overrides the fixture folder (default ``../shared/fixtures`` beside the repository);
``GANLAB_FIXTURE_ERRORS`` names a file to which every compared case appends ``format case max_abs``.
"""
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from .conftest import ROOT

FIXTURES = Path(os.environ.get("GANLAB_FIXTURES", ROOT.parent / "shared" / "fixtures"))
ATOL = 1e-4


def needs(sub: str):
    return pytest.mark.skipif(not (FIXTURES / sub).is_dir(), reason=f"no upstream fixtures in {FIXTURES / sub}")


def expected(sub: str) -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURES / sub / "expected.safetensors"))


def max_abs(ours: torch.Tensor, theirs: torch.Tensor, clamp: bool = True) -> float:
    assert ours.shape == theirs.shape, (tuple(ours.shape), tuple(theirs.shape))
    a, b = ours.detach().float(), theirs.float()
    if clamp:
        a, b = a.clamp(-1, 1), b.clamp(-1, 1)
    return float((a - b).abs().max())


def check(fmt: str, case: str, ours: torch.Tensor, theirs: torch.Tensor, clamp: bool = True,
          atol: float = ATOL) -> float:
    """Assert ``ours`` matches the upstream tensor within ``atol`` and log the error when asked to."""
    err = max_abs(ours, theirs, clamp)
    log = os.environ.get("GANLAB_FIXTURE_ERRORS")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{fmt}\t{case}\t{err:.3g}\n")
    assert err <= atol, f"{fmt} {case}: max abs error {err:.3g} > {atol}"
    return err
