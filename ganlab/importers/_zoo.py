"""What the two facebookresearch/pytorch_GAN_zoo importers (``progan``, ``dcgan_zoo``) share: reading a
``model.save()`` file and choosing the generator.

A zoo checkpoint is ``torch.save({'config': BaseConfig, 'netG': state, 'netD': state, 'avgG': state})``. The
only class it pickles is ``models.utils.config.BaseConfig``, a bag of attributes; ``ZooConfig`` stands in for it
under the weights-only loader, so no zoo code is needed or run.

Which generator: the lecture loads through ``torch.hub.load('facebookresearch/pytorch_GAN_zoo:hub', ...)``, and
the ``hub`` branch's ``BaseGAN.updateSolversDevice`` rebuilds ``avgG`` as a copy of ``netG`` after loading, so
what the lecture shows (``model.test(noise)``, with or without ``getAvG``) is **netG**. That is the default here;
``avg=True`` takes the checkpoint's averaged generator ``avgG`` instead (what the zoo's ``main`` branch returns
for ``getAvG=True``).
"""
from __future__ import annotations

import math
from pathlib import Path

from ..models import CheckpointError
from . import _torchfile

CONFIG_CLASS = "models.utils.config.BaseConfig"
# the zoo's loss → the generator's last activation (models/loss_criterions/base_loss_criterions.py)
ACTIVATION = {"DCGAN": "tanh", "MSE": "tanh", "WGANGP": "none", "WGANGP2": "none", "Logistic": "none"}


class ZooConfig:
    """Stand-in for the zoo's ``BaseConfig``: the weights-only loader fills its ``__dict__`` and nothing else."""


def keys(path) -> set[str]:
    """Strings of the file's pickle (cheap, nothing built); empty unless it is a zoo ``model.save()`` file."""
    names = _torchfile.state_keys(Path(path))
    return names if {"netG", "config"} <= names else set()


OPTIONS = {"avg": (False, True)}   # both zoo importers' own option (checked by ganlab.importers.check_options)


def open_checkpoint(name: str, path, avg: bool = False) -> tuple[str, dict, dict, str]:
    """A zoo importer's start: (description for errors, upstream config as a dict, the chosen generator's state
    dict, "netG" or "avgG")."""
    what = f"{path} ({name})"
    return (what,) + load(Path(path), what, avg)


def load(path, what: str, avg: bool = False) -> tuple[dict, dict, str]:
    """(upstream config as a dict, the chosen generator's state dict, "netG" or "avgG")."""
    ck = _torchfile.load(Path(path), what, stand_ins={CONFIG_CLASS: ZooConfig})
    if not isinstance(ck, dict) or "netG" not in ck or not isinstance(ck.get("config"), ZooConfig):
        raise CheckpointError(f"{what}: not a pytorch_GAN_zoo model.save() file (expected a dict with "
                              "'config', 'netG', 'netD', 'avgG').")
    cfg = {k: v for k, v in vars(ck["config"]).items() if isinstance(v, (int, float, str, bool, list, type(None)))}
    bad = sorted(k for k, v in cfg.items() for x in (v if isinstance(v, list) else [v])
                 if isinstance(x, float) and not math.isfinite(x))
    if bad:
        raise CheckpointError(f"{what}: config values {bad[:4]} are NaN or infinite.")
    which = "avgG" if avg else "netG"
    if which not in ck:
        raise CheckpointError(f"{what}: the checkpoint has no averaged generator 'avgG'; import without avg.")
    if cfg.get("attribKeysOrder") or cfg.get("categoryVectorDim", 0):
        raise CheckpointError(f"{what}: AC-GAN (attribute-conditioned) zoo models are not supported.")
    if cfg.get("lossCriterion") not in ACTIVATION:
        raise CheckpointError(f"{what}: unknown zoo loss {cfg.get('lossCriterion')!r} (known: {', '.join(ACTIVATION)}).")
    return cfg, _torchfile.tensor_dict(ck[which], f"{what} [{which}]"), which


def upstream_config(cfg: dict, which: str) -> dict:
    return {**cfg, "generator": which, "hub_branch_note": "torch.hub (branch hub) serves netG; avgG = main branch"}
