"""Live training of the lectures' 2-D toy GAN: the engine behind the "Live training" tab (no UI code, no torch).

    from ganlab.toy import ToyTrainer, lecture_config, default_config, render_frame
    t = ToyTrainer(lecture_config(seed=0))     # the lecture's parabola GAN
    t.step(1000)                               # 1000 iterations: d_steps D updates + 1 G update each
    frame = render_frame(t)                    # (400, 760, 3) uint8: the plane and the curves

Modules: config (the one table of settings), data (datasets, CSV/drawing parsing), nets (numpy MLP with double
backprop, activations as data), losses, optim, metrics (grid JS divergence, sliced Wasserstein), curves (the
curve log), trainer, render (PIL), gif (imageio), presets (one-click experiments), runs (live runs in worker
processes), blas (one BLAS thread); torch_export (the nets as torch modules, checkpoints) imports torch and is
loaded only on export.
"""
from .config import (
                     BY_NAME,
                     DATASETS,
                     FIELDS,
                     LIVE_FIELDS,
                     NET_FIELDS,
                     RESTART_FIELDS,
                     Field,
                     ToyConfig,
                     default_config,
                     from_dict,
                     lecture_config,
                     to_dict,
)
from .data import MAX_CSV_BYTES, MAX_POINTS, MIN_POINTS, points_from_csv, points_from_strokes
from .gif import save_gif
from .losses import LOSSES
from .optim import OPTIMIZERS
from .render import render_frame
from .trainer import ToyTrainer

__all__ = [
                     "BY_NAME",
                     "DATASETS",
                     "FIELDS",
                     "LIVE_FIELDS",
                     "LOSSES",
                     "MAX_CSV_BYTES",
                     "MAX_POINTS",
                     "MIN_POINTS",
                     "NET_FIELDS",
                     "OPTIMIZERS",
                     "RESTART_FIELDS",
                     "Field",
                     "ToyConfig",
                     "ToyTrainer",
                     "default_config",
                     "from_dict",
                     "lecture_config",
                     "points_from_csv",
                     "points_from_strokes",
                     "render_frame",
                     "save_gif",
                     "to_dict",
]
