"""Every bundled checkpoint: strict load, finite in-range samples, files under 10 MB, metrics that match the card."""
import json

import numpy as np
import pytest

import ganlab
from ganlab.checkpoint import CHECKPOINTS_DIR

BUNDLED = ganlab.list_models()


def test_the_repository_ships_models():
    assert BUNDLED, "checkpoints/ holds no generator"


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_checkpoint(name):
    folder = CHECKPOINTS_DIR / name
    m = ganlab.load(name)
    labels = list(range(4)) if m.num_classes else None
    x = m.generate(m.latents(4, seed=0), labels).detach()
    assert np.isfinite(x.numpy()).all() and x.min() >= -1 and x.max() <= 1
    assert m.sample(4, seed=0, labels=labels).shape == (4, m.image_size, m.image_size, m.channels)
    for f in folder.rglob("*"):
        if "train_state" in f.parts:  # a run's resume state: git-ignored, never shipped
            continue
        assert f.stat().st_size < 10e6, f"{f} is over 10 MB (Spaces need Git LFS above that)"
    assert (folder / "samples.png").is_file()
    metrics = json.loads((folder / "metrics.json").read_text())
    card = (folder / "README.md").read_text()
    assert f"{metrics['fd']:.3f}" in card and f"{metrics['precision']:.3f}" in card
    assert metrics["training_steps"] == m.info["training"]["steps"], "metrics.json is older than the weights"
    assert m.info["training"]["command"].startswith("python -m ganlab train ")
    assert m.info["training"]["command"] in card
