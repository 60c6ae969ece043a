"""The all-convolutional DCGAN generator of Radford et al. 2015, as the PyTorch DCGAN tutorial
(``dcgan_faces_tutorial.py``, the lecture's 64-px ``netG``) and facebookresearch/pytorch_GAN_zoo (``DCGAN_nets.GNet``)
build it; imported checkpoints of both land here.

G: z (N, z_dim) viewed as (N, z_dim, 1, 1) → ConvTranspose 4×4 stride 1 (→ 4×4) → BatchNorm → ReLU →
[ConvTranspose 4×4 stride 2 (2× up) → BatchNorm → ReLU] per further entry of ``feature_maps`` → ConvTranspose
4×4 stride 2 to ``channels`` → tanh (or nothing: the zoo drops it for its WGAN-GP / logistic losses). No conv has
a bias (BatchNorm's shift takes its place). The tutorial's 64-px net is ``feature_maps = (ngf·8, ngf·4, ngf·2,
ngf)`` with ngf = 64; the zoo's is ``dimG · 2**depth, …, dimG``.

BatchNorm: ``generate`` runs in eval mode (running statistics), so an image does not depend on its batch; both
upstreams sample in training mode by default (the zoo never calls ``.eval()``), which ``model.train()`` reproduces.
Deviation from the upstreams: none in the forward pass. ganlab has no discriminator for this family: it only
serves imported weights (``Discriminator = None``).
"""
from dataclasses import dataclass

import torch
from torch import nn

from .base import GANGenerator


@dataclass
class RadfordDCGANConfig:
    z_dim: int = 100                       # latent size (the tutorial's nz, the zoo's dimLatentVector)
    feature_maps: tuple = (256, 128, 64, 32)   # channels at 4×4, 8×8, …; default = the tutorial at ngf 32 (< 10 MB)
    channels: int = 3                      # output colour channels (nc / dimOutput)
    image_size: int = 64                   # 4 · 2**len(feature_maps); checked
    output_activation: str = "tanh"        # "tanh" or "none" (zoo models trained with WGAN-GP / logistic loss)
    bn_eps: float = 1e-5                   # BatchNorm2d's default epsilon (both upstreams)
    num_classes: int = 0                   # unconditional
    class_names: tuple = ()
    latent_dist: str = "normal"            # z ~ N(0, I)


class Generator(GANGenerator):
    family = "dcgan-radford"
    display_name = "DCGAN (Radford et al.)"
    config_class = RadfordDCGANConfig

    def __init__(self, config):
        super().__init__(config)
        c = self.config
        fm = [int(f) for f in c.feature_maps]
        if not fm or min(fm) < 1:
            raise ValueError(f"feature_maps must be a non-empty list of channel counts, got {c.feature_maps}.")
        if c.image_size != 4 * 2 ** len(fm):
            raise ValueError(f"{len(fm)} feature-map stages give {4 * 2 ** len(fm)} px images, not {c.image_size}.")
        if c.output_activation not in ("tanh", "none"):
            raise ValueError(f"output_activation must be 'tanh' or 'none', got {c.output_activation!r}.")
        if c.num_classes:
            raise ValueError("this DCGAN family is unconditional.")
        ins = [c.z_dim] + fm[:-1]
        self.blocks = nn.ModuleList([
            nn.Sequential(nn.ConvTranspose2d(i, o, 4, 1 if k == 0 else 2, 0 if k == 0 else 1, bias=False),
                          nn.BatchNorm2d(o, eps=c.bn_eps), nn.ReLU())
            for k, (i, o) in enumerate(zip(ins, fm))])
        self.out = nn.ConvTranspose2d(fm[-1], c.channels, 4, 2, 1, bias=False)

    def forward(self, z, labels=None):
        x = z.view(z.shape[0], self.config.z_dim, 1, 1)                      # (N, z_dim, 1, 1)
        for block in self.blocks:
            x = block(x)                                                      # (N, fm[0], 4, 4), then 2× each
        x = self.out(x)                                                       # (N, C, S, S)
        return torch.tanh(x) if self.config.output_activation == "tanh" else x


Discriminator = None  # import-only family: ganlab does not train it
