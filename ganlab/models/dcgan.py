"""DCGAN (Radford et al. 2015) in the InfoGAN-appendix form the lecture uses for MNIST (Chen et al. 2016).

G: fc 1024 → fc 7·7·128 (ReLU + BatchNorm) → ConvTranspose 64 4×4 s2 (ReLU + BatchNorm) → ConvTranspose C
4×4 s2 → tanh. D: conv 32 5×5 → LeakyReLU → maxpool 2 → conv 64 5×5 → LeakyReLU → maxpool 2 → fc → LeakyReLU
→ fc 1. The default fc width is 256 instead of the reference 1024 so that G's weights stay under 10 MB
(the reference fc 1024 → 6272 layer alone holds 6.4 M parameters, 25.7 MB); ``reference_config()`` gives
the full-size net.

Deviations from Radford et al.'s DCGAN guidelines (those of the InfoGAN appendix / the lecture): G begins
with two fully connected layers instead of a projected-and-reshaped input; D down-samples with max-pooling
after unpadded 5×5 convolutions (the guidelines: strided convolutions, no pooling), has no BatchNorm and ends in
fully connected layers; fc widths are 256 rather than 1024 (above). Initialisation N(0, 0.02) and
BatchNorm in G follow the paper.
"""
from dataclasses import dataclass

import torch
from torch import nn

from .base import GANGenerator, init_weights_dcgan


@dataclass
class DCGANConfig:
    z_dim: int = 64                 # latent size, N(0, I)
    latent_dist: str = "normal"     # "normal" or "uniform"
    g_fc: int = 256                 # G's first fc width (reference 1024; smaller keeps weights < 10 MB)
    g_channels: int = 64            # channels of the 7×7 map G reshapes to, half that at 14×14 (reference 128)
    d_channels: int = 32            # D's first conv width (then twice that)
    d_fc: int = 256                 # D's hidden fc width (reference 1024)
    image_size: int = 28            # 28 for MNIST-sized data (two stride-2 upsamplings from 7×7)
    channels: int = 1
    num_classes: int = 0            # 0 = unconditional; >0 is the conditional family (cgan.py)
    class_names: tuple = ()
    embed_dim: int = 10             # label embedding size (conditional only; the lecture's nn.Embedding(10, 10))


def reference_config(**overrides) -> DCGANConfig:
    return DCGANConfig(**{"g_fc": 1024, "g_channels": 128, "d_fc": 1024, **overrides})


class Generator(GANGenerator):
    family = "dcgan"
    display_name = "DCGAN"
    config_class = DCGANConfig

    def __init__(self, config):
        super().__init__(config)
        c = self.config
        if c.image_size % 4:
            raise ValueError(f"DCGAN image_size must be a multiple of 4, got {c.image_size}.")
        self.base = c.image_size // 4
        ch = c.g_channels
        self.fc = nn.Sequential(
            nn.Linear(self.input_dim(), c.g_fc), nn.ReLU(), nn.BatchNorm1d(c.g_fc),
            nn.Linear(c.g_fc, ch * self.base**2), nn.ReLU(), nn.BatchNorm1d(ch * self.base**2),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1), nn.ReLU(), nn.BatchNorm2d(ch // 2),
            nn.ConvTranspose2d(ch // 2, c.channels, 4, 2, 1), nn.Tanh(),
        )
        self.apply(init_weights_dcgan)

    def input_dim(self) -> int:
        return self.config.z_dim

    def embed_input(self, z, labels):
        return z

    def forward(self, z, labels=None):
        h = self.fc(self.embed_input(z, labels))                              # (N, ch·b·b)
        h = h.view(-1, self.config.g_channels, self.base, self.base)          # (N, ch, b, b)
        return self.deconv(h)                                                 # (N, C, 4b, 4b)


class Discriminator(nn.Module):
    def __init__(self, config, in_channels: int | None = None):
        super().__init__()
        c = config
        ch = c.d_channels
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels or c.channels, ch, 5), nn.LeakyReLU(0.2), nn.MaxPool2d(2),
            nn.Conv2d(ch, 2 * ch, 5), nn.LeakyReLU(0.2), nn.MaxPool2d(2),
            nn.Flatten(),
        )
        side = ((c.image_size - 4) // 2 - 4) // 2                            # 28 → 24 → 12 → 8 → 4
        self.fc = nn.Sequential(nn.Linear(2 * ch * side**2, c.d_fc), nn.LeakyReLU(0.2))
        self.out = nn.Linear(c.d_fc, 1)
        self.apply(init_weights_dcgan)

    def features(self, x, labels=None) -> torch.Tensor:
        return self.fc(self.conv(x))                                           # (N, d_fc)

    def forward(self, x, labels=None) -> torch.Tensor:
        return self.out(self.features(x, labels)).squeeze(1)                  # (N,) logits
