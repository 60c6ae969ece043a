"""Imported models in the app: the registry's memory budget (LRU), the catalog/import section of the Models tab
driven through gradio_client against a launched app (a catalog import through the configured pip index, an
operator's preload from a local http.server, a URL refused from the page), and renders of a colour StyleGAN2
(fir) model with previews."""
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab import checkpoint, export, preload, views
from ganlab.checkpoint import CheckpointError
from ganlab.models import FAMILIES
from ganlab.registry import MB, ModelRegistry, budget_from_env, model_bytes

from .conftest import free_port, tiny_generator
from .http_fixtures import serve

FIXTURES = (Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures").resolve()
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures not present")


# -- the memory budget ----------------------------------------------------------------------------------------
@pytest.fixture
def three_models(tmp_path):
    """Three tiny checkpoints of different sizes: a (dcgan), b (stylegan2), c (mlp)."""
    for name, family in (("a", "dcgan"), ("b", "stylegan2"), ("c", "mlp")):
        checkpoint.save(tiny_generator(family), tmp_path / name, dataset="mnist")
    sizes = {n: model_bytes(checkpoint.load(str(tmp_path / n))) for n in "abc"}
    return tmp_path, sizes


def test_registry_drops_the_least_recently_used_model_to_stay_in_budget(three_models):
    root, size = three_models
    reg = ModelRegistry(root, budget=size["a"] + size["b"] + size["c"] - 1)     # any two fit, never all three
    a = reg.get("a")
    reg.get("b")
    assert list(reg.loaded()) == ["a", "b"] and reg.loaded_bytes() == size["a"] + size["b"]
    assert reg.get("a") is a                                  # a is used again: b is now the least recent
    reg.get("c")
    assert list(reg.loaded()) == ["a", "c"] and list(reg.evicted) == ["b"]
    assert reg.loaded_bytes() <= reg.budget
    assert {s.name: s.loaded for s in reg.status()} == {"a": True, "b": False, "c": True}
    reg.get("b")                                              # comes back (loaded again), a is dropped now
    assert list(reg.loaded()) == ["c", "b"] and list(reg.evicted) == ["b", "a"]
    assert torch.equal(next(reg.get("a").parameters()), next(a.parameters()))   # same weights after a reload


def test_a_model_larger_than_the_budget_is_refused_and_nothing_is_dropped(three_models):
    root, size = three_models
    reg = ModelRegistry(root, budget=max(size.values()) - 1)
    small = min(size, key=size.get)
    reg.get(small)
    big = max(size, key=size.get)
    with pytest.raises(CheckpointError, match=rf"model {big} needs .* MB of memory, more than this app's budget"):
        reg.get(big)
    assert list(reg.loaded()) == [small] and not reg.evicted


def test_budget_from_env():
    assert budget_from_env({}) == 4096 * MB
    assert budget_from_env({"GANLAB_MEMORY_BUDGET_MB": "512"}) == 512 * MB
    for bad in ("0", "-5", "lots", "nan", "inf"):
        with pytest.raises(ValueError, match="GANLAB_MEMORY_BUDGET_MB must be a positive number"):
            budget_from_env({"GANLAB_MEMORY_BUDGET_MB": bad})
