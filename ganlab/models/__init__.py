"""ganlab's model families, one file each; ``FAMILIES`` maps a checkpoint's ``family`` to its module."""
from . import cgan, dcgan, mlp, stylegan2
from . import dcgan_radford, progan, stylegan1  # imported weights: DCGAN (tutorial, zoo), ProGAN, StyleGAN v1
from .base import MAX_SAMPLES, CheckpointError, GANGenerator

FAMILIES = {m.Generator.family: m for m in (mlp, dcgan, cgan, stylegan2,
                                               dcgan_radford, progan, stylegan1)}
CONFIGS = {name: m.Generator.config_class for name, m in FAMILIES.items()}


def display_name(family: str) -> str:
    """A family's name for people ("StyleGAN2"); an unknown family's key as it is ("?" when empty)."""
    return FAMILIES[family].Generator.display_name if family in FAMILIES else (family or "?")


__all__ = ["FAMILIES", "CONFIGS", "GANGenerator", "CheckpointError", "MAX_SAMPLES", "display_name"]
