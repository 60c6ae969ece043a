"""The toy GAN's data: built-in 2-D datasets, and the user's own points from a CSV file or a drawing."""
from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np

MAX_CSV_BYTES = 1_000_000
MAX_POINTS = 10_000
MIN_POINTS = 10


def sample_parabola(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.uniform(-1, 1, n)
    return np.stack([x, x * x], 1).astype(np.float32)  # (n, 2)


def sample_ring(rng: np.random.Generator, n: int) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 0.8 + 0.03 * rng.standard_normal(n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1).astype(np.float32)


def sample_8gaussians(rng: np.random.Generator, n: int) -> np.ndarray:
    angle = rng.integers(0, 8, n) * (np.pi / 4)
    centers = 0.8 * np.stack([np.cos(angle), np.sin(angle)], 1)
    return (centers + 0.05 * rng.standard_normal((n, 2))).astype(np.float32)


def sample_moons(rng: np.random.Generator, n: int) -> np.ndarray:
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    xy = np.stack([x - 0.5, y - 0.25], 1) * 0.6 + 0.03 * rng.standard_normal((n, 2))
    return xy.astype(np.float32)


def sample_spiral(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.sqrt(rng.uniform(0, 1, n))  # sqrt: uniform density along the arc, roughly
    angle, radius = 3 * np.pi * t, 0.05 + 0.85 * t
    xy = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1) + 0.02 * rng.standard_normal((n, 2))
    return xy.astype(np.float32)


SAMPLERS = {"parabola": sample_parabola, "ring": sample_ring, "8gaussians": sample_8gaussians,
            "moons": sample_moons, "spiral": sample_spiral}
DATASETS = (*SAMPLERS, "points")   # "points": the user's own, given to the trainer


def normalize_points(points: np.ndarray) -> np.ndarray:
    """Centre user points on their bounding box and scale the larger side to [-1, 1] (aspect kept)."""
    points = np.asarray(points, dtype=np.float64)
    lo, hi = points.min(0), points.max(0)
    half = float((hi - lo).max()) / 2
    if half <= 0:
        raise ValueError("all points are identical: a distribution needs some spread.")
    return ((points - (lo + hi) / 2) / half).astype(np.float32)


def check_points(points: np.ndarray, source: str) -> np.ndarray:
    if len(points) < MIN_POINTS:
        raise ValueError(f"{source} has {len(points)} points; at least {MIN_POINTS} are needed.")
    if len(points) > MAX_POINTS:
        raise ValueError(f"{source} has {len(points)} points; at most {MAX_POINTS:,} are allowed.")
    if float(np.ptp(points, axis=0).max()) <= 0:
        raise ValueError(f"all points in {source} are identical: a distribution needs some spread.")
    return points


def points_from_csv(data: str | bytes | Path) -> np.ndarray:
    """Parse x,y rows (comma, semicolon, tab or space separated; an optional header line; '#' comments).

    Raises ValueError with the line number for anything that is not exactly two finite numbers, for files
    over MAX_CSV_BYTES, and for fewer than MIN_POINTS or more than MAX_POINTS rows. Returns (n, 2) float32,
    in the file's own units (see normalize_points).
    """
    if isinstance(data, Path) or (isinstance(data, str) and "\n" not in data and len(data) < 4096
                                  and Path(data).is_file()):
        path = Path(data)
        if path.stat().st_size > MAX_CSV_BYTES:
            raise ValueError(f"the CSV file is {path.stat().st_size:,} bytes; the limit is {MAX_CSV_BYTES:,}.")
        data = path.read_bytes()
    if isinstance(data, bytes):
        if len(data) > MAX_CSV_BYTES:
            raise ValueError(f"the CSV file is {len(data):,} bytes; the limit is {MAX_CSV_BYTES:,}.")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError("the CSV file is not UTF-8 text.") from None
    if len(data) > MAX_CSV_BYTES:
        raise ValueError(f"the CSV text is {len(data):,} characters; the limit is {MAX_CSV_BYTES:,}.")
    rows: list[tuple[float, float]] = []
    seen_data = False
    for lineno, line in enumerate(io.StringIO(data), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f for f in re.split(r"[,;\t ]+", line) if f != ""]
        if len(fields) != 2:
            raise ValueError(f"line {lineno}: expected 2 columns (x, y), found {len(fields)}: {line[:60]!r}.")
        values = []
        for f in fields:
            try:
                values.append(float(f))
            except ValueError:
                values.append(None)
        if not seen_data and all(v is None for v in values):
            seen_data = True  # a header line such as "x,y"
            continue
        seen_data = True
        for f, v in zip(fields, values):
            if v is None:
                raise ValueError(f"line {lineno}: {f[:30]!r} is not a number.")
            if not math.isfinite(v):
                raise ValueError(f"line {lineno}: {f[:30]!r} is not a finite number.")
        rows.append((values[0], values[1]))
        if len(rows) > MAX_POINTS:
            raise ValueError(f"the CSV file has more than {MAX_POINTS:,} points; that is the limit.")
    return check_points(np.array(rows, dtype=np.float32).reshape(-1, 2), "the CSV file")


def points_from_drawing(image: np.ndarray, max_points: int = 2000) -> np.ndarray:
    """Turn a canvas drawing into points: every inked pixel becomes (x, y), y up, scaled to [-1, 1].

    image: (H, W), (H, W, 3) or (H, W, 4) uint8. Ink is an opaque, non-white pixel (RGBA) or a dark pixel
    (grey/RGB). At most ``max_points`` pixels are kept, evenly spaced in scan order (no randomness).
    """
    if image is None:
        raise ValueError("the drawing is empty: draw a few strokes first.")
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)) or image.size == 0:
        raise ValueError(f"expected an (H, W[, 1|3|4]) image, got shape {image.shape}.")
    image = image.astype(np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    rgb = image[:, :, :3] if image.shape[2] >= 3 else np.repeat(image[:, :, :1], 3, 2)
    luminance = rgb @ np.array([0.299, 0.587, 0.114], np.float32)  # (H, W)
    if image.shape[2] == 4:
        ink = (image[:, :, 3] > 127) & (luminance < 200)
    else:
        ink = luminance < 128
    rows, cols = np.nonzero(ink)
    if len(rows) < MIN_POINTS:
        raise ValueError("the drawing is empty: draw a few strokes first.")
    if len(rows) > max_points:
        keep = np.linspace(0, len(rows) - 1, max_points).astype(int)
        rows, cols = rows[keep], cols[keep]
    h, w = ink.shape
    scale = max(h, w) - 1 or 1
    points = np.stack([cols * 2.0 / scale - 1, 1 - rows * 2.0 / scale], 1).astype(np.float32)
    return check_points(points, "the drawing")
