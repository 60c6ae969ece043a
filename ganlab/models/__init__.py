"""ganlab's model families, one file each; ``FAMILIES`` maps a checkpoint's ``family`` to its module."""
from . import cgan, dcgan, mlp, stylegan2
from . import dcgan_radford, progan  # imported weights: DCGAN (tutorial, GAN zoo), the zoo's ProGAN
from .base import MAX_SAMPLES, CheckpointError, GANGenerator

FAMILIES = {m.Generator.family: m for m in (mlp, dcgan, cgan, stylegan2,
                                               dcgan_radford, progan)}
CONFIGS = {name: m.Generator.config_class for name, m in FAMILIES.items()}

__all__ = ["FAMILIES", "CONFIGS", "GANGenerator", "CheckpointError", "MAX_SAMPLES"]
