"""Image files out of ganlab: crisp upscaling, grids, and PNG / GIF files that carry the settings that made them
(PNG text chunk ``ganlab``; GIF comment). What the pixels are is decided in :mod:`ganlab.views`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, PngImagePlugin

MAX_SIDE = 512          # largest upscaled image side the app and the CLI produce
DISPLAY_QUALITY = 90    # JPEG quality of the app's displayed large images


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of one (H, W, C) image: every pixel becomes a crisp factor × factor block."""
    factor = max(1, int(factor))
    return img.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else img


def fit_scale(side: int, target: int = 256, max_side: int = MAX_SIDE) -> int:
    """Integer zoom that brings ``side`` to at least ``target`` px without exceeding ``max_side``."""
    return max(1, min(-(-target // side), max_side // side))


def grid(images: np.ndarray, nrow: int | None = None, scale: int = 1, padding: int = 1) -> np.ndarray:
    """A grid of (N, H, W, C) uint8 images (torchvision's make_grid), upscaled by ``scale``."""
    from torchvision.utils import make_grid  # imported here: torchvision's import costs the app's start time
    t = torch.from_numpy(images).permute(0, 3, 1, 2)
    nrow = nrow or int(np.ceil(np.sqrt(len(images))))
    g = make_grid(t, nrow=nrow, padding=padding, pad_value=255).permute(1, 2, 0).numpy()
    return upscale(g[..., :images.shape[-1]], scale)                              # make_grid makes grey RGB


def to_pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)


def save_png(path: str | Path, img: np.ndarray, settings: dict, compress_level: int | None = None) -> Path:
    """Write a PNG with the settings as JSON in a ``ganlab`` text chunk. ``compress_level`` 0–9 (zlib; None:
    Pillow's default): the pixels are exact at every level; 1 writes a large image several times faster."""
    info = PngImagePlugin.PngInfo()
    info.add_text("ganlab", json.dumps(settings, sort_keys=True))
    level = {} if compress_level is None else {"compress_level": compress_level}
    to_pil(img).save(path, pnginfo=info, **level)
    return Path(path)


def save_jpeg(path: str | Path, img: np.ndarray, quality: int = DISPLAY_QUALITY) -> Path:
    """Write a JPEG for display only (lossy, no settings): how the app shows large photographic images
    quickly; downloads stay exact PNGs (``bench/classroom.py`` compares the encodings)."""
    to_pil(img).save(path, format="JPEG", quality=quality)
    return Path(path)


def settings_text(path: str | Path) -> str | None:
    """The settings JSON a ganlab PNG (text chunk) or GIF (comment) carries, as text; None when it carries none.
    Only the file's header and metadata are read (no pixels are decoded); ValueError for a file that is not a
    PNG or GIF."""
    try:
        with Image.open(path, formats=["PNG", "GIF"]) as im:
            raw = im.info.get("ganlab") or im.info.get("comment")
    except (OSError, ValueError, Image.DecompressionBombError):
        raise ValueError(f"{Path(path).name} is not a PNG or GIF image that can be read.") from None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return raw or None


def read_settings(path: str | Path) -> dict:
    """The settings stored in a ganlab PNG (text chunk) or GIF (comment)."""
    return json.loads(settings_text(path) or "{}")


def save_gif(path: str | Path, frames: np.ndarray, fps: float, settings: dict) -> Path:
    """An endlessly looping GIF (imageio) with the settings as the GIF comment. Pillow's ``optimize`` pass is
    off: it costs several times the writing time for about the same file size, and the frames are grey levels
    that the GIF palette holds exactly either way."""
    import imageio.v3 as iio

    if not 0.5 <= fps <= 50:
        raise ValueError(f"fps must be between 0.5 and 50, got {fps}.")
    frames = frames[..., 0] if frames.shape[-1] == 1 else frames
    iio.imwrite(path, frames, extension=".gif", duration=1000 / fps, loop=0, optimize=False,
                comment=json.dumps(settings, sort_keys=True))
    return Path(path)


def fit_grid(images: np.ndarray, nrow: int | None = None, target: int = 256, max_side: int = MAX_SIDE) -> np.ndarray:
    """A grid of (N, H, W, C) uint8 images upscaled crisply (nearest) so that its longer side reaches ``target``
    px without exceeding ``max_side``; one image is upscaled alone, without a border."""
    if len(images) == 1:
        return upscale(images[0], fit_scale(max(images.shape[1:3]), target, max_side))
    g = grid(images, nrow)
    return upscale(g, fit_scale(max(g.shape[:2]), target, max_side))
