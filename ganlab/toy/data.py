"""The toy GAN's data: built-in 2-D datasets, and the user's own points from a CSV file or a drawing."""
from __future__ import annotations

import io
import json
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


def points_from_strokes(strokes, size: int = 400, spacing: float = 2.0, max_points: int = 2000) -> np.ndarray:
    """Turn strokes drawn on a size × size canvas into points: each stroke (a polyline of [x, y] canvas pixels, y
    down) is sampled every ``spacing`` px, then mapped to [-1, 1] with y up. ``strokes`` is a list of polylines
    or its JSON text (what the Live tab's canvas sends). At most ``max_points`` points are kept, evenly spaced
    along the strokes (no randomness). ValueError with a plain message for anything else."""
    empty = "The drawing is empty: draw a few strokes first."
    if isinstance(strokes, str):
        if not strokes.strip():
            raise ValueError(empty)
        if len(strokes) > MAX_CSV_BYTES:
            raise ValueError(f"the drawing is {len(strokes):,} characters; the limit is {MAX_CSV_BYTES:,}.")
        try:
            strokes = json.loads(strokes)
        except ValueError:
            raise ValueError("the drawing is not a list of strokes.") from None
    if not isinstance(strokes, list) or not all(isinstance(s, list) for s in strokes):
        raise ValueError("the drawing is not a list of strokes.")
    pieces = []
    for stroke in strokes:
        try:
            line = np.array(stroke, dtype=np.float64).reshape(-1, 2)   # (k, 2) canvas pixels
        except (TypeError, ValueError):
            raise ValueError("a stroke of the drawing is not a list of [x, y] points.") from None
        if len(line) and not (np.isfinite(line).all() and (line >= -1).all() and (line <= size + 1).all()):
            raise ValueError(f"a stroke of the drawing leaves the {size} × {size} canvas.")
        if len(line) > 1:
            steps = np.maximum(1, np.ceil(np.linalg.norm(np.diff(line, axis=0), axis=1) / spacing)).astype(int)
            t = np.concatenate([np.arange(n) / n for n in steps])                   # position within a segment
            start = np.repeat(line[:-1], steps, axis=0)
            line = np.concatenate([start + t[:, None] * np.repeat(np.diff(line, axis=0), steps, axis=0), line[-1:]])
        pieces.append(line)
        if sum(map(len, pieces)) > 50 * MAX_POINTS:
            raise ValueError("the drawing has too many strokes.")
    points = np.concatenate(pieces) if pieces else np.zeros((0, 2))
    if len(points) < MIN_POINTS:
        raise ValueError(empty)
    if len(points) > max_points:
        points = points[np.linspace(0, len(points) - 1, max_points).astype(int)]
    xy = np.stack([points[:, 0] * 2 / size - 1, 1 - points[:, 1] * 2 / size], 1).astype(np.float32)
    return check_points(xy, "the drawing")
