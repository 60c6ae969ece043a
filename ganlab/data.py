"""Training data: MNIST and Fashion-MNIST through torchvision, held in memory as tensors.

``--data-dir`` points at a torchvision-layout folder; when the files are missing there, torchvision downloads
them (for users who are online). Batches are drawn by a deterministic schedule: batch ``i`` of a run with seed
``s`` is always the same, so a resumed run continues exactly where it stopped.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

DIGITS = tuple(str(i) for i in range(10))
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclass(frozen=True)
class Dataset:
    """What ganlab knows of a training data set: how to load it and what model cards and the app say of it."""
    name: str                  # for people, e.g. "Fashion-MNIST"
    torchvision: str           # the torchvision.datasets class that loads it
    class_names: tuple
    hub_id: str                # its Hugging Face dataset id (the cards' front matter)
    licence_id: str            # the Hub's licence id
    licence: str               # the licence for people
    homepage: str


DATASETS = {
    "mnist": Dataset("MNIST", "MNIST", DIGITS, "ylecun/mnist", "cc-by-sa-3.0", "CC BY-SA 3.0",
                     "http://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": Dataset("Fashion-MNIST", "FashionMNIST", FASHION, "zalando-datasets/fashion_mnist", "mit", "MIT",
                             "https://github.com/zalandoresearch/fashion-mnist"),
}


def display_name(dataset: str | None, missing: str = "—") -> str:
    """A dataset key's name for people; an unknown key as it is (``missing`` when empty)."""
    return DATASETS[dataset].name if dataset in DATASETS else (dataset or missing)


def class_names(dataset: str) -> tuple[str, ...]:
    return DATASETS[check_dataset(dataset)].class_names


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: use one of {', '.join(DATASETS)}.")
    return dataset


def load_tensors(dataset: str, data_dir: str, train: bool = True, image_size: int = 28,
                 limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float (N, 1, S, S) in [-1, 1] (zero-padded from 28 to ``image_size``) and labels (N,)."""
    import torchvision

    cls = getattr(torchvision.datasets, DATASETS[check_dataset(dataset)].torchvision)
    try:
        ds = cls(data_dir, train=train, download=False)
    except RuntimeError:  # not found locally: fetch it (needs a connection)
        ds = cls(data_dir, train=train, download=True)
    x, y = ds.data, ds.targets
    if limit:
        x, y = x[:limit], y[:limit]
    x = x.unsqueeze(1).float() / 127.5 - 1                                    # (N, 1, 28, 28) in [-1, 1]
    if image_size != x.shape[-1]:
        pad = image_size - x.shape[-1]
        if pad < 0 or pad % 2:
            raise ValueError(f"cannot fit 28-px images into {image_size} px (pad must be even and ≥ 0).")
        x = F.pad(x, [pad // 2] * 4, value=-1.0)
    return x.contiguous(), y.long()


@dataclass
class BatchSchedule:
    """Batch ``i`` = a slice of the permutation of epoch ``i // batches_per_epoch`` (seeded by seed and epoch);
    with several processes each takes every ``world``-th index of the batch."""
    size: int          # number of examples
    batch: int         # global batch size
    seed: int
    rank: int = 0
    world: int = 1

    def __post_init__(self):
        if self.batch > self.size:
            raise ValueError(f"batch size {self.batch} exceeds the {self.size} training examples.")
        self.per_epoch = self.size // self.batch
        self._epoch, self._perm = -1, None

    def indices(self, i: int) -> torch.Tensor:
        epoch, pos = divmod(i, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 100003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.size, generator=g)
        idx = self._perm[pos * self.batch:(pos + 1) * self.batch]
        return idx[self.rank::self.world]
