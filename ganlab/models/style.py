"""The style-based contract, in code: what StyleGAN v1 (``stylegan1.py``) and StyleGAN2 (``stylegan2.py``) share.

A style-based family maps z to an intermediate latent w (``map_raw``), broadcasts it to ``num_ws`` styles
(``mapping``, with truncation towards ``w_avg``) and renders them (``synthesis``). Everything that follows from
that lives here once: ``w_dim``, ``w_avg`` (a buffer saved with the weights, read and assigned through one
validated property), its estimate as the mean of w (``estimate_w_avg``, for files that lack it), the noise-mode
check, style mixing, the coarse / middle / fine layer groups and the principal directions of W (GANSpace).
A family implements the methods that raise ``NotImplementedError`` below and says where its ``w_avg`` buffer
lives (``w_avg_owner``).
"""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from .. import latent
from .base import GANGenerator


class StyleGenerator(GANGenerator):
    """Base class of the style-based generators (``style_based`` = True)."""

    style_based: ClassVar[bool] = True
    noise_modes: ClassVar[tuple] = ("const", "random", "none")

    # -- what a family implements ----------------------------------------------------------------------
    @property
    def num_ws(self) -> int:
        """Styles (dlatents) per image: w is broadcast to (N, num_ws, w_dim)."""
        raise NotImplementedError(f"{type(self).__name__} must define num_ws (a style-based family).")

    def map_raw(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """z (N, z_dim) on the model's device → w (N, w_dim), before broadcasting and truncation."""
        raise NotImplementedError(f"{type(self).__name__} must define map_raw (a style-based family).")

    def mapping(self, z, labels=None, truncation: float = 1.0, cutoff: int | None = None) -> torch.Tensor:
        """z (N, z_dim) → styles (N, num_ws, w_dim), truncated towards ``w_avg`` on the first ``cutoff``."""
        raise NotImplementedError(f"{type(self).__name__} must define mapping (a style-based family).")

    def synthesis(self, ws, noise_mode: str = "const", **options) -> torch.Tensor:
        """Styles (N, num_ws, w_dim) → images (N, C, H, W) in [-1, 1]."""
        raise NotImplementedError(f"{type(self).__name__} must define synthesis (a style-based family).")

    def w_avg_owner(self) -> nn.Module:
        """The module whose buffer ``w_avg`` holds the truncation centre (the state dict's key stays the family's)."""
        raise NotImplementedError(f"{type(self).__name__} must say where its w_avg buffer lives.")

    def group_bounds(self) -> tuple[int, int]:
        """Where the middle and the fine layer groups start (indices into num_ws)."""
        raise NotImplementedError(f"{type(self).__name__} must define group_bounds (a style-based family).")

    # -- shared --------------------------------------------------------------------------------------------
    @property
    def w_dim(self) -> int:
        return self.config.w_dim

    @property
    def w_avg(self) -> torch.Tensor:
        """The truncation centre (w_dim,): a buffer saved with the weights; assign a tensor to move it."""
        buffers = self.w_avg_owner()._buffers
        if "w_avg" not in buffers:      # not registered yet (the family's __init__ is registering it)
            raise AttributeError("w_avg")
        return buffers["w_avg"]

    @w_avg.setter
    def w_avg(self, value) -> None:
        value = torch.as_tensor(value, dtype=torch.float32)
        if value.shape != (self.w_dim,) or not torch.isfinite(value).all():
            raise ValueError(f"w_avg must be {self.w_dim} finite numbers, got shape {tuple(value.shape)}.")
        with torch.no_grad():
            self.w_avg.copy_(value)

    def __setattr__(self, name, value):
        if name == "w_avg":              # nn.Module would replace a top-level buffer without the checks above
            StyleGenerator.w_avg.fset(self, value)
        else:
            super().__setattr__(name, value)

    @torch.no_grad()
    def estimate_w_avg(self, n: int = 10000, seed: int = 0, chunk: int = 2000) -> torch.Tensor:
        """Set ``w_avg`` to the mean of w over ``n`` seeded latents (with seeded classes for a conditional model),
        for files that lack it, and return it."""
        g = latent.rng(seed)
        z = torch.randn(n, self.z_dim, generator=g)
        labels = torch.randint(self.num_classes, (n,), generator=g) if self.num_classes else None
        total = sum(self.map_raw(z[i:i + chunk].to(self.device),
                                 None if labels is None else labels[i:i + chunk].to(self.device)).sum(0)
                    for i in range(0, n, chunk))
        self.w_avg = total / n
        return self.w_avg

    def check_noise_mode(self, noise_mode: str) -> str:
        if noise_mode not in self.noise_modes:
            raise ValueError(f"noise_mode must be one of {', '.join(map(repr, self.noise_modes))}, got {noise_mode!r}.")
        return noise_mode

    def style_mix(self, w_a: torch.Tensor, w_b: torch.Tensor, layers) -> torch.Tensor:
        """Style mixing: w_a (N, num_ws, w_dim) with the styles of ``layers`` (indices into num_ws) from w_b."""
        idx = list(layers)
        w = w_a.clone()
        w[:, idx] = w_b[:, idx]
        return w

    def layer_groups(self) -> dict[str, range]:
        """Coarse / middle / fine style layers, split where the family's ``group_bounds`` say; a group with no
        layers is left out."""
        a, b = self.group_bounds()
        groups = {"coarse": range(0, a), "middle": range(a, b), "fine": range(b, self.num_ws)}
        return {k: r for k, r in groups.items() if len(r)}

    def latent_directions(self, k: int = 8, n: int = 4096):
        """PCA of w (GANSpace, Härkönen et al. 2020): directions (k, w_dim) to add to every style."""
        if k not in self._directions:
            z = latent.seeded_latents(n, self.z_dim, seed=12345)
            labels = torch.arange(n) % self.num_classes if self.num_classes else None
            with torch.no_grad():
                w = self.map_raw(z.to(self.device), None if labels is None else labels.to(self.device))
            self._directions[k] = ("w",) + latent.principal_directions(w.cpu(), k)
        return self._directions[k]
