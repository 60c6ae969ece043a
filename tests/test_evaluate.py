"""Evaluation: the classifier, Fréchet distance, precision/recall, metrics.json and the model card, on tiny data."""
import json
from pathlib import Path

import pytest
import torch

from ganlab import checkpoint, list_models
from ganlab.card import metrics_table, write_card
from ganlab.data import DIGITS
from ganlab.evaluate import (evaluate_model, feature_statistics, frechet_distance, load_classifier,
                             precision_recall, to_classifier_input, train_classifier)
from ganlab.models import CheckpointError, cgan, dcgan, stylegan2

METRIC_KEYS = {"model", "dataset", "n_samples", "fd", "fd_floor_train_vs_test", "precision", "recall",
               "class_histogram", "min_class_fraction", "class_accuracy", "classifier_test_accuracy", "seconds"}
LIMIT = 300  # real images per split in the tests


@pytest.fixture(scope="session")
def classifier_dir(tmp_path_factory, data_dir) -> Path:
    """A classifier trained for one epoch on 512 images: enough to exercise every code path."""
    out = tmp_path_factory.mktemp("classifiers") / "mnist"
    torch.set_num_threads(1)
    return train_classifier("mnist", data_dir, out=out, epochs=1, limit=512, batch=64, command="pytest")


@pytest.fixture
def gaussian_features() -> torch.Tensor:
    return torch.randn(400, 8, generator=torch.Generator().manual_seed(0))


def save_tiny(model, folder: Path) -> Path:
    return checkpoint.save(model, folder, dataset="mnist",
                           training={"steps": 0, "wall_seconds": 1.5, "command": "pytest (random weights)"})


# -- the classifier -------------------------------------------------------------------------------------
def test_classifier_checkpoint(classifier_dir):
    cfg = json.loads((classifier_dir / "config.json").read_text())
    assert cfg["family"] == "classifier" and cfg["format_version"] == 1 and cfg["dataset"] == "mnist"
    assert 0.0 <= cfg["test_accuracy"] <= 1.0 and cfg["command"] == "pytest"
    assert sorted(p.name for p in classifier_dir.iterdir()) == ["config.json", "model.safetensors"]
    model = load_classifier("mnist", classifier_dir)
    assert model.info["test_accuracy"] == cfg["test_accuracy"]
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert model.features(torch.zeros(2, 1, 28, 28)).shape == (2, model.config.feature_dim)


def test_classifier_is_not_a_generator(classifier_dir):
    assert list_models(classifier_dir.parent) == []                   # a folder holding the classifier
    assert "classifiers" not in list_models()
    with pytest.raises(CheckpointError):
        checkpoint.load(str(classifier_dir))


def test_classifier_strict_load(classifier_dir, tmp_path):
    bad = tmp_path / "mnist"
    bad.mkdir()
    cfg = json.loads((classifier_dir / "config.json").read_text())
    cfg["config"]["feature_dim"] = 64                                 # weights no longer fit the config
    (bad / "config.json").write_text(json.dumps(cfg))
    (bad / "model.safetensors").write_bytes((classifier_dir / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="shape"):
        load_classifier("mnist", bad)
    (bad / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_classifier("mnist", bad)
    with pytest.raises(CheckpointError, match="fashion-mnist"):
        load_classifier("fashion-mnist", classifier_dir)
    with pytest.raises(CheckpointError, match="train classifier"):
        load_classifier("mnist", tmp_path / "missing")


def test_center_crop_undoes_padding():
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    padded = torch.nn.functional.pad(x, [2] * 4, value=-1.0)          # StyleGAN2's 32×32 layout
    assert torch.equal(to_classifier_input(padded), x)
    with pytest.raises(ValueError):
        to_classifier_input(torch.zeros(1, 1, 16, 16))


# -- the metrics ----------------------------------------------------------------------------------------
def test_frechet_distance_identical_is_zero(gaussian_features):
    stats = feature_statistics(gaussian_features)
    assert frechet_distance(*stats, *stats) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_shift_matches_closed_form(gaussian_features):
    shift = torch.arange(8.0) / 4
    fd = frechet_distance(*feature_statistics(gaussian_features), *feature_statistics(gaussian_features + shift))
    assert fd > 0
    assert fd == pytest.approx(float(shift.square().sum()), rel=1e-8)   # same covariance: ‖Δμ‖²


def test_frechet_distance_diagonal_closed_form():
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 1.0])
    mu1, mu2 = torch.zeros(3), torch.tensor([1.0, 0.0, 2.0])
    expected = 5.0 + float((a.sqrt() - b.sqrt()).square().sum())       # ‖Δμ‖² + Σ (√a − √b)²
    assert frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(expected, rel=1e-8)


def test_precision_recall_identical_and_disjoint(gaussian_features):
    assert precision_recall(gaussian_features, gaussian_features.clone()) == (1.0, 1.0)
    assert precision_recall(gaussian_features, gaussian_features + 100.0) == (0.0, 0.0)
    half = torch.cat([gaussian_features[:200], gaussian_features[:200] + 100.0])  # half of the fakes are off
    precision, recall = precision_recall(gaussian_features[:200], half)
    assert precision == pytest.approx(0.5) and recall == 1.0


# -- evaluating generators ------------------------------------------------------------------------------
def test_evaluate_unconditional_writes_metrics_and_card(tmp_path, data_dir, classifier_dir):
    torch.manual_seed(0)
    folder = save_tiny(dcgan.Generator(dcgan.DCGANConfig(g_fc=16, g_channels=8, class_names=DIGITS)), tmp_path / "tiny")
    metrics = evaluate_model(str(folder), data_dir, n_samples=120, limit=LIMIT, classifier_dir=classifier_dir)
    saved = json.loads((folder / "metrics.json").read_text())
    assert METRIC_KEYS <= set(saved) and saved == metrics
    assert saved["dataset"] == "mnist" and saved["n_samples"] == 120 and saved["class_accuracy"] is None
    assert saved["fd"] > 0 and saved["fd_floor_train_vs_test"] >= 0
    assert 0 <= saved["precision"] <= 1 and 0 <= saved["recall"] <= 1
    assert list(saved["class_histogram"]) == list(DIGITS)
    assert sum(saved["class_histogram"].values()) == pytest.approx(1.0, abs=1e-4)
    assert saved["min_class_fraction"] == min(saved["class_histogram"].values())
    assert (classifier_dir / f"real_stats_limit{LIMIT}.safetensors").is_file()    # cached for next time
    again = evaluate_model(str(folder), data_dir, n_samples=120, limit=LIMIT, classifier_dir=classifier_dir,
                           out=tmp_path / "again", verbose=False)
    assert (again["fd"], again["precision"], again["recall"]) == (saved["fd"], saved["precision"], saved["recall"])
    assert (tmp_path / "again" / "metrics.json").is_file()
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: ganlab\n") and "license: cc-by-sa-3.0" in card
    assert "ylecun/mnist" in card and "pytest (random weights)" in card and f"{saved['fd']:.3f}" in card
    assert "| tiny |" in metrics_table([str(folder)]).replace(str(folder), "tiny")


def test_evaluate_conditional_reports_class_accuracy(tmp_path, data_dir, classifier_dir):
    torch.manual_seed(0)
    folder = save_tiny(cgan.Generator(cgan.CGANConfig(g_fc=16, g_channels=8)), tmp_path / "tiny-cgan")
    metrics = evaluate_model(str(folder), data_dir, n_samples=100, limit=LIMIT, classifier_dir=classifier_dir,
                             verbose=False)
    assert 0 <= metrics["class_accuracy"] <= 1
    assert metrics["class_histogram_of"] == "class-balanced requests"
    assert "requested class recognised" in (folder / "README.md").read_text()


def test_evaluate_crops_stylegan2_output(tmp_path, data_dir, classifier_dir):
    torch.manual_seed(0)
    config = stylegan2.StyleGAN2Config(z_dim=8, w_dim=8, mapping_layers=1, channels_base=4, channels_max=4,
                                       class_names=DIGITS)
    folder = save_tiny(stylegan2.Generator(config), tmp_path / "tiny-sg2")
    metrics = evaluate_model(str(folder), data_dir, n_samples=60, limit=LIMIT, classifier_dir=classifier_dir,
                             verbose=False)
    assert metrics["family"] == "stylegan2" and metrics["fd"] >= 0
    card = write_card(folder)
    assert "## Evaluation" in card.read_text()
