"""Live training of image GANs (the lectures' MLP-GAN, DCGAN and conditional GAN on MNIST / Fashion-MNIST): the
engine behind the app's "Live training" tab (its image GAN), with no UI code.

    from ganlab.imagelive import ImageRun, presets
    run = ImageRun(presets.PRESETS[presets.LECTURE_MLP].config, data_dir="data")   # lecture A's MLP-GAN
    run.train_for(10.0)                 # ten seconds of ganlab.train.Trainer steps
    snap = run.snapshot()               # grid PNG, losses, mean D, class histogram, FD curve, ...
    run.save_gif("run.gif"), run.save_checkpoint("my-mlp-gan")

Modules: config (the one table of settings), data (finding / downloading the data, kept per process), engine
(a run: the trainer stepped a slice at a time, and what the page shows), presets (architecture presets and
one-click experiments), runs (runs in worker processes; the line of visitors waiting for a core).
"""
from .config import (
                     BY_NAME,
                     FIELDS,
                     LIVE_FIELDS,
                     NET_FIELDS,
                     RESTART_FIELDS,
                     ImageConfig,
                     from_dict,
                     to_dict,
)
from .engine import ImageRun

__all__ = ["BY_NAME", "FIELDS", "LIVE_FIELDS", "NET_FIELDS", "RESTART_FIELDS", "ImageConfig", "ImageRun",
           "from_dict", "to_dict"]
