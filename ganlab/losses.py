"""GAN losses on discriminator logits, as the lecture teaches them, plus the regularisers.

Every D here outputs raw scores (logits / critic values); the sigmoid lives inside the BCE losses. The names
are those of the toy engine too (``ganlab.toy.losses.LOSSES``): loss "non-saturating" | "minimax" | "lsgan" |
"hinge" | "wgan-gp"; ``label_smoothing`` is the amount subtracted from D's real target (0 = off).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("non-saturating", "minimax", "lsgan", "hinge", "wgan-gp")
PROBABILITY_LOSSES = ("non-saturating", "minimax")      # D's score is a logit: sigmoid(s) is a probability


def d_loss(kind: str, real: torch.Tensor, fake: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Discriminator loss for logits on real and fake samples. One-sided label smoothing (Salimans et al. 2016)
    lowers the real target to 1 − ``label_smoothing``; used by the BCE (non-saturating, minimax) and LSGAN
    losses."""
    real_target = 1.0 - label_smoothing
    if kind in PROBABILITY_LOSSES:
        return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_target))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    if kind == "lsgan":  # Mao et al. 2016: ½E[(D(x) − 1)²] + ½E[D(G(z))²]
        return 0.5 * ((real - real_target) ** 2).mean() + 0.5 * (fake ** 2).mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if kind == "wgan-gp":
        return fake.mean() - real.mean()
    raise ValueError(f"unknown loss {kind!r}: use one of {', '.join(LOSSES)}.")


def g_loss_per_sample(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """Generator loss per fake sample (N,), so that top-k updates can drop the worst ones."""
    if kind == "non-saturating":   # maximise log D(G(z)) (Goodfellow et al. 2014, §3)
        return F.softplus(-fake)
    if kind == "minimax":   # the original min log(1 − D(G(z))): saturates when D is confident
        return -F.softplus(fake)
    if kind == "lsgan":
        return 0.5 * (fake - 1) ** 2
    if kind in ("hinge", "wgan-gp"):
        return -fake
    raise ValueError(f"unknown loss {kind!r}: use one of {', '.join(LOSSES)}.")


def g_loss(kind: str, fake: torch.Tensor, top_k: int | None = None) -> torch.Tensor:
    """Mean generator loss; with ``top_k`` only the k samples D rates most realistic count (Sinha et al. 2020)."""
    if top_k is not None and top_k < fake.shape[0]:
        fake = fake.topk(top_k).values
    return g_loss_per_sample(kind, fake).mean()


def mean_score(kind: str, scores: torch.Tensor) -> float:
    """"Mean D" as a loss reads D's output: the mean probability sigmoid(s) for the BCE losses, the mean raw
    score (critic value) for LSGAN, hinge and WGAN-GP, whose D outputs no probability."""
    return (torch.sigmoid(scores) if kind in PROBABILITY_LOSSES else scores).mean().item()


def gradient_penalty(d, real: torch.Tensor, fake: torch.Tensor, labels=None, generator=None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(‖∇D(x̂)‖ − 1)²] on random interpolates of real and fake. For a
    conditional D, ``labels`` are those of both halves: real[i] and fake[i] must share the label labels[i]."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    t = torch.rand(shape, generator=generator).to(real.device)      # drawn on the CPU generator, on any device
    x = (real.detach() + t * (fake.detach() - real.detach())).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x, labels).sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def r1_penalty(d, real: torch.Tensor, labels=None) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E[‖∇D(x)‖²] on real data (multiply by γ/2)."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x, labels).sum(), x, create_graph=True)
    return grad.square().flatten(1).sum(1).mean()


def mode_seeking(fake: torch.Tensor, z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Mode-seeking term (Mao et al. 2019, MSGAN): pairs (first half, second half) of a batch share labels;
    penalise images that differ little relative to how much their latents differ, 1 / (|ΔG| / |Δz| + ε)."""
    h = fake.shape[0] // 2
    ratio = (fake[:h] - fake[h:2 * h]).abs().mean() / (z[:h] - z[h:2 * h]).abs().mean()
    return 1 / (ratio + eps)


def top_k_count(batch: int, epoch: float, gamma: float = 0.99, nu: float = 0.5) -> int:
    """Sinha et al. 2020's schedule: k = max(γ^epoch · B, ν · B); ν is the ``top_k`` fraction (1 = all)."""
    return max(int(batch * gamma ** epoch), int(batch * nu), 1)
