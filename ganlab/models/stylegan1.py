"""StyleGAN (v1) generator (Karras et al. 2019, "A Style-Based Generator Architecture for Generative Adversarial
Networks") as the lecture's PyTorch port defines it (lernapparat's conversion of NVIDIA's FFHQ weights:
``G_mapping`` + ``G_synthesis``); imported state dicts of that port land here.

- mapping z → w: pixel norm, ``mapping_layers`` equalised-lr linear layers (lr multiplier 0.01, gain √2) each
  followed by a leaky ReLU(0.2); w is broadcast to ``num_ws`` = 18 dlatents *whatever the resolution* (the port
  hard-codes 18: the 1024-px net uses all of them, smaller nets only the first 2 per block);
- synthesis: a learned 4×4 constant (+ bias), then per block two layers, each followed by the "epilogue": per-pixel
  noise scaled per channel → leaky ReLU(0.2) → instance norm → style modulation x·(1 + s) + b with (s, b) an
  affine map of that layer's dlatent (AdaIN). Blocks after the first upsample 2× (nearest), convolve 3×3 and blur
  with the filter stored in the file ([1,2,1]⊗[1,2,1]/16 in NVIDIA's release), then add the bias; from 128 px on
  the port fuses upsampling and convolution into a stride-2 transposed convolution with the 3×3 kernel summed into
  4×4 (``fused_upscale_from``). A 1×1 toRGB on the last block only (no skips, no tanh);
- truncation as the lecture's ``Truncation`` module: w' = lerp(w_avg, w, ψ) on the first ``cutoff`` dlatents
  (default ``truncation_cutoff`` = 8). The port's file has no average latent: the importer estimates ``w_avg`` as
  the mean of w over many seeded z; it is a buffer, so it can be replaced (``m.w_avg = tensor``).

Noise: v1 draws fresh noise on every call. ``synthesis(ws, noise=[...])`` takes one tensor per layer in the port's
order (4×4 epi1, 4×4 epi2, 8×8 epi1, …), shaped (N or 1, 1, r, r); ``noise_mode`` "const" uses per-layer buffers
drawn once from a fixed seed (deterministic images, the default of ``generate``), "random" fresh noise as the
port, "none" no noise. Deviations from the port: none in the arithmetic. No discriminator: import-only family.
"""
import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import latent
from .style import StyleGenerator

NOISE_SEED = 0x57F1  # seed of the "const" noise buffers
SQRT2 = math.sqrt(2)  # the port's gain of its leaky-ReLU layers


@dataclass
class StyleGAN1Config:
    z_dim: int = 64                          # input latent size (512 in the FFHQ port)
    w_dim: int = 64                          # dlatent size (512)
    mapping_layers: int = 8                  # dense layers of G_mapping (8)
    mapping_lr_mul: float = 0.01             # the mapping's learning-rate multiplier (scales weights and biases)
    num_ws: int = 18                         # dlatents the mapping broadcasts to: 18 in the port, any resolution
    block_channels: tuple = (64, 64, 64, 32)  # feature maps per block from 4×4 up (the port's nf(res − 1))
    image_size: int = 32                     # 4 · 2**(len(block_channels) − 1); checked
    channels: int = 3                        # output colour channels
    blur_taps: int = 3                       # side of the blur filter after each upsampling; 0 = no blur
    fused_upscale_from: int = 128            # blocks of this resolution and above use the fused up-conv (port rule)
    truncation_cutoff: int = 8               # dlatents truncated when no cutoff is given (Truncation's max_layer)
    use_noise: bool = True                   # per-layer noise inputs (the port's use_noise)
    const_input: bool = True                 # learned 4×4 constant; False = a dense layer of the first dlatent
    num_classes: int = 0                     # unconditional
    class_names: tuple = ()
    latent_dist: str = "normal"              # z ~ N(0, I)


def pixel_norm(x, eps=1e-8):
    return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + eps)


class ScaledLinear(nn.Module):
    """Linear layer with equalised learning rate: weight × (gain / √fan_in · lr_mul), bias × lr_mul at run time."""

    def __init__(self, in_f, out_f, gain=SQRT2, lr_mul=1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_f, in_f) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_f))
        self.w_mul, self.b_mul = gain * in_f ** -0.5 * lr_mul, lr_mul

    def forward(self, x):
        return F.linear(x, self.weight * self.w_mul, self.bias * self.b_mul)


class ScaledConv2d(nn.Module):
    """k×k convolution with equalised learning rate; with ``up`` it first doubles the resolution (nearest, or the
    fused transposed convolution when ``fused``) and blurs with the stored filter before adding the bias."""

    def __init__(self, in_ch, out_ch, kernel, gain=SQRT2, up=False, fused=False, blur_taps=0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.w_mul = gain * (in_ch * kernel**2) ** -0.5
        self.up, self.fused, self.kernel = up, fused, kernel
        if up and blur_taps:
            k = torch.tensor([1.0, 2.0, 1.0]) if blur_taps == 3 else torch.ones(blur_taps)
            self.register_buffer("blur", (k[:, None] * k[None, :] / (k.sum() ** 2))[None, None])   # (1, 1, t, t)
        else:
            self.blur = None

    def forward(self, x):
        w = self.weight * self.w_mul
        if not self.up:
            return F.conv2d(x, w, self.bias, padding=self.kernel // 2)
        if self.fused:                                                    # stride-2 transposed conv, 4×4 kernel
            w = F.pad(w.permute(1, 0, 2, 3), (1, 1, 1, 1))                   # (I, O, k+2, k+2)
            w = w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]
            x = F.conv_transpose2d(x, w, stride=2, padding=(w.shape[-1] - 1) // 2)   # (N, O, 2H, 2W)
        else:
            x = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)   # (N, I, 2H, 2W) nearest
            if self.blur is None:
                return F.conv2d(x, w, self.bias, padding=self.kernel // 2)
            x = F.conv2d(x, w, None, padding=self.kernel // 2)
        if self.blur is not None:
            c = x.shape[1]
            x = F.conv2d(x, self.blur.expand(c, -1, -1, -1), padding=(self.blur.shape[-1] - 1) // 2, groups=c)
        return x + self.bias.view(1, -1, 1, 1) if torch.is_grad_enabled() else x.add_(self.bias.view(1, -1, 1, 1))


class Epilogue(nn.Module):
    """noise → leaky ReLU → instance norm → style modulation, after every conv layer."""

    def __init__(self, ch, w_dim, res, index, use_noise=True):
        super().__init__()
        self.style = ScaledLinear(w_dim, 2 * ch, gain=1.0)
        self.noise_strength = nn.Parameter(torch.zeros(ch)) if use_noise else None
        if use_noise:
            g = torch.Generator().manual_seed(NOISE_SEED + index)
            self.register_buffer("noise_const", torch.randn(1, 1, res, res, generator=g))
        self.res = res

    def forward(self, x, w, noise):
        fast = not torch.is_grad_enabled()   # without autograd: in place on fresh tensors, the same arithmetic
        if noise is not None and self.noise_strength is not None:
            n = self.noise_strength.view(1, -1, 1, 1) * noise
            x = x.add_(n) if fast else x + n
        x = F.instance_norm(F.leaky_relu(x, 0.2, inplace=fast), eps=1e-5)
        style = self.style(w).view(-1, 2, x.shape[1], 1, 1)                  # (N, 2, C, 1, 1): scale, shift
        if fast:
            return x.mul_(style[:, 0] + 1.0).add_(style[:, 1])
        return x * (style[:, 0] + 1.0) + style[:, 1]


class Block(nn.Module):
    def __init__(self, c: StyleGAN1Config, k: int):
        super().__init__()
        res, out_ch = 4 * 2**k, c.block_channels[k]
        if k == 0 and c.const_input:
            self.const = nn.Parameter(torch.ones(1, out_ch, 4, 4))
            self.bias = nn.Parameter(torch.ones(out_ch))
        elif k == 0:                                                          # ProGAN-style input, gain √2 / 4
            self.dense = ScaledLinear(c.w_dim, 16 * out_ch, gain=math.sqrt(2) / 4)
        else:
            self.conv0 = ScaledConv2d(c.block_channels[k - 1], out_ch, 3, up=True,
                                      fused=res >= c.fused_upscale_from, blur_taps=c.blur_taps)
        self.epi1 = Epilogue(out_ch, c.w_dim, res, 2 * k, c.use_noise)
        self.conv = ScaledConv2d(out_ch, out_ch, 3)
        self.epi2 = Epilogue(out_ch, c.w_dim, res, 2 * k + 1, c.use_noise)
        self.first, self.const_input, self.out_ch = k == 0, c.const_input, out_ch

    def forward(self, x, ws, noise):                                         # ws (N, 2, w_dim)
        if self.first and self.const_input:
            x = self.const.expand(ws.shape[0], -1, -1, -1) + self.bias.view(1, -1, 1, 1)   # (N, C, 4, 4)
        elif self.first:
            x = self.dense(ws[:, 0]).view(ws.shape[0], self.out_ch, 4, 4)                  # (N, C, 4, 4)
        else:
            x = self.conv0(x)                                                 # (N, C, 2H, 2W)
        x = self.epi1(x, ws[:, 0], noise[0])
        return self.epi2(self.conv(x), ws[:, 1], noise[1])


class Generator(StyleGenerator):
    family = "stylegan1"
    display_name = "StyleGAN (Karras et al. 2019)"
    config_class = StyleGAN1Config

    def __init__(self, config):
        super().__init__(config)
        c = self.config
        n = len(c.block_channels)
        if n < 1 or c.image_size != 4 * 2 ** (n - 1):
            raise ValueError(f"{n} blocks give {4 * 2 ** max(n - 1, 0)} px images, not {c.image_size}.")
        if c.num_ws < 2 * n:
            raise ValueError(f"{n} blocks need {2 * n} dlatents but the mapping broadcasts {c.num_ws}.")
        if c.blur_taps and c.blur_taps % 2 == 0:
            raise ValueError(f"blur_taps must be odd (the port pads by (taps − 1) / 2), got {c.blur_taps}.")
        if c.num_classes:
            raise ValueError("StyleGAN v1 here is unconditional.")
        dims = [c.z_dim] + [c.w_dim] * c.mapping_layers
        self.mapping_net = nn.ModuleList([ScaledLinear(i, o, lr_mul=c.mapping_lr_mul)
                                          for i, o in itertools.pairwise(dims)])
        self.blocks = nn.ModuleList([Block(c, k) for k in range(n)])
        self.to_rgb = ScaledConv2d(c.block_channels[-1], c.channels, 1, gain=1.0)
        self.register_buffer("w_avg", torch.zeros(c.w_dim))

    @property
    def num_ws(self) -> int:
        return self.config.num_ws

    def w_avg_owner(self) -> nn.Module:
        return self                                                           # the state dict's key is "w_avg"

    @property
    def num_layers(self) -> int:
        """Noise inputs / used dlatents: two per block."""
        return 2 * len(self.blocks)

    def map_raw(self, z, labels=None):
        x = pixel_norm(z)                                                     # (N, z_dim)
        for layer in self.mapping_net:
            x = F.leaky_relu(layer(x), 0.2)
        return x                                                              # (N, w_dim)

    def mapping(self, z, labels=None, truncation: float = 1.0, cutoff: int | None = None) -> torch.Tensor:
        """z (N, z_dim) → dlatents (N, 18, w_dim), truncated towards ``w_avg`` on the first ``cutoff`` of them
        (``truncation_cutoff`` = 8 when None, as the lecture's Truncation module)."""
        z = self.check_latents(z)
        self.check_labels(labels, z.shape[0])
        ws = self.map_raw(z).unsqueeze(1).repeat(1, self.num_ws, 1)          # (N, num_ws, w_dim)
        cut = self.config.truncation_cutoff if cutoff is None else cutoff
        return latent.truncate_w(ws, self.w_avg, truncation, cut)

    def synthesis(self, ws, noise_mode: str = "const", noise=None) -> torch.Tensor:
        """dlatents (N, 18, w_dim) → images (N, C, H, W) in [-1, 1]. ``noise``: one tensor per layer in the
        port's order, (N or 1, 1, r, r); overrides ``noise_mode`` ("const", "random" or "none")."""
        return self.synthesize(ws, noise_mode, noise).clamp(-1, 1)

    def synthesize(self, ws, noise_mode: str = "const", noise=None) -> torch.Tensor:
        """The raw synthesis output (unclamped), as the port returns it."""
        self.check_noise_mode(noise_mode)
        ws = torch.as_tensor(ws, dtype=torch.float32, device=self.device)
        if ws.dim() != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape (N, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}.")
        noise = self._noise_list(ws.shape[0], noise_mode, noise)
        x = None
        for k, block in enumerate(self.blocks):
            x = block(x, ws[:, 2 * k:2 * k + 2], noise[2 * k:2 * k + 2])
        return self.to_rgb(x)                                                 # (N, C, S, S)

    def _noise_list(self, n, mode, noise):
        epis = [e for b in self.blocks for e in (b.epi1, b.epi2)]
        if not self.config.use_noise:                                         # the port has no noise layers
            if noise is not None and len(list(noise)):
                raise ValueError("this model has no noise inputs: pass noise=None or [].")
            return [None] * len(epis)
        if noise is not None:
            noise = list(noise)
            if len(noise) != len(epis):
                raise ValueError(f"noise needs {len(epis)} tensors (two per block, 4×4 first), got {len(noise)}.")
            out = []
            for i, (t, e) in enumerate(zip(noise, epis)):
                t = torch.as_tensor(t, dtype=torch.float32, device=self.device)
                if t.dim() != 4 or t.shape[1:] != (1, e.res, e.res) or t.shape[0] not in (1, n):
                    raise ValueError(f"noise[{i}] must have shape ({n} or 1, 1, {e.res}, {e.res}), got {tuple(t.shape)}.")
                out.append(t)
            return out
        if mode == "none":
            return [None] * len(epis)
        if mode == "const":
            return [e.noise_const for e in epis]
        return [torch.randn(n, 1, e.res, e.res, device=self.device) for e in epis]

    def generate(self, z, labels=None, truncation: float = 1.0, cutoff: int | None = None,
                 noise_mode: str = "const") -> torch.Tensor:
        return self.synthesis(self.mapping(z, labels, truncation, cutoff), noise_mode)

    def forward(self, z, labels=None):
        """The port's ``model(z)``: mapping then synthesis with fresh noise, raw output."""
        return self.synthesize(self.map_raw(z).unsqueeze(1).repeat(1, self.num_ws, 1), "random")

    def group_bounds(self) -> tuple[int, int]:
        """The StyleGAN paper's split by resolution: coarse 4²–8², middle 16²–32², fine 64² and up (the dlatents
        past the last block, unused at this resolution, count as fine)."""
        return min(4, self.num_layers), min(8, self.num_layers)


Discriminator = None  # import-only family: ganlab does not train it
