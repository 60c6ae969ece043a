"""Latent maths, in one place: seeded latents and labels, truncation, interpolation paths, principal directions.

Seeded latents (what a seed means) and every interpolation come from here; the training loop draws its own
fresh latents from its seeded ``torch.Generator``. Randomness always comes from an explicit generator seeded
by the caller, never from global RNG state, so a seed means the same latent in every process and for every user.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

MAX_SEED = 2**32 - 1


def rng(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (0 ≤ seed < 2**32)."""
    seed = int(seed)
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be between 0 and {MAX_SEED}, got {seed}.")
    return torch.Generator(device="cpu").manual_seed(seed)


def seeded_latents(n: int, z_dim: int, seed: int, dist: str = "normal") -> torch.Tensor:
    """``n`` latent vectors of size ``z_dim`` drawn one after another from one stream seeded by ``seed``, from
    N(0, I) or U(-1, 1)^d: fresh draws (PCA samples, w_avg estimates, evaluation). An image's seed means
    ``seeded_latents(1, d, seed)``; n images at seed s are the seeds s … s + n − 1 (:func:`seed_latents`).
    # (n, z_dim)"""
    g = rng(seed)
    if dist == "normal":
        return torch.randn(n, z_dim, generator=g)
    if dist == "uniform":
        return torch.rand(n, z_dim, generator=g) * 2 - 1
    raise ValueError(f"unknown latent distribution {dist!r}: use 'normal' or 'uniform'.")


def seed_latents(seeds: Sequence[int], z_dim: int, dist: str = "normal") -> torch.Tensor:
    """One latent per seed, as ``model.sample``, the app's grid and the CLI's ``--seeds 0-7,42`` mean it:
    seed s → ``seeded_latents(1, d, s)``."""
    return torch.cat([seeded_latents(1, z_dim, s, dist) for s in seeds]) if seeds else torch.zeros(0, z_dim)


def seeded_labels(n: int, num_classes: int, seed: int) -> torch.Tensor:
    """``n`` classes (n,) drawn from a stream of their own (seed XOR 0x5EED), so that the latents of a seed do not
    depend on whether the model is conditional; the class of an image's seed s is ``seeded_labels(1, k, s)``."""
    return torch.randint(num_classes, (n,), generator=rng(int(seed) ^ 0x5EED))


def seed_labels(seeds: Sequence[int], num_classes: int) -> list[int]:
    """One class per seed: seed s → the class ``model.sample`` draws for it (the app's "random" class, the
    CLI without ``--class``)."""
    return [int(seeded_labels(1, num_classes, s)[0]) for s in seeds]


def check_truncation(psi: float) -> float:
    psi = float(psi)
    if not math.isfinite(psi):
        raise ValueError(f"truncation must be a finite number, got {psi}.")
    if not -2.0 <= psi <= 2.0:
        raise ValueError(f"truncation ψ must lie in [-2, 2] (1 = off, 0 = the average output), got {psi}.")
    return psi


def truncate_z(z: torch.Tensor, psi: float) -> torch.Tensor:
    """Truncation trick in z by shrinking towards the origin, the mean of the prior: ψ = 0 gives the average
    latent, ψ = 1 leaves z unchanged."""
    return z * check_truncation(psi)


def resample_truncated(n: int, z_dim: int, threshold: float, generator: torch.Generator) -> torch.Tensor:
    """Truncation trick by resampling (Brock et al. 2019, BigGAN): normal entries whose magnitude exceeds
    ``threshold`` are redrawn until all lie inside."""
    if not threshold > 0:
        raise ValueError(f"the resampling threshold must be > 0, got {threshold}.")
    z = torch.randn(n, z_dim, generator=generator)
    out = z.abs() > threshold
    while out.any():
        z[out] = torch.randn(int(out.sum()), generator=generator)
        out = z.abs() > threshold
    return z


def truncate_w(w: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """StyleGAN's truncation in W: w' = w_avg + ψ (w − w_avg) on the first ``cutoff`` layers (all if None).
    ``w``: (N, num_ws, w_dim); ``w_avg``: (w_dim,)."""
    psi = check_truncation(psi)
    if psi == 1.0:
        return w
    num_ws = w.shape[1]
    cutoff = num_ws if cutoff is None else int(cutoff)
    if not 0 <= cutoff <= num_ws:
        raise ValueError(f"the truncation cutoff must be between 0 and {num_ws} layers, got {cutoff}.")
    w = w.clone()
    w[:, :cutoff] = w_avg.lerp(w[:, :cutoff], psi)
    return w


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Linear interpolation: exactly a at t = 0 and b at t = 1 (torch.lerp). ``t`` (T,) gives (T, ...)."""
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    t = t.reshape(t.shape + (1,) * a.dim())
    return torch.lerp(a.expand(t.shape[:t.dim() - a.dim()] + a.shape), b, t)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for GAN latents): follows the great circle between
    ``a`` and ``b`` scaled by their interpolated norms, so Gaussian latents keep a typical norm mid-way.
    Falls back to lerp when a and b are (anti)parallel. Hits a at t = 0 and b at t = 1 exactly."""
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    tt = t.reshape(t.shape + (1,) * a.dim())
    na, nb = a.norm(), b.norm()
    if na < eps or nb < eps:
        return lerp(a, b, t)
    ua, ub = a / na, b / nb
    omega = torch.arccos((ua * ub).sum().clamp(-1.0, 1.0))
    so = torch.sin(omega)
    if so.abs() < 1e-4:
        return lerp(a, b, t)
    direction = (torch.sin((1 - tt) * omega) * ua + torch.sin(tt * omega) * ub) / so
    out = direction * (na + (nb - na) * tt)
    # pin the endpoints bit-exactly (sin rounding would otherwise leave ~1e-7 errors)
    out = torch.where(tt == 0, a, out)
    return torch.where(tt == 1, b, out)


def keyframe_path(keys: torch.Tensor, frames: int, method: str = "lerp", loop: bool = False) -> torch.Tensor:
    """``frames`` points through the keyframes ``keys`` (K, ...) in order, spread evenly over the segments,
    starting exactly at the first keyframe. Without ``loop`` the path ends exactly at the last keyframe; with
    ``loop`` it goes on back to the first and stops one frame short of it, so the GIF repeats seamlessly."""
    if keys.shape[0] < 2:
        raise ValueError("an interpolation needs at least two keyframes.")
    if frames < 2:
        raise ValueError(f"an interpolation needs at least 2 frames, got {frames}.")
    if method not in ("lerp", "slerp"):
        raise ValueError(f"unknown interpolation {method!r}: use 'lerp' or 'slerp'.")
    interp = slerp if method == "slerp" else lerp
    if loop:
        keys = torch.cat([keys, keys[:1]])
    segments = keys.shape[0] - 1
    # positions along the whole path, in segment units
    pos = torch.arange(frames, dtype=torch.float64) * segments / (frames if loop else frames - 1)
    segment = pos.long().clamp(max=segments - 1)
    return torch.cat([interp(keys[i], keys[i + 1], (pos[segment == i] - i).to(keys.dtype))   # one call a segment
                      for i in range(segments) if (segment == i).any()])


def principal_directions(samples: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The top ``k`` principal directions of ``samples`` (N, D) and their standard deviations.
    Returns (directions (k, D) with unit rows, std (k,)). The sign is fixed so each direction's largest
    entry is positive, so results do not flip between runs."""
    x = samples.double() - samples.double().mean(0)
    _, s, vh = torch.linalg.svd(x, full_matrices=False)
    k = min(k, vh.shape[0])
    dirs = vh[:k]
    sign = torch.sign(dirs.gather(1, dirs.abs().argmax(1, keepdim=True)))
    dirs = dirs * sign
    std = s[:k] / math.sqrt(max(x.shape[0] - 1, 1))
    return dirs.to(samples.dtype), std.to(samples.dtype)


def shift_coordinates(x: torch.Tensor, offsets: Sequence[float]) -> torch.Tensor:
    """``x`` (N, D) with ``offsets`` added to its first len(offsets) coordinates (the app's z[i] sliders)."""
    offsets = torch.as_tensor(list(offsets), dtype=x.dtype)
    if offsets.numel() > x.shape[-1]:
        raise ValueError(f"{offsets.numel()} coordinate offsets for a {x.shape[-1]}-d latent.")
    if not torch.isfinite(offsets).all():
        raise ValueError("coordinate offsets must be finite numbers.")
    x = x.clone()
    x[..., :offsets.numel()] += offsets
    return x


def move_along(x: torch.Tensor, directions: torch.Tensor, std: torch.Tensor, amounts: Sequence[float]) -> torch.Tensor:
    """``x`` moved by amounts[j] standard deviations along each principal direction j:
    x + Σ_j amounts[j] · std[j] · directions[j]. ``x`` (N, D) or (N, L, D) (every layer moves the same);
    ``directions`` (k, D) and ``std`` (k,) as :func:`principal_directions` returns them, k ≥ len(amounts)."""
    amounts = torch.as_tensor(list(amounts), dtype=x.dtype)
    if amounts.numel() > directions.shape[0]:
        raise ValueError(f"{amounts.numel()} direction amounts for {directions.shape[0]} directions.")
    if not torch.isfinite(amounts).all():
        raise ValueError("direction amounts must be finite numbers.")
    k = amounts.numel()
    shift = (amounts.to(x.device) * std[:k].to(x)) @ directions[:k].to(x)      # (D,), on x's device
    return x + shift
