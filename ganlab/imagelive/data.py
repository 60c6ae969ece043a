"""MNIST and Fashion-MNIST for live runs: found where ganlab looks (``--data-dir``, ``$GANLAB_DATA_DIR``, else
``data``), downloaded by torchvision when absent (:func:`fetch`: in the background, with what has arrived so far
for the page to show), refused in one line when they are absent and cannot be downloaded; held once per process
(the runs of a worker share them), with the test split's feature statistics in the evaluation classifier's space
(the reference of the live FD curve).
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


def _torchvision_class(dataset: str):
    import torchvision

    return getattr(torchvision.datasets, data.DATASETS[data.check_dataset(dataset)].torchvision)


def raw_files(dataset: str, root: str | os.PathLike) -> list[Path]:
    """The files torchvision reads ``dataset`` from (``root/MNIST/raw/train-images-idx3-ubyte``, ...): its
    downloads (the class's ``resources``) without their ``.gz``."""
    cls = _torchvision_class(dataset)
    raw = Path(root) / cls.__name__ / "raw"
    return [raw / os.path.splitext(os.path.basename(url))[0] for url, _ in cls.resources]


def ensure_files(dataset: str, root: str | os.PathLike) -> None:
    """Download ``dataset`` into ``root`` unless its files are there; ValueError in one line when it cannot."""
    cls = _torchvision_class(dataset)
    folder = cls.__name__
    if all(f.is_file() for f in raw_files(dataset, root)):
        return
    print(f"ganlab: {folder} is not in {root}: downloading it (first use)", file=sys.stderr, flush=True)
    try:
        with contextlib.redirect_stdout(io.StringIO()):   # some torchvision versions print a line per mirror
            cls(str(root), train=True, download=True), cls(str(root), train=False, download=True)
    except Exception as e:  # offline: URLError, HTTPError, RuntimeError... one line says what to do
        lines = [line.strip() for line in str(e).splitlines() if line.strip()] or [type(e).__name__]
        reason = lines[-1][:160]                 # torchvision's last line is the last mirror's error
        raise ValueError(f"{folder} is not in {Path(root).resolve()}/{folder}/raw and could not be downloaded "
                         f"({reason}); copy its files there or set {DATA_DIR_ENV}.") from None


class Download:
    """:func:`ensure_files` in a background thread, and what it has fetched so far (the page shows it): start
    one with :func:`fetch`."""

    def __init__(self, dataset: str, root: str | os.PathLike):
        self.dataset, self.root = dataset, Path(root)
        self.files = raw_files(dataset, root)
        self.error: ValueError | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"ganlab-download-{dataset}")
        self._thread.start()

    def _run(self) -> None:
        try:
            ensure_files(self.dataset, self.root)
        except ValueError as e:
            self.error = e

    def wait(self, seconds: float | None = None) -> bool:
        """Wait at most ``seconds`` (None: until it ends); whether it has ended (``error`` says how)."""
        self._thread.join(seconds)
        return not self._thread.is_alive()

    def progress(self) -> tuple[int, int, int]:
        """(files fetched, files in all, bytes written so far): torchvision writes each file's ``.gz`` as it
        arrives, then unpacks it (a file is fetched once unpacked)."""
        raw = self.files[0].parent
        fetched = sum(f.is_file() for f in self.files)
        written = sum(p.stat().st_size for p in raw.glob("*.gz")) if raw.is_dir() else 0
        return fetched, len(self.files), written

    def describe(self) -> str:
        """e.g. "downloading MNIST into data/MNIST/raw (first use): file 2 of 4, 9.9 MB so far"."""
        fetched, total, written = self.progress()
        return (f"downloading {data.display_name(self.dataset)} into {self.files[0].parent} (first use): "
                f"file {min(fetched + 1, total)} of {total}, {written / 1e6:.1f} MB so far")


_downloads: dict[tuple, Download] = {}
_downloads_lock = threading.Lock()


def fetch(dataset: str, root: str | os.PathLike | None = None) -> Download | None:
    """None when ``dataset``'s files are in ``data_dir(root)``; else the download of them, started now or
    already under way in this process (every caller waits on the same one)."""
    root = data_dir(root)
    if all(f.is_file() for f in raw_files(dataset, root)):
        return None
    key = (dataset, str(root.resolve()))
    with _downloads_lock:
        if key not in _downloads or (_downloads[key].wait(0) and _downloads[key].error is not None):
            _downloads[key] = Download(dataset, root)      # a failed download is tried again
        return _downloads[key]


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
