"""The toy GAN's settings: ONE typed table of fields drives the config class, its validation, the presets'
format, what may change while training, and the Live tab's controls (their ranges, defaults and labels).

Adding a hyper-parameter is one line in :data:`FIELDS` (and the code that reads it). TensorFlow Playground
does the same with its table of properties (``src/state.ts``). The names are ganlab's everywhere: ``batch`` as
in the image trainer, ``z_dim`` and ``latent_dist`` as in every generator's config (``noise`` is StyleGAN's
synthesis noise); the names they replace (:data:`OLD_NAMES`) are still read, with a deprecation note.
"""
from __future__ import annotations

import dataclasses

from .. import vocabulary
from ..settings_table import MAX_SEED, Field, check_value, config_class, config_from  # noqa: F401  (toy.config's names)
from .data import DATASETS
from .losses import LOSSES
from .nets import ACTIVATIONS
from .optim import OPTIMIZERS

LATENT_DISTS = ("normal", "uniform")    # the latent prior: N(0, I) or U(-1, 1)^z_dim

FIELDS: tuple[Field, ...] = (
    # name                type   default         range              live   help
    Field("dataset",       str,   "parabola",     DATASETS,          False, "dataset"),
    Field("loss",          str,   "non-saturating", LOSSES,          True,  "loss"),
    Field("seed",          int,   0,              (0, MAX_SEED),     False, "seed"),
    Field("lr_g",          float, 3e-4,           (1e-6, 1.0),       True,  "G learning rate"),
    Field("lr_d",          float, 3e-4,           (1e-6, 1.0),       True,  "D learning rate"),
    Field("d_steps",       int,   1,              (1, 10),           True,  "D steps per G step", 1),
    Field("batch",         int,   32,             (8, 512),          True,  "batch size", 8),
    Field("beta1_g",       float, 0.9,            (0.0, 0.99),       True,  "G β1 (Adam; SGD momentum)", 0.01),
    Field("beta2_g",       float, 0.999,          (0.5, 0.999),      True,  "G β2 (Adam; RMSprop α)", 0.001),
    Field("beta1_d",       float, 0.9,            (0.0, 0.99),       True,  "D β1", 0.01),
    Field("beta2_d",       float, 0.999,          (0.5, 0.999),      True,  "D β2", 0.001),
    Field("label_smoothing", float, 0.0,          (0.0, 0.5),        True,  "label smoothing (subtracted from "
                                                                            "D's real target)", 0.05),
    Field("top_k",         float, 1.0,            (0.1, 1.0),        True,  "top-k: fraction of fakes G learns "
                                                                            "from (1 = all)", 0.05),
    Field("top_k_anneal_steps", int, 0,           (0, 10_000),       True,  "top-k anneal iterations", 100),
    Field("gp_weight",     float, 10.0,           (0.0, 50.0),       True,  "gradient-penalty weight λ "
                                                                            "(WGAN-GP)", 1),
    Field("ema_decay",     float, 0.0,            (0.0, 0.999),      True,  "EMA decay of G (0 = off)", 0.001),
    Field("naive",         bool,  False,          None,              True,  "naive generator (nearest real point)"),
    Field("optimizer",     str,   "adam",         OPTIMIZERS,        False, "optimizer (both nets)"),
    Field("z_dim",         int,   10,             (1, 16),           False, "latent dimension", 1, net=True),
    Field("latent_dist",   str,   "normal",       LATENT_DISTS,      False, "latent distribution", net=True),
    Field("g_depth",       int,   2,              (0, 6),            False, "G hidden layers", 1, net=True),
    Field("g_width",       int,   50,             (2, 256),          False, "G width", 1, net=True),
    Field("g_activation",  str,   "relu",         tuple(ACTIVATIONS), False, "G activation", net=True),
    Field("d_depth",       int,   2,              (0, 6),            False, "D hidden layers", 1, net=True),
    Field("d_width",       int,   50,             (2, 256),          False, "D width", 1, net=True),
    Field("d_activation",  str,   "relu",         tuple(ACTIVATIONS), False, "D activation", net=True),
)
BY_NAME = {f.name: f for f in FIELDS}
LIVE_FIELDS = tuple(f.name for f in FIELDS if f.live)        # may change while training
RESTART_FIELDS = tuple(f.name for f in FIELDS if not f.live)  # a change starts a new run
NET_FIELDS = tuple(f.name for f in FIELDS if f.net)
OLD_NAMES = {"batch_size": "batch", "latent_dim": "z_dim", "noise": "latent_dist"}   # earlier versions' names


def current_names(values: dict, where: str = "toy settings") -> dict:
    """``values`` with the settings' old names (:data:`OLD_NAMES`) replaced by the current ones, a
    FutureWarning each: what a saved run, an exported checkpoint or older code may still say."""
    values, notes = vocabulary.renamed(values, OLD_NAMES, where)
    vocabulary.warn(notes, stacklevel=4)                          # the line that called from_dict, update, ...
    return values


ToyConfig = config_class(
    "ToyConfig", FIELDS, __name__, "The toy GAN's settings (frozen; fields and ranges from FIELDS); invalid values "
                                   "raise ValueError. dataclasses.replace(cfg, lr_g=1e-3) makes a changed copy.")


def from_dict(values: dict) -> ToyConfig:
    """A config from a dict of field values (a form, an API call, saved JSON): missing fields take their
    defaults, unknown ones are an error; old names are converted (:func:`current_names`)."""
    return config_from(ToyConfig, current_names(values), "toy settings")


def to_dict(cfg: ToyConfig) -> dict:
    return dataclasses.asdict(cfg)


def lecture_config(**changes) -> ToyConfig:
    """The lecture's parabola GAN: G 10 → 50 → 50 → 2 ReLU, D 2 → 50 → 50 → 1 sigmoid, BCE, Adam 3e-4, batch
    32 (the table's defaults), with ``changes``."""
    return ToyConfig(**current_names(changes))


def default_config(**changes) -> ToyConfig:
    """ganlab's recommended settings: on the parabola a grid JS of about 0.03 bits within 3-5k iterations.

    Compared with the lecture: a 2-D latent (the data is a curve; fewer idle latent directions), 64-unit
    layers, batch 64, and the settings of modern GANs: D learns faster than G (two time-scale rule,
    Heusel et al. 2017: 1e-3 vs 5e-4), Adam with β1 = 0 and β2 = 0.99 (as StyleGAN2) so the momentum does
    not carry G round the equilibrium, and pictures/metrics from an EMA of G's weights (decay 0.99).
    """
    return ToyConfig(**{**dict(z_dim=2, g_width=64, d_width=64, lr_g=5e-4, lr_d=1e-3, beta1_g=0.0,
                               beta2_g=0.99, beta1_d=0.0, beta2_d=0.99, batch=64, ema_decay=0.99),
                        **current_names(changes)})
