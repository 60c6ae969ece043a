"""MLP-GAN: the fully connected GAN of Goodfellow et al. (2014), as the lecture builds it for MNIST.

G: z → 1024 → 1024 → 784 (ReLU, tanh out); D: 784 → 256 → 256 → 1 (LeakyReLU 0.01, logit out).
With z_dim 4 the reference sizes give the lecture's parameter counts: G 1,858,320, D 267,009.

Deviations from Goodfellow et al. (2014): D uses LeakyReLU instead of maxout units and no dropout; G uses
ReLU throughout with a tanh output (the paper's G mixed rectifier and sigmoid units); the default latent is 96-d
uniform as in the lecture. The loss is train.py's ``loss`` option (the paper's practical choice is the
non-saturating one, the default).
"""
from dataclasses import dataclass

import torch
from torch import nn

from .base import GANGenerator


@dataclass
class MLPConfig:
    z_dim: int = 96                 # latent size (the lecture's 96-d uniform latent)
    latent_dist: str = "uniform"    # "uniform" U(-1, 1) as in the lecture, or "normal"
    g_hidden: int = 1024            # width of G's two hidden layers
    d_hidden: int = 256             # width of D's two hidden layers
    image_size: int = 28            # square images, side in pixels
    channels: int = 1               # 1 = greyscale
    num_classes: int = 0            # always unconditional; kept so every family has the same fields
    class_names: tuple = ()         # names of the dataset's classes (for evaluation and display)


class Generator(GANGenerator):
    family = "mlp"
    display_name = "MLP GAN"
    config_class = MLPConfig

    def __init__(self, config):
        super().__init__(config)
        c = self.config
        out = c.channels * c.image_size**2
        self.net = nn.Sequential(
            nn.Linear(c.z_dim, c.g_hidden), nn.ReLU(),
            nn.Linear(c.g_hidden, c.g_hidden), nn.ReLU(),
            nn.Linear(c.g_hidden, out), nn.Tanh(),
        )

    def forward(self, z, labels=None):
        c = self.config
        return self.net(z).view(-1, c.channels, c.image_size, c.image_size)  # (N, C, H, W)


class Discriminator(nn.Module):
    def __init__(self, config):
        super().__init__()
        c = config
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c.channels * c.image_size**2, c.d_hidden), nn.LeakyReLU(0.01),
            nn.Linear(c.d_hidden, c.d_hidden), nn.LeakyReLU(0.01),
            nn.Linear(c.d_hidden, 1),
        )

    def forward(self, x, labels=None) -> torch.Tensor:
        return self.net(x).squeeze(1)  # (N,) logits
