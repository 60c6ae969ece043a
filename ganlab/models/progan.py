"""Progressive GAN generator (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality, Stability,
and Variation") as facebookresearch/pytorch_GAN_zoo builds it (``models/networks/progressive_conv_net.GNet``):
the lecture's ``torch.hub.load(..., 'PGAN', model_name='celebAHQ-512')``. Imported weights land here.

G: pixel norm of z → equalised-lr linear z → 16·C0 (a 4×4 map) → leaky ReLU → pixel norm → 3×3 conv → leaky ReLU →
pixel norm; then per further scale: nearest 2× upsampling → [3×3 conv → leaky ReLU → pixel norm] × 2; the last
scale's 1×1 toRGB; an optional last activation (none for WGAN-GP, tanh for the zoo's DCGAN / MSE losses).

Equalised learning rate as the zoo computes it: the layer runs with its stored weights and bias and the *output*
is multiplied by He's constant sqrt(2 / fan_in) (so the bias is scaled too). ``alpha`` blends in the previous
scale's toRGB output (upsampled) as during the zoo's fade-in; a finished model has alpha = 0 (only the last
scale), and then the lower scales' toRGB layers are unused: they are kept so that the weights stay complete.
Deviation from the zoo: none in the forward pass. No discriminator: ganlab only serves imported weights.
"""
import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .base import GANGenerator


@dataclass
class ProGANConfig:
    z_dim: int = 64                       # latent size (the zoo's dimLatentVector)
    scale_channels: tuple = (64, 64, 32)  # channels per scale from 4×4 up: depthScale0 then depthOtherScales
    channels: int = 3                     # output colour channels (dimOutput)
    image_size: int = 16                  # 4 · 2**(len(scale_channels) − 1); checked
    leaky_relu: float = 0.2               # leakyReluLeak
    equalized_lr: bool = True             # equalizedlR: outputs scaled by He's constant at run time
    pixel_norm: bool = True               # perChannelNormalization (the zoo's forward needs it)
    alpha: float = 0.0                    # fade-in weight of the previous scale (0 = trained to the end)
    output_activation: str = "none"       # "none" (WGAN-GP, the zoo's celebAHQ models) or "tanh"
    num_classes: int = 0                  # unconditional
    class_names: tuple = ()
    latent_dist: str = "normal"           # z ~ N(0, I)


def pixel_norm(x, eps=1e-8):
    """Normalise each position's feature vector to unit mean square (over dim 1)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def upscale2x(x):
    """Nearest-neighbour 2× upsampling."""                                   # (N, C, H, W) → (N, C, 2H, 2W)
    return x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)


class EqualizedConv2d(nn.Conv2d):
    """Conv2d whose output (bias included) is multiplied by He's constant sqrt(2 / fan_in) when equalised."""

    def __init__(self, in_ch, out_ch, kernel, equalized=True):
        super().__init__(in_ch, out_ch, kernel, padding=kernel // 2)
        self.he = math.sqrt(2.0 / (in_ch * kernel * kernel)) if equalized else 1.0

    def forward(self, x):
        return super().forward(x) * self.he


class EqualizedLinear(nn.Linear):
    def __init__(self, in_f, out_f, equalized=True):
        super().__init__(in_f, out_f)
        self.he = math.sqrt(2.0 / in_f) if equalized else 1.0

    def forward(self, x):
        return super().forward(x) * self.he


class Generator(GANGenerator):
    family = "progan"
    display_name = "ProGAN (Karras et al. 2018)"
    config_class = ProGANConfig

    def __init__(self, config):
        super().__init__(config)
        c = self.config
        ch = [int(v) for v in c.scale_channels]
        if not ch or min(ch) < 1:
            raise ValueError(f"scale_channels must be a non-empty list of channel counts, got {c.scale_channels}.")
        if c.image_size != 4 * 2 ** (len(ch) - 1):
            raise ValueError(f"{len(ch)} scales give {4 * 2 ** (len(ch) - 1)} px images, not {c.image_size}.")
        if not c.pixel_norm:
            raise ValueError("the zoo's generator always pixel-normalises its 4×4 map: pixel_norm=False is unsupported.")
        if not 0.0 <= c.alpha <= 1.0 or (c.alpha > 0 and len(ch) < 2):
            raise ValueError(f"alpha must be in [0, 1] (and > 0 only with two or more scales), got {c.alpha}.")
        if c.output_activation not in ("none", "tanh"):
            raise ValueError(f"output_activation must be 'none' or 'tanh', got {c.output_activation!r}.")
        if c.num_classes:
            raise ValueError("ProGAN here is unconditional.")
        eq = c.equalized_lr
        self.format_layer = EqualizedLinear(c.z_dim, 16 * ch[0], eq)
        self.scale0 = EqualizedConv2d(ch[0], ch[0], 3, eq)
        self.scales = nn.ModuleList([nn.ModuleList([EqualizedConv2d(a, b, 3, eq), EqualizedConv2d(b, b, 3, eq)])
                                     for a, b in itertools.pairwise(ch)])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(b, c.channels, 1, eq) for b in ch])

    def act(self, x):
        return pixel_norm(F.leaky_relu(x, self.config.leaky_relu))

    def forward(self, z, labels=None):
        c = self.config
        x = pixel_norm(z.reshape(z.shape[0], -1))                             # (N, z_dim)
        x = F.leaky_relu(self.format_layer(x), c.leaky_relu)                  # (N, 16·C0)
        x = pixel_norm(x.view(x.shape[0], -1, 4, 4))                          # (N, C0, 4, 4)
        x = self.act(self.scale0(x))
        low = None
        for k, (conv_a, conv_b) in enumerate(self.scales):
            if c.alpha > 0 and k == len(self.scales) - 1:
                low = upscale2x(self.to_rgb[-2](x))                           # previous scale's image, upsampled
            x = upscale2x(x)                                                  # (N, Ck, 2H, 2W)
            x = self.act(conv_b(self.act(conv_a(x))))
        x = self.to_rgb[-1](x)                                                # (N, C, S, S)
        if low is not None:
            x = c.alpha * low + (1.0 - c.alpha) * x
        return torch.tanh(x) if c.output_activation == "tanh" else x


Discriminator = None  # import-only family: ganlab does not train it
