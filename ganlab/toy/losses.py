"""The toy GAN's losses as pure functions of D's scores s (before D's head); gradients are dLoss/ds, batch mean
included. Checked against the papers' formulas written in torch (tests/test_toy_engine.py).

    non-saturating  D: -log σ(s_r) - log(1-σ(s_f))      G: -log σ(s_f)        (Goodfellow et al. 2014)
    minimax         D: as above                          G: log(1-σ(s_f))
    lsgan           D: ½(s_r-1)² + ½ s_f²                G: ½(s_f-1)²          (Mao et al. 2016)
    wgan-gp         D: s_f - s_r + λ(‖∇D(x̂)‖-1)²        G: -s_f               (Gulrajani et al. 2017)
    hinge           D: relu(1-s_r) + relu(1+s_f)         G: -s_f

each averaged over the batch. Label smoothing (one-sided) replaces the real target 1 by 1 - label_smoothing
(non-saturating, minimax, lsgan). The penalty of WGAN-GP is computed by the net (nets.NumpyMLP).
"""
from __future__ import annotations

import numpy as np

LOSSES = ("non-saturating", "minimax", "lsgan", "wgan-gp", "hinge")
LOSS_HEAD = {"non-saturating": "sigmoid", "minimax": "sigmoid", "lsgan": "linear", "wgan-gp": "linear",
             "hinge": "linear"}  # D's output head each loss reads: a probability σ(s) or the raw score s


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * x))


def avg(a: np.ndarray) -> float:
    return float(a.sum()) / a.size  # ndarray.mean() costs several times more on tiny arrays


def discriminator_loss(loss: str, s_real: np.ndarray, s_fake: np.ndarray, real_target: float = 1.0):
    """D's loss (without WGAN-GP's penalty) -> (value, dL/ds_real (B,), dL/ds_fake (B,))."""
    n_r, n_f = len(s_real), len(s_fake)
    if loss in ("non-saturating", "minimax"):
        # BCE(σ(s), t) = t·softplus(-s) + (1-t)·softplus(s); the fake target is 0
        real_term = avg(_softplus(-s_real)) if real_target == 1 else \
            avg(real_target * _softplus(-s_real) + (1 - real_target) * _softplus(s_real))
        value = real_term + avg(_softplus(s_fake))
        return value, (sigmoid(s_real) - real_target) / n_r, sigmoid(s_fake) / n_f
    if loss == "lsgan":
        value = 0.5 * avg((s_real - real_target) ** 2) + 0.5 * avg(s_fake ** 2)
        return value, (s_real - real_target) / n_r, s_fake / n_f
    if loss == "wgan-gp":
        value = avg(s_fake) - avg(s_real)
        return value, np.full_like(s_real, -1 / n_r), np.full_like(s_fake, 1 / n_f)
    if loss == "hinge":
        value = avg(np.maximum(0, 1 - s_real)) + avg(np.maximum(0, 1 + s_fake))
        return value, -(s_real < 1).astype(s_real.dtype) / n_r, (s_fake > -1).astype(s_fake.dtype) / n_f
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")


def generator_loss(loss: str, s_fake: np.ndarray):
    """G's loss -> (value, dL/ds_fake (B,))."""
    n = len(s_fake)
    if loss == "non-saturating":
        return avg(_softplus(-s_fake)), (sigmoid(s_fake) - 1) / n
    if loss == "minimax":  # minimise log(1 - σ(s)) = -softplus(s)
        return -avg(_softplus(s_fake)), -sigmoid(s_fake) / n
    if loss == "lsgan":
        return 0.5 * avg((s_fake - 1) ** 2), (s_fake - 1) / n
    if loss in ("wgan-gp", "hinge"):
        return -avg(s_fake), np.full_like(s_fake, -1 / n)
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")


def nearest_point_loss(points: np.ndarray, real_set: np.ndarray):
    """The lecture's naive loss: mean squared distance to the nearest stored real point -> (value, dL/dpoints)."""
    diff = points[:, None, :] - real_set[None, :, :]  # (B, M, 2)
    d2 = (diff * diff).sum(2)  # (B, M)
    nearest = real_set[d2.argmin(1)]  # (B, 2)
    delta = points - nearest
    return float((delta * delta).sum(1).mean()), 2 * delta / len(points)
