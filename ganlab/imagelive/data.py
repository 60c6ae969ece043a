"""MNIST and Fashion-MNIST for live runs: found where ganlab looks (``--data-dir``, ``$GANLAB_DATA_DIR``, else
``data``), downloaded by torchvision (with its progress bar) when absent, refused in one line when they are
absent and cannot be downloaded; held once per process (the runs of a worker share them), with the test split's
feature statistics in the evaluation classifier's space (the reference of the live FD curve).
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import data, evaluate

DATA_DIR_ENV = "GANLAB_DATA_DIR"
CACHED_DATASETS = 2          # datasets a process keeps in memory (about 220 MB each as float tensors)


def data_dir(given: str | os.PathLike | None = None) -> Path:
    """The data folder: ``given``, else $GANLAB_DATA_DIR, else ``data``."""
    return Path(given or os.environ.get(DATA_DIR_ENV) or "data").expanduser()


@dataclass
class Images:
    """A dataset's splits as data.load_tensors returns them: images (N, 1, 28, 28) in [-1, 1], labels (N,)."""
    dataset: str
    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    test_stats: dict = field(default_factory=dict, repr=False)   # classifier folder → (mean, covariance)


def ensure_files(dataset: str, root: str | os.PathLike) -> None:
    """Download ``dataset`` into ``root`` unless its files are there; ValueError in one line when it cannot."""
    import torchvision

    folder = data.DATASETS[data.check_dataset(dataset)].torchvision
    cls = getattr(torchvision.datasets, folder)
    try:
        cls(str(root), train=True, download=False), cls(str(root), train=False, download=False)
        return
    except RuntimeError:
        pass
    print(f"ganlab: {folder} is not in {root}: downloading it (first use)", file=sys.stderr, flush=True)
    try:
        with contextlib.redirect_stdout(io.StringIO()):   # some torchvision versions print a line per mirror
            cls(str(root), train=True, download=True), cls(str(root), train=False, download=True)
    except Exception as e:  # offline: URLError, HTTPError, RuntimeError... one line says what to do
        lines = [line.strip() for line in str(e).splitlines() if line.strip()] or [type(e).__name__]
        reason = lines[-1][:160]                 # torchvision's last line is the last mirror's error
        raise ValueError(f"{folder} is not in {Path(root).resolve()}/{folder}/raw and could not be downloaded "
                         f"({reason}); copy its files there or set {DATA_DIR_ENV}.") from None


_images: dict[tuple, Images] = {}
_lock = threading.Lock()


def load(dataset: str, root: str | os.PathLike | None = None) -> Images:
    """Both splits of ``dataset`` from ``data_dir(root)``, downloaded first if needed; kept in this process."""
    root = data_dir(root)
    key = (dataset, str(root.resolve()))
    with _lock:
        if key not in _images:
            ensure_files(dataset, root)
            x, y = data.load_tensors(dataset, str(root), train=True)
            x_test, y_test = data.load_tensors(dataset, str(root), train=False)
            while len(_images) >= CACHED_DATASETS:
                _images.pop(next(iter(_images)))
            _images[key] = Images(dataset, x, y, x_test, y_test)
        return _images[key]


def test_statistics(images: Images, classifier: evaluate.Classifier) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of the test split's features in ``classifier``'s space (kept with ``images``)."""
    key = getattr(classifier, "info", {}).get("folder", id(classifier))
    with _lock:
        if key not in images.test_stats:
            features, _ = evaluate.classify(classifier, images.x_test)
            images.test_stats[key] = evaluate.feature_statistics(features)
        return images.test_stats[key]
