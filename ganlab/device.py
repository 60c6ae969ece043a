"""Where ganlab computes: ``--device auto|cpu|cuda|mps`` (or ``GANLAB_DEVICE``) for the app, the CLI and
``ganlab.load(name, device=...)``.

``auto`` takes an NVIDIA GPU (CUDA), then Apple's GPU (MPS), then the CPU. A model lives on one device and a
render creates everything on the model's device (``models.base.GANGenerator.device``); latents are drawn on
the CPU from their seed (the same numbers on every device) and moved. Images are computed in float32 on every
device: the README's exactness figures are float32 figures, and half precision on a GPU was not measured here
(no GPU on the machines ganlab is built on), so it is not offered as a default.

On a Hugging Face **ZeroGPU** Space (``SPACES_ZERO_GPU`` set) a GPU is lent to a function only while it runs
inside ``spaces.GPU``: :func:`gpu` applies that decorator there, and is a no-op everywhere else (including when
the ``spaces`` package is not installed).

>>> from ganlab import device
>>> device.resolve("auto")          # cuda, else mps, else cpu
device(type='cpu')
"""
from __future__ import annotations

import os

import torch

ENV = "GANLAB_DEVICE"
CHOICES = ("auto", "cpu", "cuda", "mps")
ZERO_GPU_ENV = "SPACES_ZERO_GPU"   # set by Hugging Face on ZeroGPU hardware
ZERO_GPU_SECONDS = 60              # the longest a ZeroGPU call may hold the GPU (spaces.GPU's own default)


def zero_gpu() -> bool:
    """Whether this process runs on a Hugging Face ZeroGPU Space."""
    return bool(os.environ.get(ZERO_GPU_ENV))


def requested(device=None) -> str:
    """The device asked for: ``device`` if given, else $GANLAB_DEVICE, else "auto"."""
    if device is None or device == "":
        device = os.environ.get(ENV, "").strip() or "auto"
    return str(device)


def resolve(device=None) -> torch.device:
    """The torch device for ``device`` ("auto", "cpu", "cuda", "cuda:1", "mps", "meta" for tests, a
    torch.device; None: $GANLAB_DEVICE or "auto"). ValueError with the choices when it is unknown or not here."""
    name = requested(device)
    if name == "auto":
        if torch.cuda.is_available() or zero_gpu():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {name!r}: use one of {', '.join(CHOICES)} (or e.g. cuda:1).") from None
    if dev.type == "cuda" and not (torch.cuda.is_available() or zero_gpu()):
        raise ValueError("device cuda was asked for, but torch sees no CUDA GPU here (a CPU-only torch, or no "
                         "driver): use --device auto or cpu.")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count() and not zero_gpu():
        raise ValueError(f"device {name} was asked for, but torch sees {torch.cuda.device_count()} CUDA GPU(s).")
    if dev.type == "mps" and not _mps_available():
        raise ValueError("device mps was asked for, but Apple's MPS backend is not available here: use --device "
                         "auto or cpu.")
    if dev.type not in ("cpu", "cuda", "mps", "meta"):
        raise ValueError(f"ganlab runs on {', '.join(CHOICES[1:])}, not {dev.type}.")
    return dev


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def describe(dev) -> str:
    """The device in words, for the About panel and logs: "cuda:0 (NVIDIA A10G, 24 GB)", "cpu (2 cores)"."""
    dev = torch.device(dev)
    if dev.type == "cuda":
        if zero_gpu() and not torch.cuda.is_available():
            return "cuda (ZeroGPU: a GPU lent to each render)"
        i = dev.index if dev.index is not None else torch.cuda.current_device()
        p = torch.cuda.get_device_properties(i)
        extra = ", ZeroGPU" if zero_gpu() else ""
        return f"cuda:{i} ({p.name}, {p.total_memory / 2**30:.0f} GB{extra})"
    if dev.type == "mps":
        return "mps (Apple GPU)"
    if dev.type == "cpu":
        return f"cpu ({os.cpu_count() or 1} cores)"
    return str(dev)


def backend(dev) -> str:
    """torch.distributed's backend for training on ``dev``: NCCL between CUDA GPUs, gloo otherwise."""
    return "nccl" if torch.device(dev).type == "cuda" else "gloo"


def add_argument(parser, what: str = "compute") -> None:
    """``--device`` on an argparse parser (default: $GANLAB_DEVICE or auto)."""
    parser.add_argument("--device", default=None, metavar="{" + ",".join(CHOICES) + "}",
                        help=f"where to {what}: auto = CUDA, then Apple MPS, then the CPU (default: ${ENV} or auto)")


def gpu(fn=None, *, duration: int = ZERO_GPU_SECONDS):
    """``spaces.GPU(fn, duration=...)`` on a ZeroGPU Space, ``fn`` itself anywhere else (also when the
    ``spaces`` package is missing). Usable as ``@gpu`` or ``@gpu(duration=120)``."""
    if fn is None:
        return lambda f: gpu(f, duration=duration)
    if not zero_gpu():
        return fn
    try:
        import spaces
    except ImportError:
        return fn
    return spaces.GPU(fn, duration=duration)
