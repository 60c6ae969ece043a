"""The live image GAN's settings: ONE typed table of fields drives the config class, its validation, the presets'
format, what may change while training, and the tab's controls (ranges, defaults, labels), as the toy's does
(:mod:`ganlab.toy.config`, whose :class:`~ganlab.toy.config.Field` and value check it shares).

The table's defaults are lecture A's MLP-GAN on MNIST (``../shared/docs/lecture-notes.md``): 96-d uniform
noise, Adam 1e-3 with β1 0.5, batch 128, the non-saturating BCE loss. :func:`train_config` turns a config
into the :class:`ganlab.train.TrainConfig` of the one training loop ganlab has.
"""
from __future__ import annotations

import dataclasses

from .. import data
from ..losses import LOSSES
from ..toy.config import MAX_SEED, Field, check_value
from ..train import TrainConfig

ARCHS = ("mlp", "dcgan", "cgan")          # ganlab.models families that train live (mlp.py, dcgan.py, cgan.py)
ARCH_NAMES = {"mlp": "MLP-GAN", "dcgan": "DCGAN", "cgan": "conditional GAN"}
LATENT_DISTS = ("uniform", "normal")      # the latent prior: U(-1, 1)^z_dim as in lecture A, or N(0, I)

FIELDS: tuple[Field, ...] = (
    # name                type   default            range             live   help
    Field("arch",          str,   "mlp",             ARCHS,            False, "architecture", net=True),
    Field("dataset",       str,   "mnist",           tuple(data.DATASETS), False, "dataset"),
    Field("seed",          int,   0,                 (0, MAX_SEED),    False, "seed"),
    Field("loss",          str,   "non-saturating",  LOSSES,           True,  "loss"),
    Field("lr_g",          float, 1e-3,              (1e-6, 0.1),      True,  "G learning rate"),
    Field("lr_d",          float, 1e-3,              (1e-6, 0.1),      True,  "D learning rate"),
    Field("beta1",         float, 0.5,               (0.0, 0.99),      True,  "Adam β1 (both nets)", 0.05),
    Field("beta2",         float, 0.999,             (0.5, 0.999),     True,  "Adam β2 (both nets)", 0.001),
    Field("batch",         int,   128,               (8, 512),         True,  "batch size", 8),
    Field("label_smoothing", float, 0.0,             (0.0, 0.5),       True,  "label smoothing (subtracted from "
                                                                              "D's real target)", 0.05),
    Field("d_steps",       int,   1,                 (1, 10),          True,  "D steps per G step", 1),
    Field("gp_weight",     float, 10.0,              (0.0, 50.0),      True,  "gradient-penalty weight λ "
                                                                              "(WGAN-GP)", 1),
    Field("mode_seeking",  float, 0.0,               (0.0, 2.0),       True,  "mode-seeking λ (MSGAN; 0 = off)",
                                                                              0.05),
    Field("ema_decay",     float, 0.0,               (0.0, 0.999),     False, "EMA decay of G (0 = off)", 0.001),
    Field("z_dim",         int,   96,                (1, 256),         False, "latent size", 1, net=True),
    Field("latent_dist",   str,   "uniform",         LATENT_DISTS,     False, "latent distribution", net=True),
)
BY_NAME = {f.name: f for f in FIELDS}
LIVE_FIELDS = tuple(f.name for f in FIELDS if f.live)        # may change while training
RESTART_FIELDS = tuple(f.name for f in FIELDS if not f.live)  # a change starts a new run
NET_FIELDS = tuple(f.name for f in FIELDS if f.net)


def _post_init(self) -> None:
    for f in FIELDS:
        object.__setattr__(self, f.name, check_value(f, getattr(self, f.name)))


ImageConfig = dataclasses.make_dataclass(
    "ImageConfig", [(f.name, f.type, dataclasses.field(default=f.default)) for f in FIELDS],
    namespace={"__post_init__": _post_init, "__module__": __name__,
               "__doc__": "A live image GAN's settings (frozen; fields and ranges from FIELDS); invalid values "
                          "raise ValueError. dataclasses.replace(cfg, lr_g=1e-4) makes a changed copy."},
    frozen=True)


def from_dict(values: dict) -> ImageConfig:
    """A config from a dict of field values (a form, an API call, a GIF's settings): missing fields take their
    defaults, unknown ones are an error."""
    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise ValueError(f"unknown image-GAN settings: {', '.join(map(str, unknown))[:200]}.")
    return ImageConfig(**values)


def to_dict(cfg: ImageConfig) -> dict:
    return dataclasses.asdict(cfg)


def train_settings(cfg: ImageConfig) -> dict:
    """The TrainConfig fields the live fields set (what Trainer.update takes)."""
    return {"lr_g": cfg.lr_g, "lr_d": cfg.lr_d, "betas": (cfg.beta1, cfg.beta2), "batch": cfg.batch,
            "loss": cfg.loss, "d_steps": cfg.d_steps, "label_smoothing": cfg.label_smoothing,
            "gp_weight": cfg.gp_weight, "mode_seeking": cfg.mode_seeking}


def train_config(cfg: ImageConfig, data_dir: str = "data") -> TrainConfig:
    """The training loop's config for ``cfg``: the family's default network (models/mlp.py, dcgan.py, cgan.py)
    with the latent size and distribution of ``cfg``; the Trainer adds the dataset's class names."""
    model = {"z_dim": cfg.z_dim, "latent_dist": cfg.latent_dist}
    return TrainConfig(family=cfg.arch, dataset=cfg.dataset, data_dir=str(data_dir), seed=cfg.seed,
                       ema_decay=cfg.ema_decay, model=model, **train_settings(cfg))
