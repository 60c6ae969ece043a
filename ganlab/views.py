"""One path from a view to pixels: settings → validated settings → codes → images (a view) or frames (a walk).

The app's Generate and Interpolate tabs, the CLI (``python -m ganlab generate / interpolate``) and Python code
all call these functions, so the same settings give the same pixels everywhere:

>>> import ganlab
>>> from ganlab import views
>>> model = ganlab.load("stylegan2-fashion")
>>> image, settings = views.render_view(model, {"seed": 3, "n": 4, "truncation": 0.7})   # uint8 (H, W, C)
>>> frames, settings = views.render_walk(model, {"keyframes": "1, 5, 9", "frames": 48})  # uint8 (T, H, W, C)

A *view* draws seeds (``seed`` … ``seed + n − 1``) in one class, in every class, or each in the class its seed
draws (as ``model.sample`` does), with truncation ψ, slider edits along the first latent coordinates and along
the principal directions, and for style-based models the ψ cutoff, style mixing and the noise mode. A *walk*
interpolates between keyframe codes (seeds, or the current view first) or, for models with a label embedding,
between classes at a fixed latent. The codes of a style-based model are w (N, num_ws, w_dim): its walks go
through W; the codes of the others are z (N, z_dim). Every check states its rule in its error message.

The settings these functions return are the one vocabulary of everything ganlab writes: the app's JSON panel, the
PNG text chunk and the GIF comment of the app and of the CLI (VIEW_KEYS for a view or an image, WALK_KEYS for a
walk). :func:`known_settings` reads them back (the app's restore), converting the CLI's old spellings.
"""
from __future__ import annotations

import math
import re

import numpy as np
import torch

from . import export, latent, vocabulary
from .models.base import to_uint8

MAX_GRID = 64                 # most images in one view
MAX_FRAMES = 240              # most frames in one walk
MAX_VIEW_PIXELS = 16 * 1024 * 1024   # most pixels one view renders: 16 images of 1024 px, 64 of 512 px
MAX_WALK_PIXELS = 64 * 1024 * 1024   # most pixels one walk keeps (frames × images per frame × frame side²)
MAX_LIST_CHARS = 1000         # longest keyframe / class list text (bounded before parsing)
MAX_SEEDS = 10_000            # most seeds one list holds (the CLI's --seeds)
N_COORDS = 8                  # sliders over z[0] … z[7]
N_DIRS = 8                    # sliders over the first principal directions
COORD_RANGE = 3.0             # a z[i] slider adds −3 … +3 to that coordinate
DIR_RANGE = 5.0               # a PC slider moves −5 … +5 standard deviations along its direction
MAX_CUTOFF = 32               # largest ψ cutoff accepted; more than a model's layers means all of them
PSI_RANGE = (-2.0, 2.0)       # truncation ψ accepted (1 = off, 0 = the average image)
FPS_RANGE = (1.0, 50.0)
PREVIEW_SIZE = 256            # a preview renders models that can (``previews``) at this side, e.g. while dragging
SMALL_PREVIEW = 128           # a cheaper preview, for a busy server (ganlab.serving.busy)
FRAME_SIZES = (512, 256, 128)  # the smaller frame sizes the app offers for a walk of a big model (frame_size)
FULL = "full"                 # frame_size: the model's own image size
MIN_FRAME = 16                # smallest frame size a walk accepts
BIG_SIDE = 512                # models with images this large render slowly on a CPU: the app says it is rendering
PIXELS_PER_BATCH = 4 * 256 * 256   # images rendered at once are bounded by pixels: one 1024-px image at a time
NOISE_MODES = ("const", "random", "none")       # fixed noise, fresh noise each draw, no noise (style-based only)
MIX_GROUPS = ("coarse", "middle", "fine")       # style-mixing layer groups (model.layer_groups())
ALL, SEEDED = "all", "random"                   # label: every class / the class each seed draws
METHODS = ("lerp", "slerp")
WALK_MODES = ("latent", "class")                # between keyframe latents / between classes (label embedding)
COORDS = [f"z{i}" for i in range(N_COORDS)]
DIRS = [f"pc{j}" for j in range(N_DIRS)]
VIEW_KEYS = ["model", "seed", "n", "label", "truncation", "cutoff", "noise", "mix_seed", "mix", *COORDS, *DIRS]
VIEW_DEFAULTS = {"seed": 0, "n": 4, "label": ALL, "truncation": 1.0, "cutoff": MAX_CUTOFF, "noise": "const",
                 "mix_seed": 1, "mix": [], **{k: 0.0 for k in COORDS + DIRS}}
WALK_OWN_KEYS = ["keyframes", "from_view", "mode", "classes", "method", "frames", "fps", "loop", "frame_size"]
WALK_KEYS = [k for k in VIEW_KEYS if k != "n"] + WALK_OWN_KEYS
WALK_DEFAULTS = {"keyframes": "0, 1, 2", "from_view": False, "mode": "latent", "classes": "0, 1",
                 "method": "slerp", "frames": 60, "fps": 10.0, "loop": True, "frame_size": FULL}
SEEDS = "seeds"               # a CLI grid of seeds that are not one view: its seed list, in place of seed and n
OLD_KEYS = {"class": "label"}  # written by the CLI before it wrote the views' settings (and "seeds" as a list)
_ITEM = re.compile(r"(\d+)(?:-(\d+))?")


# -- checks: one rule each, stated in the message ---------------------------------------------------------------
def whole(value, name: str, lo: int, hi: int, why: str = "") -> int:
    """``value`` as a whole number in [lo, hi], else a ValueError stating the rule (1.5 is refused, not rounded)."""
    rule = f"{name} must be a whole number from {lo} to {hi}{why}"
    if isinstance(value, bool):
        raise ValueError(f"{rule}, got {value!r}.")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{rule}, got {value!r}.") from None
    if not math.isfinite(f) or not f.is_integer() or not lo <= f <= hi:
        raise ValueError(f"{rule}, got {value!r}.")
    return int(f)


def number(value, name: str, lo: float, hi: float) -> float:
    """``value`` as a finite number in [lo, hi], else a ValueError stating the rule."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        f = math.nan
    if isinstance(value, bool) or not lo <= f <= hi:             # also refuses NaN
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}.")
    return f


def parse_list(text, what: str, lo: int, hi: int, most: int) -> list[int]:
    """'0-3, 7' → [0, 1, 2, 3, 7]: whole numbers and ranges a-b, each in [lo, hi], at most ``most`` in all.
    ``text`` may also be a list of numbers. ``what`` names one item ("keyframe seed", "class")."""
    whats = what + ("es" if what.endswith("s") else "s")
    rule = f"{whats} are whole numbers from {lo} to {hi} or ranges like {lo}-{lo + 3}, separated by commas"
    if isinstance(text, (list, tuple)):
        items = [whole(x, what, lo, hi) for x in text]
        spans = [(x, x) for x in items]
    else:
        s = str(text if text is not None else "").strip()
        if len(s) > MAX_LIST_CHARS:
            raise ValueError(f"the {what} list is too long (at most {MAX_LIST_CHARS} characters).")
        if not s.replace(",", "").strip():
            raise ValueError(f"no {whats} given: {rule}.")
        spans = []
        for part in s.split(","):
            part = part.strip()
            if not part:
                continue
            m = _ITEM.fullmatch(part.replace(" ", ""))
            if not m:
                raise ValueError(f"{part!r} is not a {what}: {rule}.")
            a, b = int(m[1]), int(m[2] or m[1])
            if b < a:
                raise ValueError(f"the {what} range {part} runs backwards: write {b}-{a}.")
            if b > hi:
                raise ValueError(f"{what} {b} is out of range: {rule}.")
            spans.append((a, b))
    count = sum(b - a + 1 for a, b in spans)
    if count > most:
        raise ValueError(f"that is {count:,} {whats}; give at most {most}.")
    return [x for a, b in spans for x in range(a, b + 1)]


def check_view(model, values: dict) -> dict:
    """The view's settings (VIEW_KEYS) validated and completed with defaults; ValueError stating the rule."""
    v = {**VIEW_DEFAULTS, **{k: values[k] for k in VIEW_KEYS if values.get(k) is not None}}
    v["model"] = model.info.get("name", values.get("model"))
    v["n"] = whole(v["n"], "the grid size n", 1, MAX_GRID)
    if v["n"] > max_images(model):
        raise ValueError(f"a view of this model holds at most {max_images(model)} images: {model.image_size}-px "
                         f"images, at most {MAX_VIEW_PIXELS / 2**20:g} megapixels in one view; got n = {v['n']}.")
    v["seed"] = whole(v["seed"], "seed", 0, latent.MAX_SEED - v["n"] + 1,
                      f" (the grid's last seed, seed + n − 1, is at most {latent.MAX_SEED})" if v["n"] > 1 else "")
    v["truncation"] = number(v["truncation"], "truncation ψ", *PSI_RANGE)
    for k in COORDS:
        v[k] = number(v[k], k, -COORD_RANGE, COORD_RANGE)
    for k in DIRS:
        v[k] = number(v[k], k, -DIR_RANGE, DIR_RANGE)
    if model.num_classes:
        label = str(v["label"]).strip().lower()
        if label not in (ALL, SEEDED):
            label = str(whole(label, "class", 0, model.num_classes - 1,
                              f" (or '{ALL}' for every class, '{SEEDED}' for the class each seed draws)"))
        v["label"] = label
        if label == ALL and v["n"] * model.num_classes > max_images(model):
            raise ValueError(f"the all-classes view shows n × {model.num_classes} images and a grid holds at most "
                             f"{max_images(model)}: use n ≤ {max_images(model) // model.num_classes}.")
    else:
        v["label"] = None                                # unconditional: the class is ignored
    v["cutoff"] = whole(v["cutoff"], "the ψ cutoff", 0, MAX_CUTOFF)
    v["mix_seed"] = whole(v["mix_seed"], "the mixing seed", 0, latent.MAX_SEED)
    mix = v["mix"] if isinstance(v["mix"], (list, tuple)) else [v["mix"]]
    if set(mix) - set(MIX_GROUPS):
        raise ValueError(f"style-mixing layers must be some of {list(MIX_GROUPS)}, got {v['mix']!r}.")
    v["mix"] = [g for g in MIX_GROUPS if g in mix] if model.style_based else []   # others have no styles to mix
    modes = model.noise_modes if model.style_based and model.noise_modes else NOISE_MODES
    if v["noise"] not in modes:
        raise ValueError(f"noise must be one of {list(modes)}, got {v['noise']!r}.")
    return v


def max_images(model) -> int:
    """The most images one view of ``model`` holds: MAX_GRID, fewer for large images (MAX_VIEW_PIXELS)."""
    return max(1, min(MAX_GRID, MAX_VIEW_PIXELS // model.image_size ** 2))


def walk_pixels(model, frames: int, images_per_frame: int = 1, side: int | None = None) -> int:
    """Pixels a walk renders (before any upscaling) at the model's image size, or kept at a frame size ``side``
    (:func:`frame_side`: what MAX_WALK_PIXELS bounds)."""
    return frames * images_per_frame * (side or model.image_size) ** 2


def frame_side(model, w: dict) -> int:
    """The side of each image in the frames of the checked walk ``w``: its frame_size, or the model's size."""
    return model.image_size if w["frame_size"] == FULL else w["frame_size"]


def is_big(model) -> bool:
    """Whether the model's images are large enough (≥ BIG_SIDE px) that a render takes seconds on a CPU."""
    return model.image_size >= BIG_SIDE


def preview_resolution(model, side: int = PREVIEW_SIZE) -> int | None:
    """The side a preview renders at (``side``, PREVIEW_SIZE by default), or None when the model has no faster
    preview: its ``previews`` capability is off or its images are no larger than that anyway."""
    return side if model.previews and model.image_size > side else None


# -- a view: settings → codes → images ------------------------------------------------------------------------
def view_pairs(model, v: dict, seeds: list[int]) -> list[tuple[int, int | None]]:
    """(seed, class) of every image of the view, seed-major: a row of every class per seed for label 'all'."""
    if not model.num_classes:
        return [(s, None) for s in seeds]
    if v["label"] == ALL:
        return [(s, c) for s in seeds for c in range(model.num_classes)]
    if v["label"] == SEEDED:
        return list(zip(seeds, latent.seed_labels(seeds, model.num_classes)))
    return [(s, int(v["label"])) for s in seeds]


def view_codes(model, v: dict, pairs: list[tuple[int, int | None]]) -> tuple[torch.Tensor, list | None]:
    """(codes, labels) of the (seed, class) pairs with the view's slider edits and style mixing applied."""
    z = latent.seed_latents([s for s, _ in pairs], model.z_dim, model.latent_dist)
    labels = None if pairs[0][1] is None else [c for _, c in pairs]
    style = {}
    if model.style_based:
        groups = model.layer_groups()
        style = dict(cutoff=min(v["cutoff"], model.num_ws), mix_layers=[i for g in v["mix"] for i in groups[g]],
                     mix_z=latent.seed_latents([v["mix_seed"]], model.z_dim, model.latent_dist))
    codes = edit_codes(model, z, labels, v["truncation"], coords=[v[k] for k in COORDS[:model.z_dim]],
                       directions=[v[k] for k in DIRS], **style)
    return codes, labels


@torch.no_grad()
def edit_codes(model, z: torch.Tensor, labels=None, truncation: float = 1.0, *, cutoff: int | None = None,
               coords=(), directions=(), mix_z: torch.Tensor | None = None, mix_layers=()) -> torch.Tensor:
    """The codes a view renders from: latents ``z`` (N, z_dim) with ``coords`` added to their first coordinates
    and moved ``directions`` standard deviations along the model's principal directions.

    For a style-based model the codes are w (N, num_ws, w_dim): mapped, truncated (ψ on the first ``cutoff``
    layers), moved along the principal directions of W (GANSpace), then the styles of ``mix_layers`` are taken
    from ``mix_z``'s w (style mixing). Otherwise the codes are z (N, z_dim) and truncation is applied when
    rendering. Either way :func:`render_codes` turns them into images and :func:`latent.keyframe_path`
    interpolates between them."""
    model.check_latents(z)
    z = latent.shift_coordinates(torch.as_tensor(z, dtype=torch.float32).cpu(), coords)   # z: on the CPU, seeded
    space, dirs, std = model.latent_directions(max(len(directions), 1)) if any(directions) else ("z", None, None)
    if not model.style_based:
        if mix_layers:
            raise ValueError("style mixing needs a style-based model.")
        return latent.move_along(z, dirs, std, directions) if any(directions) else z
    w = model.mapping(z, labels, truncation, cutoff)                              # (N, num_ws, w_dim), on its device
    if any(directions):
        w = latent.move_along(w, dirs, std, directions) if space == "w" else \
            model.mapping(latent.move_along(z, dirs, std, directions), labels, truncation, cutoff)
    if mix_layers:
        if mix_z is None:
            raise ValueError("style mixing needs a second latent.")
        w_b = model.mapping(mix_z.expand(len(w), -1), labels, truncation, cutoff)
        w = model.style_mix(w, w_b, mix_layers)
    return w


@torch.no_grad()
def render_codes(model, codes: torch.Tensor, labels=None, truncation: float = 1.0, noise_mode: str = "const",
                 batch: int = 64, callback=None, max_resolution: int | None = None,
                 size: int | None = None) -> np.ndarray:
    """uint8 (N, H, W, C) images of codes from :func:`edit_codes` (or a path between them), in batches of at
    most ``batch`` images and PIXELS_PER_BATCH pixels (big models: one image at a time, which bounds the memory
    of a render and lets progress move per image); ``callback(done, total)`` after each batch (progress bars).
    ``max_resolution``: a preview (:func:`preview_resolution`; only for models with ``previews``); ``size``: the
    full images downscaled to this side (:func:`downscale`), e.g. a walk's frame size."""
    batch = max(1, min(batch, PIXELS_PER_BATCH // model.image_size ** 2))
    preview = {"max_resolution": max_resolution} if max_resolution and model.previews else {}
    out = []
    for i in range(0, len(codes), batch):
        chunk = codes[i:i + batch]
        if model.style_based:                                                     # w (N, num_ws, w_dim)
            images = model.synthesis(chunk, noise_mode, **preview)
        else:
            lab = labels[i:i + batch] if isinstance(labels, (list, tuple, torch.Tensor, np.ndarray)) else labels
            images = model.generate(chunk, lab, truncation)
        out.append(to_uint8(downscale(images, size)))
        if callback:
            callback(min(i + batch, len(codes)), len(codes))
    return np.concatenate(out)


def downscale(images: torch.Tensor, size: int | None) -> torch.Tensor:
    """(N, C, H, W) float images resized to ``size`` px a side (None or their own size: unchanged): bicubic with
    antialiasing (Pillow's resize filter, so no aliasing at any factor), on the images' device and before they
    are rounded to 8 bits (one rounding, and a GPU sends only the small frames back)."""
    if not size or size == images.shape[-1]:
        return images
    return torch.nn.functional.interpolate(images.float(), size=(size, size), mode="bicubic", antialias=True,
                                           align_corners=False)


def view_images(model, v: dict, seeds: list[int], preview: bool | int = False,
                callback=None) -> tuple[np.ndarray, list[tuple[int, int | None]]]:
    """uint8 images (N, H, W, C) of checked settings ``v`` for ``seeds`` and their (seed, class) pairs;
    ``preview``: at :func:`preview_resolution` where the model has one (a number: at that side)."""
    pairs = view_pairs(model, v, seeds)
    codes, labels = view_codes(model, v, pairs)
    res = (preview_resolution(model) if preview is True else
           preview_resolution(model, int(preview)) if preview else None)
    return render_codes(model, codes, labels, v["truncation"], v["noise"], callback=callback,
                        max_resolution=res), pairs


def grid_columns(seeds: int, classes: int) -> int | None:
    """Columns of the grid: one per class when several seeds are drawn in every class; one seed in every class
    wraps into about two rows, so that the images stay large within the size limit; else square."""
    if classes == 1:
        return None
    return classes if seeds > 1 else math.ceil(math.sqrt(2 * classes))


def view_columns(model, v: dict, seeds: int) -> int | None:
    return grid_columns(seeds, model.num_classes if v["label"] == ALL else 1)


def image_settings(model, v: dict, pair: tuple[int, int | None]) -> dict:
    """The settings of one image of the view ``v`` (one of :func:`view_pairs`) as a one-image view of its own:
    its seed, n = 1 and its class, so that the image restores alone (the CLI's PNG per seed)."""
    seed, c = pair
    return check_view(model, {**v, "seed": seed, "n": 1, "label": v["label"] if c is None else c})


def grid_settings(model, v: dict, seeds: list[int]) -> dict:
    """The settings of a grid of ``seeds`` in the view ``v``: the view seed … seed + n − 1 when the seeds are
    one (a range the app's grid holds), else ``v`` with the seed list under SEEDS instead of seed and n."""
    try:
        return check_view(model, {**v, **seed_range(seeds)})
    except ValueError:
        rest = {k: x for k, x in v.items() if k not in ("seed", "n")}
        return {**rest, SEEDS: ", ".join(map(str, seeds))}


def seed_range(seeds) -> dict:
    """{"seed", "n"} of consecutive seeds (a list or text like '4-7'), at most MAX_GRID of them; else a
    ValueError stating the rule."""
    seeds = parse_list(seeds, "seed", 0, latent.MAX_SEED, MAX_SEEDS)
    if len(seeds) > MAX_GRID or seeds != list(range(seeds[0], seeds[0] + len(seeds))):
        shown = ", ".join(map(str, seeds[:8])) + (", …" if len(seeds) > 8 else "")
        raise ValueError(f"the seeds {shown} are not one view: a view shows the consecutive seeds seed … "
                         f"seed + n − 1 (n ≤ {MAX_GRID}); restore the PNG of one of its images instead.")
    return {"seed": seeds[0], "n": len(seeds)}


def known_settings(settings: dict, keys) -> dict:
    """Settings read from a file or pasted (the app's restore), restricted to ``keys`` (VIEW_KEYS or
    WALK_KEYS); the spellings of the CLI's older files are converted with a deprecation note: "class" (now
    "label"; null meant the class each seed draws) and "seeds" (a walk's keyframes; a grid's seed and n)."""
    old = "class" in settings
    settings, notes = vocabulary.renamed(settings, OLD_KEYS, "settings")
    if old:                                                      # the old CLI's "class": an int, "all" or null
        settings["label"] = SEEDED if settings["label"] is None else str(settings["label"])
    if SEEDS in settings and any(k in settings for k in WALK_OWN_KEYS):          # the old CLI's GIF
        settings, more = vocabulary.renamed(settings, {SEEDS: "keyframes"}, "a walk's settings")
        notes += more
    elif SEEDS in settings:                                                      # a CLI grid
        settings.update(seed_range(settings.pop(SEEDS)))
    elif old and "seed" in settings:                                             # the old CLI's PNG of one seed
        settings.setdefault("n", 1)
    vocabulary.warn(notes)
    unknown = sorted(set(settings) - set(keys))
    if unknown:
        raise ValueError(f"unknown settings {unknown[:5]}; expected some of {sorted(keys)}.")
    return settings


def render_view(model, values: dict, preview: bool | int = False, callback=None) -> tuple[np.ndarray, dict]:
    """(image uint8 (H, W, C): the grid at a readable size, checked settings) of the view ``values`` describe.

    ``preview``: a fast lower-resolution render (PREVIEW_SIZE px per image) for models with ``previews`` and
    larger images, e.g. while a slider is dragged; the settings are the same as the full render's, which the
    app draws when the slider is released. ``callback(done, total)``: progress per batch of images."""
    v = check_view(model, values)
    seeds = list(range(v["seed"], v["seed"] + v["n"]))
    images, _ = view_images(model, v, seeds, preview, callback)
    return export.fit_grid(images, view_columns(model, v, len(seeds))), v


# -- a walk: keyframes → a path of codes → frames -------------------------------------------------------------
def check_walk(model, values: dict) -> tuple[dict, dict]:
    """(view settings, walk settings) of a walk, validated; the keyframe and class lists come back as text."""
    v = check_view(model, {**values, "n": 1})
    del v["n"]
    w = {**WALK_DEFAULTS, **{k: values[k] for k in WALK_OWN_KEYS if values.get(k) is not None}}
    if w["mode"] not in WALK_MODES:
        raise ValueError(f"mode must be one of {list(WALK_MODES)}, got {w['mode']!r}.")
    if w["method"] not in METHODS:
        raise ValueError(f"the interpolation method must be one of {list(METHODS)}, got {w['method']!r}.")
    w["frames"] = whole(w["frames"], "frames", 2, MAX_FRAMES)
    w["fps"] = number(w["fps"], "fps", *FPS_RANGE)
    w["from_view"], w["loop"] = bool(w["from_view"]), bool(w["loop"])
    seeds = parse_list(w["keyframes"], "keyframe seed", 0, latent.MAX_SEED, MAX_FRAMES)
    w["keyframes"] = ", ".join(map(str, seeds))
    if w["mode"] == "class":
        if not model.label_embedding:
            raise ValueError("interpolating between classes needs a conditional model with a label embedding.")
        classes = parse_list(w["classes"], "class", 0, model.num_classes - 1, MAX_FRAMES)
        if len(classes) < 2:
            raise ValueError("give at least two classes to walk between, e.g. 0, 1.")
        w["classes"], keys = ", ".join(map(str, classes)), len(classes)
    else:
        keys = len(seeds) + w["from_view"]
        if keys < 2:
            raise ValueError("give at least two keyframes: two seeds, or one seed and the current view.")
    if keys > w["frames"]:
        raise ValueError(f"{keys} keyframes need at least {keys} frames (one each), got {w['frames']}.")
    size = w["frame_size"]
    w["frame_size"] = FULL if isinstance(size, str) and size.strip().lower() == FULL else whole(
        size, "the frame size", min(MIN_FRAME, model.image_size), model.image_size,
        f" px (or '{FULL}': the model's own size)")
    if w["frame_size"] == model.image_size:
        w["frame_size"] = FULL                                                    # one spelling of one walk
    per_frame = model.num_classes if w["mode"] == "latent" and v["label"] == ALL else 1
    side = frame_side(model, w)
    if walk_pixels(model, w["frames"], per_frame, side) > MAX_WALK_PIXELS:
        most = max(1, MAX_WALK_PIXELS // walk_pixels(model, 1, per_frame, side))
        smaller = " (or a smaller frame size)" if side > MIN_FRAME else ""
        raise ValueError(f"that walk renders {w['frames']} frames of {per_frame} {side}-px image"
                         f"{'s' * (per_frame > 1)}, more than the {MAX_WALK_PIXELS / 2**20:g} megapixels one walk may "
                         f"take: use at most {most} frames{smaller}.")
    return v, w


def walk_classes(model, v: dict, seeds: list[int]) -> list:
    """The classes a latent walk is drawn in: [None], [c], every class (a grid of walks), or the class the first
    keyframe's seed draws."""
    if not model.num_classes:
        return [None]
    if v["label"] == ALL:
        return list(range(model.num_classes))
    if v["label"] == SEEDED:
        return latent.seed_labels(seeds[:1], model.num_classes)
    return [int(v["label"])]


def render_walk(model, values: dict, size: int = 256, callback=None) -> tuple[np.ndarray, dict]:
    """(frames uint8 (T, H, W, C), settings) of the walk ``values`` describe: small images upscaled crisply to at
    least ``size`` px; with a frame_size, each image rendered in full and downscaled to it (never upscaled).
    Keyframes that are all the same image give one frame (a still), not a GIF of copies."""
    v, w = check_walk(model, values)
    seeds = parse_list(w["keyframes"], "keyframe seed", 0, latent.MAX_SEED, MAX_FRAMES)
    side = None if w["frame_size"] == FULL else w["frame_size"]
    size = side or size
    fit = dict(target=size, max_side=max(export.MAX_SIDE, size))
    if w["mode"] == "class":
        classes = parse_list(w["classes"], "class", 0, model.num_classes - 1, MAX_FRAMES)
        z = (view_codes(model, v, [(v["seed"], classes[0])])[0] if w["from_view"] else
             latent.seed_latents(seeds[:1], model.z_dim, model.latent_dist))
        frames = class_morph(model, z, classes, w["frames"], w["method"], w["loop"], v["truncation"], side)
        return np.stack([export.fit_grid(f[None], **fit) for f in frames]), {**v, **w}
    classes = walk_classes(model, v, seeds)
    plain = {**v, "mix": [], **{k: 0.0 for k in COORDS + DIRS}}                  # seed keyframes: no edits
    per_class = []
    for i, c in enumerate(classes):
        keys, _ = view_codes(model, plain, [(s, c) for s in seeds])
        if w["from_view"]:
            keys = torch.cat([view_codes(model, v, [(v["seed"], c)])[0], keys])
        if (keys == keys[:1]).all():                                              # one image: a still
            path = keys[:1]
        else:
            path = latent.keyframe_path(keys, w["frames"], w["method"], w["loop"])
        step = (lambda done, total, i=i: callback(i * total + done, len(classes) * total)) if callback else None
        per_class.append(render_codes(model, path, None if c is None else [c] * len(path), v["truncation"],
                                      v["noise"], callback=step, size=side))
    frames = np.stack(per_class, axis=1)                                          # (T, classes, H, W, C)
    columns = grid_columns(1, len(classes))
    return np.stack([export.fit_grid(f, columns, **fit) for f in frames]), {**v, **w}


@torch.no_grad()
def class_morph(model, z: torch.Tensor, classes, frames: int, method: str = "lerp", loop: bool = False,
                truncation: float = 1.0, size: int | None = None) -> np.ndarray:
    """uint8 frames (T, H, W, C) of a model with a label embedding at the fixed latent ``z`` (1, z_dim), walking
    through the label embeddings of ``classes``; frame 0 is class classes[0]; ``size``: downscaled to it."""
    emb = model.class_embeddings(classes)                                         # (K, embed_dim)
    path = latent.keyframe_path(emb, frames, method, loop)                        # (T, embed_dim)
    return to_uint8(downscale(model.generate_embedded(z.expand(frames, -1), path, truncation), size))
