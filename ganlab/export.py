"""Images and GIFs out of a generator: batched generation, crisp upscaling, grids, PNG/GIF files that carry the
settings that made them (PNG text chunk ``ganlab``; GIF comment), and interpolation frames.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, PngImagePlugin

from . import latent
from .models.base import to_uint8

MAX_SIDE = 512          # largest upscaled image side the app and the CLI produce


@torch.no_grad()
def generate_images(model, z: torch.Tensor, labels=None, truncation: float = 1.0, **kw) -> np.ndarray:
    """uint8 (N, H, W, C) images for latents ``z``, in batches of 256."""
    out = []
    for i in range(0, len(z), 256):
        lab = labels[i:i + 256] if isinstance(labels, (list, tuple, torch.Tensor, np.ndarray)) else labels
        out.append(to_uint8(model.generate(z[i:i + 256], lab, truncation, **kw)))
    return np.concatenate(out)


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
    return upscale(g, scale)


def to_pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)


def save_png(path: str | Path, img: np.ndarray, settings: dict) -> Path:
    """Write a PNG with the settings as JSON in a ``ganlab`` text chunk."""
    info = PngImagePlugin.PngInfo()
    info.add_text("ganlab", json.dumps(settings, sort_keys=True))
    to_pil(img).save(path, pnginfo=info)
    return Path(path)


def read_settings(path: str | Path) -> dict:
    """The settings stored in a ganlab PNG (text chunk) or GIF (comment)."""
    with Image.open(path) as im:
        raw = im.info.get("ganlab") or im.info.get("comment") or b"{}"
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def save_gif(path: str | Path, frames: np.ndarray, fps: float, settings: dict) -> Path:
    """An endlessly looping GIF (imageio) with the settings as the GIF comment. Pillow's ``optimize`` pass is
    off: it made a 60-frame walk 4.5× slower to write (160 ms against 34 ms) for a file within ±10% of the size,
    and the frames are grey levels that the GIF palette holds exactly either way."""
    import imageio.v3 as iio

    if not 0.5 <= fps <= 50:
        raise ValueError(f"fps must be between 0.5 and 50, got {fps}.")
    frames = frames[..., 0] if frames.shape[-1] == 1 else frames
    iio.imwrite(path, frames, extension=".gif", duration=1000 / fps, loop=0, optimize=False,
                comment=json.dumps(settings, sort_keys=True))
    return Path(path)


def keyframe_latents(model, seeds) -> torch.Tensor:
    return latent.seed_latents(list(seeds), model.z_dim, model.latent_dist)


def interpolation_frames(model, seeds, frames: int, method: str = "lerp", loop: bool = False, label=None,
                         truncation: float = 1.0, size: int = 256, keys: torch.Tensor | None = None,
                         class_path: list[int] | None = None) -> np.ndarray:
    """Frames (T, size', size', C) of a walk through keyframe latents (the seeds' z, or ``keys``) with a fixed
    class ``label``, or, for a conditional model with ``class_path``, a morph through those classes' label
    embeddings at a fixed latent. The first frame is exactly the first keyframe's image."""
    if class_path:
        z = keyframe_latents(model, seeds[:1]).repeat(frames, 1)
        emb = model.class_embeddings(class_path)                              # (K, embed_dim)
        path = latent.keyframe_path(emb, frames, method, loop)                # (T, embed_dim)
        with torch.no_grad():
            imgs = to_uint8(model.generate_embedded(z, path, truncation))
    else:
        keys = keyframe_latents(model, seeds) if keys is None else keys
        path = latent.keyframe_path(keys, frames, method, loop)               # (T, z_dim)
        labels = None if label is None else [int(label)] * frames
        imgs = generate_images(model, path, labels, truncation)
    scale = fit_scale(imgs.shape[1], size, max(size, imgs.shape[1]))
    return np.stack([upscale(im, scale) for im in imgs])


# -- the app's views: latents edited by sliders, StyleGAN's W, class morphs -----------------------------------
MAX_GRID = 64           # most images in one grid
MAX_FRAMES = 240        # most frames in one interpolation


@torch.no_grad()
def edit_codes(model, z: torch.Tensor, labels=None, truncation: float = 1.0, *, cutoff: int | None = None,
               coords=(), directions=(), mix_z: torch.Tensor | None = None, mix_layers=()) -> torch.Tensor:
    """The codes a view renders from: latents ``z`` (N, z_dim) with ``coords`` added to their first coordinates
    and moved ``directions`` standard deviations along the model's principal directions.

    For a model with a W space (StyleGAN2) the codes are w (N, num_ws, w_dim): mapped, truncated (ψ on the
    first ``cutoff`` layers), moved along the principal directions of W (GANSpace), then the styles of
    ``mix_layers`` are taken from ``mix_z``'s w (style mixing). Otherwise the codes are z (N, z_dim) and
    truncation is applied when rendering. Either way :func:`render_codes` turns them into images and
    :func:`latent.keyframe_path` can interpolate between them."""
    z = latent.shift_coordinates(model.check_latents(z).cpu(), coords)
    space, dirs, std = model.latent_directions(max(len(directions), 1))
    if not model.style_based:
        if mix_layers:
            raise ValueError("style mixing needs a StyleGAN model.")
        return latent.move_along(z, dirs, std, directions) if any(directions) else z
    w = model.mapping(z, labels, truncation, cutoff).cpu()                        # (N, num_ws, w_dim)
    if any(directions):
        w = latent.move_along(w, dirs, std, directions) if space == "w" else \
            model.mapping(latent.move_along(z, dirs, std, directions), labels, truncation, cutoff).cpu()
    if mix_layers:
        if mix_z is None:
            raise ValueError("style mixing needs a second latent.")
        w_b = model.mapping(mix_z.expand(len(w), -1), labels, truncation, cutoff).cpu()
        w = model.style_mix(w, w_b, mix_layers)
    return w


@torch.no_grad()
def render_codes(model, codes: torch.Tensor, labels=None, truncation: float = 1.0, noise_mode: str = "const",
                 batch: int = 64, callback=None) -> np.ndarray:
    """uint8 (N, H, W, C) images of codes from :func:`edit_codes` (or a path between them), in batches;
    ``callback(done, total)`` after each batch (for progress bars)."""
    out = []
    for i in range(0, len(codes), batch):
        chunk = codes[i:i + batch]
        if codes.dim() == 3:                                                      # w (N, num_ws, w_dim)
            out.append(to_uint8(model.synthesis(chunk.to(model.device), noise_mode)))
        else:
            lab = labels[i:i + batch] if isinstance(labels, (list, tuple, torch.Tensor, np.ndarray)) else labels
            out.append(to_uint8(model.generate(chunk, lab, truncation)))
        if callback:
            callback(min(i + batch, len(codes)), len(codes))
    return np.concatenate(out)


@torch.no_grad()
def class_morph(model, z: torch.Tensor, classes, frames: int, method: str = "lerp", loop: bool = False,
                truncation: float = 1.0) -> np.ndarray:
    """uint8 frames (T, H, W, C) of a conditional model (one with ``generate_embedded``) at the fixed latent
    ``z`` (1, z_dim), walking through the label embeddings of ``classes``; frame 0 is class classes[0]."""
    emb = model.class_embeddings(classes)                                         # (K, embed_dim)
    path = latent.keyframe_path(emb, frames, method, loop)                        # (T, embed_dim)
    return to_uint8(model.generate_embedded(z.expand(frames, -1), path, truncation))


def fit_grid(images: np.ndarray, nrow: int | None = None, target: int = 256, max_side: int = MAX_SIDE) -> np.ndarray:
    """A grid of (N, H, W, C) uint8 images upscaled crisply (nearest) so that its longer side reaches ``target``
    px without exceeding ``max_side``; one image is upscaled alone, without a border."""
    if len(images) == 1:
        return upscale(images[0], fit_scale(max(images.shape[1:3]), target, max_side))
    g = grid(images, nrow)[..., :images.shape[-1]]                               # make_grid makes grey RGB
    return upscale(g, fit_scale(max(g.shape[:2]), target, max_side))
