"""ganlab's model families, one file each; ``FAMILIES`` maps a checkpoint's ``family`` to its module."""
from . import cgan, dcgan, mlp, stylegan2
from . import dcgan_radford, progan, stylegan1  # imported weights: DCGAN (tutorial, zoo), ProGAN, StyleGAN v1
from .base import MAX_SAMPLES, CheckpointError, GANGenerator

FAMILIES = {m.Generator.family: m for m in (mlp, dcgan, cgan, stylegan2,
                                               dcgan_radford, progan, stylegan1)}
CONFIGS = {name: m.Generator.config_class for name, m in FAMILIES.items()}

__all__ = ["FAMILIES", "CONFIGS", "GANGenerator", "CheckpointError", "MAX_SAMPLES"]
