"""A live run as a GIF (imageio): a bounded number of frames, scaled down, one shared palette, with the run's
settings as the GIF comment (JSON, as the app's other exports carry theirs; ganlab.export.read_settings reads it).

One palette for all frames (Pillow's fast octree over a few evenly spaced frames, no dithering) instead of
Pillow's per-frame median cut with dithering: the pictures are flat colours and thin lines, so the file is
several times smaller and written many times faster (bench/toy.py prints both).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

GIF_WIDTH = 480         # px; the frames are drawn at 760 × 400
GIF_FRAMES = 60         # at most this many frames, evenly spaced over the run
GIF_FPS = 10
PALETTE_FRAMES = 8      # frames the shared palette is built from


def pick(n: int, k: int) -> list[int]:
    """At most k indices of n items, evenly spaced, first and last included."""
    return list(range(n)) if n <= k else sorted({round(i) for i in np.linspace(0, n - 1, k)})


def save_gif(frames: list, path: str | Path, settings: dict | None = None, fps: float = GIF_FPS,
             width: int = GIF_WIDTH, max_frames: int = GIF_FRAMES) -> Path:
    """Write frames (PIL images or (H, W, 3) uint8 arrays) as a looping GIF: at most ``max_frames`` of them,
    scaled to ``width`` px, with ``settings`` as JSON in the comment. ValueError when there are no frames."""
    import imageio.v3 as iio

    if not frames:
        raise ValueError("no frames recorded yet: start training first.")
    images = []
    for i in pick(len(frames), max_frames):
        image = frames[i] if isinstance(frames[i], Image.Image) else Image.fromarray(np.asarray(frames[i]))
        image = image.convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.BILINEAR)
        images.append(image)
    sample = np.concatenate([np.asarray(images[i]) for i in pick(len(images), PALETTE_FRAMES)])  # (k·H, W, 3)
    palette = Image.fromarray(sample).quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    indices = np.stack([np.asarray(im.quantize(palette=palette, dither=Image.Dither.NONE)) for im in images])
    iio.imwrite(path, indices, mode="L", extension=".gif", duration=1000 / fps, loop=0, optimize=False,
                palette=bytes(palette.getpalette()[:768]), comment=json.dumps(settings or {}, sort_keys=True))
    return Path(path)
