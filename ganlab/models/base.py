"""The one generator interface every ganlab family implements, and its Hub/safetensors plumbing.

A family subclasses :class:`GANGenerator`, sets ``family``, ``display_name`` and ``config_class``, declares
what it can do with the capability flags below and implements ``forward(z, labels) -> image``; sampling,
seeds, labels, truncation and checkpoint I/O live here once. Code outside ``ganlab/models/`` asks these flags,
never a family name or ``hasattr``; a new family is its own file plus one line in ``models/__init__.py``.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, ClassVar

import numpy as np
import torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from torch import nn

from .. import latent
from ..checkpoint_format import CheckpointError, load_weights, save  # noqa: F401  (CheckpointError re-exported)

MAX_SAMPLES = 1024  # cap on n for sample(): larger batches belong in a loop over generate()


def init_weights_dcgan(module: nn.Module) -> None:
    """DCGAN's initialisation (Radford et al. 2015): conv/linear weights N(0, 0.02), BatchNorm weights N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build_config(config_class: type, config: Any) -> Any:
    """Turn a dict (from config.json) into the family's config dataclass, refusing unknown or missing keys."""
    if dataclasses.is_dataclass(config):
        return config
    if not isinstance(config, dict):
        raise CheckpointError(f"the model config must be a JSON object, got {type(config).__name__}.")
    fields = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(config) - fields)
    if unknown:
        raise CheckpointError(f"unknown {config_class.__name__} fields {unknown}; expected a subset of {sorted(fields)}.")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    return config_class(**values)


class GANGenerator(nn.Module, PyTorchModelHubMixin, library_name="ganlab", tags=["gan", "ganlab"]):
    """Base class of every ganlab generator.

    Attributes every family has: ``z_dim``, ``num_classes`` (0 = unconditional), ``class_names``,
    ``image_size``, ``channels``; ``info`` holds the checkpoint's metadata (dataset, training summary,
    metrics) when the model was loaded from a folder.
    """

    family: ClassVar[str] = ""                   # the checkpoint's "family" key, e.g. "stylegan2"
    display_name: ClassVar[str] = ""             # shown in the UI and the model cards, e.g. "StyleGAN2"
    config_class: ClassVar[type] = object        # the family's config dataclass (commented defaults)
    always_conditional: ClassVar[bool] = False   # the family is conditional by definition (needs num_classes ≥ 1)
    style_based: ClassVar[bool] = False          # a W space: the family is a models.style.StyleGenerator
    noise_modes: ClassVar[tuple] = ()            # synthesis noise modes, e.g. ("const", "random", "none")
    previews: ClassVar[bool] = False             # synthesis(ws, noise_mode, max_resolution=r): a fast lower-resolution
                                                 #   preview (the skip generator's image at the block ≤ r px)
    label_embedding: ClassVar[bool] = False      # class_embeddings(classes) + generate_embedded(z, emb): class morphs
    training_options: ClassVar[tuple] = ()       # TrainConfig fields forward_train() reads, e.g. ("mixing",)

    def __init__(self, config):
        super().__init__()
        self.config = build_config(self.config_class, config)
        if self.config.num_classes and len(self.config.class_names) not in (0, self.config.num_classes):
            raise ValueError(f"class_names has {len(self.config.class_names)} names for {self.config.num_classes} classes.")
        self.info: dict = {}
        self._directions: dict[int, tuple[str, torch.Tensor, torch.Tensor]] = {}

    # -- the interface ---------------------------------------------------------------------------------
    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def class_names(self) -> list[str]:
        names = list(self.config.class_names)
        return names or [str(i) for i in range(self.num_classes)]

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def channels(self) -> int:
        return self.config.channels

    @property
    def latent_dist(self) -> str:
        return getattr(self.config, "latent_dist", "normal")

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Training path: raw generator output (N, C, H, W) for latents (N, z_dim)."""
        raise NotImplementedError

    def forward_train(self, z: torch.Tensor, labels=None, update_stats: bool = False, **options) -> torch.Tensor:
        """The trainer's forward: raw output (N, C, H, W). ``options`` are the TrainConfig fields named in
        ``training_options``; ``update_stats`` is True on generator steps (running statistics such as w_avg)."""
        return self(z, labels)

    def generate(self, z: torch.Tensor, labels=None, truncation: float = 1.0) -> torch.Tensor:
        """Images (N, C, H, W) in [-1, 1] for latents ``z`` (N, z_dim); ``truncation`` ψ shrinks z towards the
        prior's mean (ψ = 0 gives the average output)."""
        z = self.check_latents(z)
        labels = self.check_labels(labels, z.shape[0])
        return self(latent.truncate_z(z, truncation), labels).clamp(-1, 1)

    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        """The latents (n, z_dim) that ``sample(n, seed)`` uses: one per seed, seed … seed + n − 1."""
        return latent.seed_latents(self.sample_seeds(n, seed), self.z_dim, self.latent_dist)

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, labels=None, truncation: float = 1.0) -> np.ndarray:
        """``n`` images as uint8 (n, H, W, C) of the seeds seed … seed + n − 1, each image drawn from its own
        seed: the app's grid at that seed and the CLI's ``--seeds`` give the same images. Conditional models
        draw each seed's class from that seed when ``labels`` is None.

        Changed meaning: earlier versions drew the n latents from one stream seeded by ``seed`` (only
        ``sample(1, seed)`` is unchanged); ``latent.seeded_latents(n, model.z_dim, seed)`` still draws those."""
        seeds = self.sample_seeds(n, seed)
        z = latent.seed_latents(seeds, self.z_dim, self.latent_dist)
        if labels is None and self.num_classes:
            labels = latent.seed_labels(seeds, self.num_classes)
        return to_uint8(self.generate(z, labels, truncation))

    def sample_seeds(self, n: int, seed: int = 0) -> list[int]:
        """The seeds of ``sample(n, seed)``: seed … seed + n − 1, checked (n ≤ MAX_SAMPLES, all < 2**32)."""
        n, last = self.check_n(n), latent.MAX_SEED
        whole = isinstance(seed, (int, float, np.integer, np.floating)) and not isinstance(seed, bool) \
            and np.isfinite(seed) and seed == int(seed)
        if not whole or not 0 <= seed <= last - n + 1:
            raise ValueError(f"seed must be a whole number from 0 to {last - n + 1} for {n} images (the last seed, "
                             f"seed + n − 1, is at most {last}), got {seed!r}.")
        return list(range(int(seed), int(seed) + n))

    # -- checks shared by every entry point -----------------------------------------------------------
    @staticmethod
    def check_n(n: int) -> int:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise ValueError(f"n must be a whole number, got {n!r}.")
        if not 1 <= n <= MAX_SAMPLES:
            raise ValueError(f"n must be between 1 and {MAX_SAMPLES}, got {n}.")
        return int(n)

    def check_latents(self, z: torch.Tensor) -> torch.Tensor:
        z = torch.as_tensor(z, dtype=torch.float32)
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"latents must have shape (N, {self.z_dim}), got {tuple(z.shape)}.")
        if not torch.isfinite(z).all():
            raise ValueError("latents contain NaN or infinite values.")
        return z.to(self.device)

    def check_labels(self, labels, n: int) -> torch.Tensor | None:
        """Validate ``labels`` (None, an int, or a sequence of n ints) and return a (n,) LongTensor or None."""
        if labels is None:
            if self.num_classes:
                raise ValueError(f"this conditional model needs class labels (0–{self.num_classes - 1}).")
            return None
        if not self.num_classes:
            raise ValueError("this model is unconditional: it takes no class labels.")
        if isinstance(labels, (int, np.integer)) and not isinstance(labels, bool):
            labels = [int(labels)] * n
        t = torch.as_tensor(labels)
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.dim() != 1:
            raise ValueError("labels must be an int or a list of ints.")
        if t.shape[0] != n:
            raise ValueError(f"got {t.shape[0]} labels for {n} latents.")
        bad = t[(t < 0) | (t >= self.num_classes)]
        if bad.numel():
            raise ValueError(f"class {int(bad[0])} is out of range: this model has classes 0–{self.num_classes - 1}.")
        return t.long().to(self.device)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- optional capabilities: families that declare a flag override these ------------------------------
    def class_embeddings(self, classes) -> torch.Tensor:
        """Label embeddings (K, embed_dim) of class indices (``label_embedding`` families)."""
        raise ValueError(f"{self.display_name} has no label embedding: interpolating between classes needs a "
                         "conditional model with one.")

    def generate_embedded(self, z: torch.Tensor, embeddings: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """Images for latents with label embeddings instead of class indices (``label_embedding`` families)."""
        raise ValueError(f"{self.display_name} has no label embedding.")

    # -- latent directions (cached per model) ---------------------------------------------------------
    def latent_directions(self, k: int = 8, n: int = 4096) -> tuple[str, torch.Tensor, torch.Tensor]:
        """Principal directions of the latent space the sliders move in: ("z", dirs, std) from PCA of
        sampled z here; style-based families use PCA of w (Härkönen et al. 2020, GANSpace; models/style.py)."""
        if k not in self._directions:
            z = latent.seeded_latents(n, self.z_dim, seed=12345, dist=self.latent_dist)
            self._directions[k] = ("z",) + latent.principal_directions(z, k)
        return self._directions[k]

    # -- Hub mixin: safetensors only, strict, ganlab's one checkpoint format ----------------------------
    def _save_pretrained(self, save_directory) -> None:
        """The mixin's ``save_pretrained`` / ``push_to_hub`` write a ganlab checkpoint (config.json + weights)
        through :func:`ganlab.checkpoint_format.save`; the mixin then leaves that config.json as it is."""
        save(self, save_directory, dataset=self.info.get("dataset", ""), training=self.info.get("training"),
                        source=self.info.get("source"))

    @classmethod
    def _from_pretrained(cls, *, model_id, revision, cache_dir, force_download, local_files_only, token,
                         map_location: str = "cpu", strict: bool = True, **model_kwargs):
        """Strict, safetensors-only load (the mixin's default would fall back to unpickling a .bin file)."""
        if os.path.isdir(model_id):
            model_file = os.path.join(model_id, "model.safetensors")
        else:
            model_file = hf_hub_download(repo_id=model_id, filename="model.safetensors", revision=revision,
                                         cache_dir=cache_dir, force_download=force_download, token=token,
                                         local_files_only=local_files_only)
        model = cls(**model_kwargs)
        load_weights(model, model_file, map_location)
        return model.eval()


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] → (N, H, W, C) uint8."""
    x = ((images.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()

