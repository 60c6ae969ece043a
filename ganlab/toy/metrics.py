"""How far the generated points are from the data: the grid Jensen-Shannon divergence and the sliced
Wasserstein-1 distance.

The grid JS is measured in bits on a GRID_BINS × GRID_BINS grid whose extent is the bounding box of a fixed
reference set of real samples, so every real sample is counted (GAN Lab's grid left about two thirds of them
out). Generated points outside that box are counted in one extra "outside" bin, where the real mass is 0: a
generator that spills out of the data's box is penalised rather than clipped onto the edge bins.
"""
from __future__ import annotations

import numpy as np

GRID_BINS = 30          # the metric grid is GRID_BINS × GRID_BINS over the real data's bounding box
N_DIRECTIONS = 32       # evenly spaced projection directions of the sliced Wasserstein distance


def grid_extent(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bounding box of points (lo, hi), widened where it is flat so every bin has positive size."""
    lo, hi = points.min(0).astype(np.float64), points.max(0).astype(np.float64)
    span = np.maximum(hi - lo, 1e-3 * max(float((hi - lo).max()), 1e-6))
    mid = (lo + hi) / 2
    lo, hi = np.minimum(lo, mid - span / 2), np.maximum(hi, mid + span / 2)
    return lo, hi


def grid_histogram(points: np.ndarray, lo: np.ndarray, hi: np.ndarray, bins: int = GRID_BINS) -> np.ndarray:
    """Counts of points in a bins×bins grid over [lo, hi] (closed: points on hi fall in the last bin), then
    one last entry counting the points outside. Returns (bins*bins + 1,) int64 summing to len(points)."""
    points = np.asarray(points, np.float64)
    inside = np.all((points >= lo) & (points <= hi), 1)
    ij = np.floor((points[inside] - lo) / (hi - lo) * bins).astype(np.int64)
    np.clip(ij, 0, bins - 1, out=ij)
    counts = np.bincount(ij[:, 1] * bins + ij[:, 0], minlength=bins * bins)
    return np.append(counts, np.count_nonzero(~inside))


def js_divergence_bits(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) between two histograms given as counts."""
    p = np.asarray(p_counts, np.float64)
    q = np.asarray(q_counts, np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    js = 0.0
    for a in (p, q):
        nz = a > 0
        js += 0.5 * float((a[nz] * np.log2(a[nz] / m[nz])).sum())
    return min(max(js, 0.0), 1.0)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, n_directions: int = N_DIRECTIONS) -> float:
    """Mean over evenly spaced directions of the 1-D Wasserstein-1 distance between the projections.
    Uses the first min(len(a), len(b)) points of each (pass shuffled or i.i.d. samples)."""
    n = min(len(a), len(b))
    angles = np.arange(n_directions) * (np.pi / n_directions)
    directions = np.stack([np.cos(angles), np.sin(angles)])  # (2, n_directions)
    pa = np.sort(np.asarray(a[:n], np.float64) @ directions, axis=0)  # (n, n_directions)
    pb = np.sort(np.asarray(b[:n], np.float64) @ directions, axis=0)
    return float(np.abs(pa - pb).mean())
