"""The official StyleGAN2-ADA synthesis ops, written for a CPU: FIR up-sampling, modulated convolution with
the FIR-filtered transposed convolution of the up-sampling layers, bias + activation + clamp.

They compute what NVlabs' ``torch_utils/ops`` (``upfirdn2d``, ``conv2d_resample``, ``bias_act``) compute with the
same filters, paddings and gains, by routes chosen for a CPU:

- ``upsample2d(x, f)`` of the skip image (1 or 3 channels: cheap) follows upstream literally (insert zeros, pad,
  convolve with the flipped 2-D filter × 4), so that its sums round as upstream's do;
- the up-sampling conv (``conv2d_resample`` with ``up=2``) is a stride-2 transposed convolution with the
  (O, I) → (I, O) transposed weight, then the FIR filter (× 4) at the output resolution;
- modulation: for one sample the style and the demodulation coefficients are folded into the weight (the
  weight is O·I·k·k numbers, far fewer than the activations of a large layer), so a layer is one plain
  convolution; for a batch the shared weight is used once (scale the input by the styles, convolve, scale the
  output), never a grouped convolution of per-sample weights; the demodulation sums run in upstream's order;
- bias, noise, leaky ReLU, gain and clamp are applied in place (out of place under autograd); ``fused_layer``
  folds bias and gain into the convolution for large layers.

Every route equals upstream's up to float rounding (the fixtures in ``../shared/fixtures/stylegan2-ada`` check
it to 1e-4); fp16 layers are computed in fp32.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LRELU_GAIN = math.sqrt(2)   # bias_act's def_gain for 'lrelu'
LRELU_SLOPE = 0.2           # bias_act's def_alpha for 'lrelu'


def setup_filter(taps) -> torch.Tensor:
    """NVlabs' ``setup_filter`` for the resample filters of a generator: 1-D taps (fewer than 8) → their outer
    product, normalised to sum 1; a 2-D list stays 2-D. [1, 3, 3, 1] → a (4, 4) filter."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    if f.ndim == 1:
        if f.numel() >= 8:
            raise ValueError("separable resample filters (8 taps or more) are not supported.")
        f = torch.outer(f, f)
    return f / f.sum()


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2× FIR up-sampling, = ``upfirdn2d.upsample2d(x, f)``. x (N, C, H, W), f (fh, fw) → (N, C, 2H, 2W)."""
    fh, fw = f.shape
    # the literal route: it sums in upstream's order, which matters where ToRGB outputs of ±conv_clamp cancel
    return upfirdn2d_ref(x, f, up=2, pad=((fw + 1) // 2, (fw - 2) // 2, (fh + 1) // 2, (fh - 2) // 2), gain=4)


def fir_filter(x: torch.Tensor, f: torch.Tensor, pad: tuple[int, int, int, int], gain: float = 1.0,
               bias: torch.Tensor | None = None) -> torch.Tensor:
    """``upfirdn2d(x, f, padding=pad, gain=gain)`` without up/down-sampling: a depthwise convolution with the
    flipped filter (+ ``bias`` per channel, added by the convolution). pad = (x0, x1, y0, y1), negative = crop."""
    c = x.shape[1]
    weight = (f * gain).flip([0, 1]).to(x.dtype).expand(c, 1, *f.shape).contiguous()
    x0, x1, y0, y1 = pad
    if x0 == x1 >= 0 and y0 == y1 >= 0:
        return F.conv2d(x, weight, bias, padding=(y0, x0), groups=c)
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0): x.shape[2] - max(-y1, 0), max(-x0, 0): x.shape[3] - max(-x1, 0)]
    return F.conv2d(x, weight, bias, groups=c)


def upfirdn2d_ref(x, f, up=1, pad=(0, 0, 0, 0), gain=1.0):
    """upfirdn2d's literal definition: insert up-1 zeros after each pixel, pad, convolve with the flipped filter."""
    n, c, h, w = x.shape
    if up > 1:
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    return fir_filter(x, f, pad, gain)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     up: bool = False, f: torch.Tensor | None = None, padding: int = 1) -> torch.Tensor:
    """NVlabs' ``modulated_conv2d`` (fp32): x (N, I, H, W), weight (O, I, k, k), styles (N, I) → (N, O, H', W'),
    H' = 2H with ``up`` (transposed conv + FIR ``f``, as ``conv2d_resample`` with up=2 and flip_weight=False)."""
    n, in_ch = styles.shape
    out_ch = weight.shape[0]
    if n == 1:                                                                # fold style and dcoefs into the weight
        return _conv(x, modulated_weight(weight, styles, demodulate), up, f, padding)
    x = _conv(x * styles.view(n, in_ch, 1, 1).to(x.dtype), weight, up, f, padding)   # one shared conv
    if demodulate:
        x = x.mul_(demod_coefficients(weight, styles).view(n, out_ch, 1, 1).to(x.dtype))
    return x


def modulated_weight(weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     gain: float = 1.0) -> torch.Tensor:
    """One sample's weight (O, I, k, k): weight × style, demodulated as upstream sums it, × ``gain``."""
    out_ch, in_ch = weight.shape[:2]
    wt = weight * styles.view(1, in_ch, 1, 1)
    if demodulate:
        d = (wt.square().sum(dim=[1, 2, 3]) + 1e-8).rsqrt()
        wt = wt * (d * gain if gain != 1 else d).view(out_ch, 1, 1, 1)
    elif gain != 1:
        wt = wt * gain
    return wt


def fused_layer(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, bias: torch.Tensor,
                noise: torch.Tensor | None, clamp: float | None, up: bool = False,
                f: torch.Tensor | None = None) -> torch.Tensor:
    """A whole batch-1 synthesis layer in three passes over its output instead of five: modulated conv with the
    bias added by the convolution and the activation gain √2 folded into weight, bias and noise (√2·lrelu(v) =
    lrelu(√2·v)), then noise, leaky ReLU, clamp. Equal to modulated_conv2d + bias_act_ up to float rounding (the
    order of the additions differs), which is why only large layers take it (see stylegan2.CHANNELS_LAST_FROM)."""
    wt = modulated_weight(weight, styles, gain=LRELU_GAIN)
    b = bias * LRELU_GAIN
    x = _conv(x, wt, up, f, 1, bias=b)
    if _needs_grad(x):                                                        # training: out of place
        x = x + noise * LRELU_GAIN if noise is not None else x
        x = F.leaky_relu(x, LRELU_SLOPE)
        return x.clamp(-clamp, clamp) if clamp is not None else x
    if noise is not None:
        x = x.add_(noise.to(x.dtype), alpha=LRELU_GAIN)
    x = F.leaky_relu_(x, LRELU_SLOPE)
    return x.clamp_(-clamp, clamp) if clamp is not None else x


def _needs_grad(x: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and x.requires_grad


def demod_coefficients(weight: torch.Tensor, styles: torch.Tensor, budget: int = 1 << 23) -> torch.Tensor:
    """(N, O) = rsqrt(Σ_ikk (w_oikk s_ni)² + 1e-8), summed over the modulated weight as upstream does (the same
    sum as s² @ Σ_kk w², but its rounding: an out-of-range style makes the difference visible), in chunks of
    samples so that a large batch never holds all per-sample weights at once."""
    n, in_ch = styles.shape
    step = max(1, budget // weight.numel())
    out = [(weight.unsqueeze(0) * styles[i:i + step].view(-1, 1, in_ch, 1, 1)).square().sum(dim=[2, 3, 4])
           for i in range(0, n, step)]
    return (torch.cat(out) + 1e-8).rsqrt()


def _conv(x, weight, up, f, padding, bias=None):
    weight, bias = weight.to(x.dtype), None if bias is None else bias.to(x.dtype)   # bf16 mode: cast per layer
    if not up:
        return F.conv2d(x, weight, bias, padding=padding)                     # correlation (flip_weight=True)
    kh, kw = weight.shape[2:]
    fh, fw = f.shape
    # conv2d_resample(up=2): paddings of the up-sampled image, minus what the transposed conv already covers
    px0, px1 = padding + (fw + 1) // 2 - (kw - 1), padding + (fw - 2) // 2 - (kw - 2)
    py0, py1 = padding + (fh + 1) // 2 - (kh - 1), padding + (fh - 2) // 2 - (kh - 2)
    pxt, pyt = max(min(-px0, -px1), 0), max(min(-py0, -py1), 0)
    x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2, padding=(pyt, pxt))   # (N, O, 2H+k-2, ...)
    return fir_filter(x, f, (px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt), gain=4, bias=bias)


def bias_act_(x: torch.Tensor, bias: torch.Tensor, lrelu: bool, clamp: float | None,
              noise: torch.Tensor | None = None) -> torch.Tensor:
    """In place: x + noise + bias, then leaky ReLU × √2 (``lrelu``), then clamp to ±clamp (``bias_act``)."""
    if _needs_grad(x):                                                        # training: out of place
        x = (x + noise if noise is not None else x) + bias.view(1, -1, 1, 1)
        x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN if lrelu else x
        return x.clamp(-clamp, clamp) if clamp is not None else x
    if noise is not None:
        x = x.add_(noise.to(x.dtype))
    x = x.add_(bias.view(1, -1, 1, 1).to(x.dtype))
    if lrelu:
        x = F.leaky_relu_(x, LRELU_SLOPE).mul_(LRELU_GAIN)
    if clamp is not None:
        x = x.clamp_(-clamp, clamp)
    return x
