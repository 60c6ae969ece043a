"""StyleGAN2 at CPU scale (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN").

Follows NVlabs' ``networks_stylegan2.py`` (config F: the "skip" generator, the "resnet" discriminator) in
structure, reduced for 32×32 greyscale data on a CPU:
- mapping network z → w: pixel norm, an MLP of equalised-lr layers (lr multiplier 0.01), optional class
  embedding joined to z (``num_classes == 0`` means unconditional), and a ``w_avg`` buffer tracked during
  training so that the truncation centre travels with the weights;
- synthesis network: a learned 4×4 constant, modulated + demodulated 3×3 convolutions (weight demodulation
  replaces AdaIN), per-layer noise inputs with a learned strength, ToRGB outputs summed through skip
  connections;
- ``num_ws`` styles, one per conv layer plus the last ToRGB, so that per-layer truncation (ψ with a cutoff) and
  style mixing work;
- a residual discriminator with minibatch standard deviation and, when conditional, a projection term.

Deviations of the CPU-scale default (``resampling="bilinear"``, ganlab's channel rule) from the paper (config F)
and NVlabs' code, all deliberate:
- sizes: w_dim 128 (paper 512), 4 mapping layers (8), at most 128 feature maps (512), 32×32 output;
- generator: bilinear up-sampling of features and of the skip images instead of the [1, 3, 3, 1] FIR filter;
  no conv clamping or mixed precision; styles of ToRGB and convs use one w each as in NVlabs (num_ws =
  convs + 1), not the paper figure's shared style per block;
- discriminator: plain ``nn.Conv2d`` / ``nn.Linear`` layers with PyTorch's default initialisation — no
  equalised learning rate — and average pooling instead of FIR down-sampling; the conditional D projects
  its features on an ``nn.Embedding`` of the label (Miyato & Koyama 2018) instead of NVlabs' mapped label
  embedding;
- regularisers: no path-length regulariser (the paper's pl_weight 2 is absent: G has no regulariser);
  lazy R1 on D (γ, every 16 steps) and style-mixing regularisation (probability 0.9) are train.py options
  (``r1``, ``r1_every``, ``mixing``); the loss is whichever train.py's ``loss`` names (the paper: non-saturating);
- no adaptive augmentation (that is StyleGAN2-ADA).

With ``resampling="fir"`` and ``channel_rule="nvlabs"`` the generator is NVlabs' StyleGAN2-ADA "skip" generator
exactly (``training/networks.py``): FIR up-sampling with the filters stored in the checkpoint (per block and per
up-sampling layer), channels ``min(channel_base // res, channel_max)``, ``conv_clamp``, the official style
scaling; ``ganlab.importers.stylegan2_ada`` converts NVIDIA's pickles into it. Its ops live in
``stylegan2_ops.py``. Not supported: the "orig" and "resnet" generator architectures, fp16 arithmetic (layers
that upstream marks fp16 are computed in fp32 here, as its ``force_fp32=True`` does).
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .. import latent
from . import stylegan2_ops as ops
from .style import StyleGenerator


@dataclass
class StyleGAN2Config:
    z_dim: int = 64                  # input latent size
    w_dim: int = 128                 # intermediate latent (W) size
    mapping_layers: int = 4          # depth of the mapping MLP (8 in the paper)
    mapping_lr_mul: float = 0.01     # learning-rate multiplier of the mapping network
    channels_base: int = 64          # feature maps at 4×4 and 8×8; halved at each resolution from 16×16 on
    channels_max: int = 128          # cap on feature maps at any resolution
    image_size: int = 32             # output side: a power of two ≥ 8
    channels: int = 1                # 1 = greyscale
    num_classes: int = 0             # 0 = unconditional; > 0 joins a class embedding to z in the mapping
    class_names: tuple = ()
    w_avg_beta: float = 0.995        # decay of the tracked w average used for truncation
    latent_dist: str = "normal"      # z ~ N(0, I)
    # options of the official architecture (defaults = ganlab's CPU-scale model, whose checkpoints predate them)
    resampling: str = "bilinear"     # "bilinear" or "fir": NVlabs' FIR filters, stored as buffers per layer
    resample_filter: tuple = (1, 3, 3, 1)  # construction-time FIR taps (an import overwrites the buffers)
    channel_rule: str = "ganlab"     # "ganlab": base·8 // max(res, 8); "nvlabs": base // res (channel_base)
    conv_clamp: float | None = None  # clamp every synthesis layer's output to ±conv_clamp (NVlabs: 256)
    use_noise: bool = True           # per-layer noise inputs
    mapping_embed_dim: int = 0       # class-embedding width in the mapping (0 = w_dim)
    mapping_hidden_dim: int = 0      # hidden width of the mapping MLP (0 = w_dim)
    num_fp16_res: int = 0            # upstream's fp16 blocks: informational, always computed in fp32 here

    @property
    def resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.image_size)) + 1)]

    def channels_at(self, res: int) -> int:
        if self.channel_rule == "nvlabs":
            return min(self.channels_base // res, self.channels_max)
        return min(self.channels_max, self.channels_base * 8 // max(res, 8))

    def check(self) -> None:
        if self.image_size < 4 or self.image_size & (self.image_size - 1):
            raise ValueError(f"StyleGAN2 image_size must be a power of two ≥ 4, got {self.image_size}.")
        if self.resampling not in ("bilinear", "fir"):
            raise ValueError(f"resampling must be 'bilinear' or 'fir', got {self.resampling!r}.")
        if self.channel_rule not in ("ganlab", "nvlabs"):
            raise ValueError(f"channel_rule must be 'ganlab' or 'nvlabs', got {self.channel_rule!r}.")
        if self.mapping_layers < 1 or self.z_dim < 1:
            raise ValueError("StyleGAN2 needs z_dim ≥ 1 and at least one mapping layer.")
        if min(self.channels_at(r) for r in self.resolutions) < 1:
            raise ValueError("the channel rule gives a layer with no channels: raise channels_base.")


class EqualLinear(nn.Module):
    """Fully connected layer with equalised learning rate (weights scaled at run time, Karras et al. 2018)."""

    def __init__(self, in_features, out_features, bias_init=0.0, lr_mul=1.0, activation=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x):
        x = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return F.leaky_relu(x, 0.2) * math.sqrt(2) if self.activation else x


def normalize_2nd_moment(x, eps=1e-8):
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    def __init__(self, c: StyleGAN2Config, num_ws: int):
        super().__init__()
        self.num_ws = num_ws
        embed, hidden = c.mapping_embed_dim or c.w_dim, c.mapping_hidden_dim or c.w_dim
        self.embed = EqualLinear(c.num_classes, embed) if c.num_classes else None
        dims = [c.z_dim + (embed if c.num_classes else 0)] + [hidden] * (c.mapping_layers - 1) + [c.w_dim]
        self.layers = nn.Sequential(*[EqualLinear(i, o, lr_mul=c.mapping_lr_mul, activation=True)
                                      for i, o in zip(dims[:-1], dims[1:])])
        self.register_buffer("w_avg", torch.zeros(c.w_dim))
        self.num_classes, self.beta = c.num_classes, c.w_avg_beta

    def forward(self, z, labels=None, update_w_avg=False):
        x = normalize_2nd_moment(z)                                           # pixel norm of z
        if self.embed is not None:
            y = self.embed(F.one_hot(labels, self.num_classes).float())
            x = torch.cat([x, normalize_2nd_moment(y)], dim=1)
        w = self.layers(x)                                                    # (N, w_dim)
        if update_w_avg:
            self.w_avg.copy_(w.detach().mean(0).lerp(self.w_avg, self.beta))
        return w.unsqueeze(1).repeat(1, self.num_ws, 1)                       # (N, num_ws, w_dim)


def modulated_conv2d(x, weight, styles, demodulate=True, padding=1):
    """Modulated convolution: weights scaled per sample by the style, then demodulated (each output map
    normalised to unit expected variance). Computed as NVlabs' non-fused path does: scale the input, run one
    shared convolution, scale the output; the same maths as per-sample weights, and much faster on a CPU.
    x (N, I, H, W), weight (O, I, k, k), styles (N, I). The bilinear models keep this exact route (their bundled
    checkpoints give bit-identical images); the official models use ``stylegan2_ops.modulated_conv2d``, which
    sums the demodulation as upstream does."""
    n, in_ch = x.shape[:2]
    x = F.conv2d(x * styles.view(n, in_ch, 1, 1), weight, padding=padding)   # (N, O, H, W)
    if demodulate:
        dcoefs = (weight.unsqueeze(0) * styles.view(n, 1, in_ch, 1, 1)).square().sum(dim=[2, 3, 4])
        x = x * (dcoefs + 1e-8).rsqrt().view(n, -1, 1, 1)
    return x


class SynthesisLayer(nn.Module):
    def __init__(self, in_ch, out_ch, w_dim, resolution, up=False, c: StyleGAN2Config | None = None):
        super().__init__()
        c = c or StyleGAN2Config()
        self.up, self.resolution = up, resolution
        self.fir, self.clamp, self.use_noise = c.resampling == "fir", c.conv_clamp, c.use_noise
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
        self.scale = 1 / math.sqrt(in_ch * 9)
        self.bias = nn.Parameter(torch.zeros(out_ch))
        if c.use_noise:
            self.noise_strength = nn.Parameter(torch.zeros([]))
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
        if self.fir and up:
            self.register_buffer("up_filter", ops.setup_filter(c.resample_filter))   # (fh, fw)

    def forward(self, x, w, noise_mode="random"):
        if self.fir:
            return self.forward_fir(x, w, noise_mode)
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        styles = self.affine(w) * self.scale
        x = modulated_conv2d(x, self.weight, styles)
        if self.use_noise and noise_mode == "random":
            x = x + torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), 0.2) * math.sqrt(2)

    def forward_fir(self, x, w, noise_mode):
        """NVlabs' SynthesisLayer: styles unscaled (demodulation normalises), FIR up-conv, noise, bias, lrelu, clamp."""
        n, f = x.shape[0], self.up_filter if self.up else None
        noise = None
        if self.use_noise and noise_mode == "random":
            noise = torch.randn(n, 1, self.resolution, self.resolution, device=x.device) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        if self.resolution >= CHANNELS_LAST_FROM:                            # large layer: per sample, fewer passes
            styles = self.affine(w)
            per_sample = noise is not None and noise.dim() == 4
            out = [ops.fused_layer(x[i:i + 1], self.weight, styles[i:i + 1], self.bias,
                                   noise[i:i + 1] if per_sample else noise, self.clamp, self.up, f) for i in range(n)]
            return out[0] if n == 1 else torch.cat(out)
        x = ops.modulated_conv2d(x, self.weight, self.affine(w), up=self.up, f=f)   # (N, O, res, res)
        return ops.bias_act_(x, self.bias, lrelu=True, clamp=self.clamp, noise=noise)


class ToRGB(nn.Module):
    def __init__(self, in_ch, out_ch, w_dim, c: StyleGAN2Config | None = None, up_filter: bool = False):
        super().__init__()
        c = c or StyleGAN2Config()
        self.clamp = c.conv_clamp
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 1, 1))
        self.scale = 1 / math.sqrt(in_ch)
        self.bias = nn.Parameter(torch.zeros(out_ch))
        if up_filter:   # FIR filter that up-samples the previous image before this ToRGB's output is added
            self.register_buffer("up_filter", ops.setup_filter(c.resample_filter))

    def forward(self, x, w):
        styles = self.affine(w) * self.scale
        if self.clamp is None:
            return modulated_conv2d(x, self.weight, styles, demodulate=False, padding=0) + self.bias.view(1, -1, 1, 1)
        x = ops.modulated_conv2d(x, self.weight, styles, demodulate=False, padding=0)
        return ops.bias_act_(x, self.bias, lrelu=False, clamp=self.clamp).float()


# From this resolution on, the official (FIR) synthesis keeps its activations channels-last, on which oneDNN's
# convolutions run faster on a CPU (bench/stylegan2_speed.py), and runs each sample's layer fused. Below it they stay contiguous, upstream's layout and summation order, so that
# small networks reproduce upstream to the last bits even for out-of-range inputs (the clamp probe).
CHANNELS_LAST_FROM = 128
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


class SynthesisNetwork(nn.Module):
    """4×4 constant → [conv] → per resolution [up-conv, conv] → ToRGB at each resolution, summed (skips)."""

    def __init__(self, c: StyleGAN2Config):
        super().__init__()
        res = c.resolutions
        self.fir = c.resampling == "fir"
        self.const = nn.Parameter(torch.randn(c.channels_at(4), 4, 4))
        self.convs = nn.ModuleList([SynthesisLayer(c.channels_at(4), c.channels_at(4), c.w_dim, 4, c=c)])
        self.torgbs = nn.ModuleList([ToRGB(c.channels_at(4), c.channels, c.w_dim, c)])
        for r in res[1:]:
            self.convs.append(SynthesisLayer(c.channels_at(r // 2), c.channels_at(r), c.w_dim, r, up=True, c=c))
            self.convs.append(SynthesisLayer(c.channels_at(r), c.channels_at(r), c.w_dim, r, c=c))
            self.torgbs.append(ToRGB(c.channels_at(r), c.channels, c.w_dim, c, up_filter=self.fir))
        self.num_ws = len(self.convs) + 1

    def forward(self, ws, noise_mode="random", max_resolution: int | None = None, dtype=torch.float32):
        """ws (N, num_ws, w_dim) → the skip generator's image (N, C, res, res), res = the output size, or the
        largest block resolution ≤ ``max_resolution`` (a preview: the image accumulated up to that block).
        ``dtype`` torch.bfloat16: activations and convolutions in bf16 (styles, weights' modulation and the
        image sum stay fp32): faster on CPUs with native bf16, less exact (bench/stylegan2_speed.py measures both)."""
        x = self.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1).to(dtype)    # (N, C4, 4, 4)
        x = self.convs[0](x, ws[:, 0], noise_mode)
        img = self.torgbs[0](x, ws[:, 1])                                     # (N, C, 4, 4)
        for i, torgb in enumerate(self.torgbs[1:]):
            if max_resolution is not None and img.shape[-1] * 2 > max_resolution:
                break
            if self.fir and x.shape[-1] * 2 >= CHANNELS_LAST_FROM:
                x = x.contiguous(memory_format=torch.channels_last)
            x = self.convs[1 + 2 * i](x, ws[:, 1 + 2 * i], noise_mode)        # up-conv: (N, Cr, r, r)
            x = self.convs[2 + 2 * i](x, ws[:, 2 + 2 * i], noise_mode)
            if self.fir:
                img = ops.upsample2d(img, torgb.up_filter) + torgb(x, ws[:, 3 + 2 * i])
            else:
                img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
                img = img + torgb(x, ws[:, 3 + 2 * i])
        return img.contiguous()


class Generator(StyleGenerator):
    family = "stylegan2"
    display_name = "StyleGAN2"
    config_class = StyleGAN2Config
    previews = True                              # synthesis(..., max_resolution=256): the skip output at 256 px
    training_options = ("mixing",)               # style-mixing regularisation probability (TrainConfig.mixing)

    def __init__(self, config):
        super().__init__(config)
        c = self.config
        c.check()
        self.synthesis_net = SynthesisNetwork(c)
        self.mapping_net = MappingNetwork(c, self.num_ws)

    @property
    def num_ws(self) -> int:
        return self.synthesis_net.num_ws

    def w_avg_owner(self) -> nn.Module:
        return self.mapping_net                                               # tracked there during training

    def map_raw(self, z, labels=None) -> torch.Tensor:
        return self.mapping_net(z, labels)[:, 0]

    def mapping(self, z, labels=None, truncation: float = 1.0, cutoff: int | None = None) -> torch.Tensor:
        """z (N, z_dim) → w (N, num_ws, w_dim), truncated towards ``w_avg`` on the first ``cutoff`` layers."""
        z = self.check_latents(z)
        labels = self.check_labels(labels, z.shape[0])
        return latent.truncate_w(self.mapping_net(z, labels), self.w_avg, truncation, cutoff)

    def synthesis(self, w, noise_mode: str = "const", max_resolution: int | None = None,
                  precision: str = "fp32") -> torch.Tensor:
        """w (N, num_ws, w_dim) → images (N, C, H, W) in [-1, 1]. ``noise_mode``: "const" (fixed per-layer
        noise, deterministic), "random" (fresh noise each call) or "none". ``max_resolution`` (e.g. 256): a fast
        preview, the skip generator's image at the largest block resolution ≤ it (the layers above are skipped).
        ``precision``: "fp32" (exact, the default) or "bf16" (faster where the CPU has bf16 arithmetic; its
        error is measured by bench/stylegan2_speed.py)."""
        self.check_noise_mode(noise_mode)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
        w = torch.as_tensor(w, dtype=torch.float32)
        if w.dim() != 3 or w.shape[1:] != (self.num_ws, self.config.w_dim):
            raise ValueError(f"w must have shape (N, {self.num_ws}, {self.config.w_dim}), got {tuple(w.shape)}.")
        if max_resolution is not None and max_resolution < 4:
            raise ValueError(f"max_resolution must be at least 4, got {max_resolution}.")
        return self.synthesis_net(w.to(self.device), noise_mode, max_resolution, PRECISIONS[precision]).clamp(-1, 1)

    def generate(self, z, labels=None, truncation: float = 1.0, cutoff: int | None = None,
                 noise_mode: str = "const", precision: str = "fp32") -> torch.Tensor:
        return self.synthesis(self.mapping(z, labels, truncation, cutoff), noise_mode, precision=precision)

    def forward(self, z, labels=None, mixing: float = 0.0, update_w_avg: bool = False):
        """Training path: random noise, optional style-mixing regularisation (probability ``mixing``), raw
        (unclamped) output."""
        ws = self.mapping_net(z, labels, update_w_avg=update_w_avg)
        if mixing > 0 and torch.rand([]) < mixing:
            cut = int(torch.randint(1, self.num_ws, []))
            ws2 = self.mapping_net(torch.randn_like(z), labels)
            ws = torch.cat([ws[:, :cut], ws2[:, cut:]], dim=1)
        return self.synthesis_net(ws, "random")

    def forward_train(self, z, labels=None, update_stats: bool = False, mixing: float = 0.0):
        return self(z, labels, mixing=mixing, update_w_avg=update_stats)

    def group_bounds(self) -> tuple[int, int]:
        """Coarse / middle / fine at 3/8 and 3/4 of the styles (this family's models are small: 32 px has 8)."""
        n = self.num_ws
        return max(1, round(n * 0.375)), max(2, round(n * 0.75))


class DiscriminatorBlock(nn.Module):
    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.conv0 = nn.Conv2d(in_ch, in_ch, 3, padding=1)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x):
        y = F.avg_pool2d(self.skip(x), 2)
        x = F.leaky_relu(self.conv0(x), 0.2)
        x = F.avg_pool2d(F.leaky_relu(self.conv1(x), 0.2), 2)
        return (x + y) / math.sqrt(2)                                        # residual, variance preserving


class Discriminator(nn.Module):
    """Residual D: fromRGB → blocks down to 4×4 → minibatch std → conv → fc → logit (+ projection if conditional)."""

    def __init__(self, config, mbstd_group: int = 4):
        super().__init__()
        c = config if isinstance(config, StyleGAN2Config) else StyleGAN2Config(**config)
        res = c.resolutions[::-1]                                             # 32, 16, 8, 4
        self.from_rgb = nn.Conv2d(c.channels, c.channels_at(res[0]), 1)
        self.blocks = nn.Sequential(*[DiscriminatorBlock(c.channels_at(r), c.channels_at(r // 2)) for r in res[:-1]])
        ch = c.channels_at(4)
        self.mbstd_group = mbstd_group
        self.conv = nn.Conv2d(ch + 1, ch, 3, padding=1)
        self.fc = nn.Linear(ch * 16, ch)
        self.out = nn.Linear(ch, 1)
        self.project = nn.Embedding(c.num_classes, ch) if c.num_classes else None

    def minibatch_std(self, x):
        n, c, h, w = x.shape
        g = min(self.mbstd_group, n)
        while n % g:
            g -= 1
        y = x.reshape(g, -1, c, h, w).std(dim=0, unbiased=False).mean(dim=[1, 2, 3])   # (N/g,)
        y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)

    def forward(self, x, labels=None):
        x = F.leaky_relu(self.from_rgb(x), 0.2)
        x = self.blocks(x)                                                    # (N, C4, 4, 4)
        x = F.leaky_relu(self.conv(self.minibatch_std(x)), 0.2)
        h = F.leaky_relu(self.fc(x.flatten(1)), 0.2)                         # (N, C4)
        out = self.out(h).squeeze(1)
        if self.project is not None:
            out = out + (h * self.project(labels)).sum(1) / math.sqrt(h.shape[1])
        return out
