"""The toy nets as PyTorch modules: the reference form and checkpoint format of a toy run (imported only on
export; training never loads torch).

The lecture's parabola experiment uses G: latent 10 -> 50 -> 50 -> 2 (ReLU, linear output) and
D: 2 -> 50 -> 50 -> 1 (ReLU, sigmoid output), trained with BCE and Adam 3e-4 (Goodfellow et al. 2014). Here
depth, width, activation, latent size and latent distribution come from the run's settings, and D's head is either a
sigmoid (D(x) is a probability) or linear (a raw logit, a WGAN critic, or the score LSGAN/hinge losses read).

A checkpoint is ganlab's one format (ganlab.checkpoint.write_folder): ``config.json`` with family ``toy2d``,
the net description under "config", the run's settings under "training" and its distances under "metrics";
``model.safetensors`` with ``generator.*`` and ``discriminator.*`` tensors. A run's export is a zip of that
folder.
"""
from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import checkpoint
from .config import BY_NAME, NET_FIELDS, check_value, current_names
from .losses import LOSS_HEAD
from .nets import ACTIVATIONS, LEAKY_SLOPE, layer_sizes

FAMILY = "toy2d"
D_OUTPUTS = ("sigmoid", "linear")
TORCH_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "softplus": nn.Softplus,
                     "leakyrelu": lambda: nn.LeakyReLU(LEAKY_SLOPE)}   # the torch forms of nets.ACTIVATIONS
assert set(TORCH_ACTIVATIONS) == set(ACTIVATIONS)


def net_config(cfg) -> dict:
    """The nets' description of a ToyConfig: its network fields and D's head (from the loss)."""
    return {name: getattr(cfg, name) for name in NET_FIELDS} | {"d_output": LOSS_HEAD[cfg.loss]}


def check_net_config(config: dict) -> dict:
    """``config`` validated against the settings table (ValueError naming the first bad or unknown key); a
    checkpoint exported before the settings' renames (``latent_dim``, ``noise``) is read with a note."""
    if not isinstance(config, dict):
        raise ValueError("the toy net config must be a JSON object.")
    config = current_names(config, "toy checkpoint config")
    expected = set(NET_FIELDS) | {"d_output"}
    if set(config) != expected:
        raise ValueError(f"toy net config keys: missing {sorted(expected - set(config))}, "
                         f"unknown {sorted(set(config) - expected)}.")
    if config["d_output"] not in D_OUTPUTS:
        raise ValueError(f"d_output must be one of {D_OUTPUTS}, got {config['d_output']!r}.")
    return {k: (v if k == "d_output" else check_value(BY_NAME[k], v)) for k, v in config.items()}


def mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers with ``activation`` between them and none after the last; Linear i sits at net[2 i]."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(TORCH_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """z (N, z_dim) -> points (N, 2); linear output, no squashing."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = check_net_config(config)
        c = self.config
        self.net = mlp(layer_sizes(c["z_dim"], c["g_width"], c["g_depth"], 2), c["g_activation"])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (N, z_dim) -> (N, 2)

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latents from the configured latent distribution, drawn with ``generator`` (never the global RNG state)."""
        d = self.config["z_dim"]
        if self.config["latent_dist"] == "uniform":
            return torch.rand(n, d, generator=generator) * 2 - 1  # (n, z_dim)
        return torch.randn(n, d, generator=generator)  # (n, z_dim)

    @torch.inference_mode()
    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """n generated points for a seed: (n, 2)."""
        return self(self.sample_latents(n, torch.Generator().manual_seed(seed)))


class Discriminator(nn.Module):
    """points (N, 2) -> (N, 1): a probability if d_output is "sigmoid", else a raw score."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = check_net_config(config)
        c = self.config
        self.net = mlp(layer_sizes(2, c["d_width"], c["d_depth"], 1), c["d_activation"])

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (N, 2) -> (N, 1), before the head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.net(x)  # (N, 1)
        return torch.sigmoid(s) if self.config["d_output"] == "sigmoid" else s


def export_modules(trainer) -> tuple[Generator, Discriminator]:
    """(Generator, Discriminator) holding a ToyTrainer's current weights (G's EMA weights when EMA is on)."""
    config = net_config(trainer.config)
    generator, discriminator = Generator(config), Discriminator(config)
    g_w, g_b, d_w, d_b = trainer.weights()
    for module, weights, biases in ((generator, g_w, g_b), (discriminator, d_w, d_b)):
        linears = [layer for layer in module.net if isinstance(layer, nn.Linear)]
        with torch.no_grad():
            for layer, w, b in zip(linears, weights, biases, strict=True):
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))   # numpy keeps (n_in, n_out)
                layer.bias.copy_(torch.from_numpy(b.copy()))
    return generator.eval(), discriminator.eval()


def save_folder(trainer, folder: str | Path) -> Path:
    """Write a ToyTrainer's nets and settings as a checkpoint folder."""
    generator, discriminator = export_modules(trainer)
    state = {f"generator.{k}": v for k, v in generator.state_dict().items()}
    state |= {f"discriminator.{k}": v for k, v in discriminator.state_dict().items()}
    meta = {"family": FAMILY, "config": generator.config, "training": trainer.settings(),
            "metrics": {k: None if v != v else v for k, v in trainer.metrics(log=False).items()}}  # NaN: not measured
    return checkpoint.write_folder(folder, meta, state)


def save_zip(trainer, path: str | Path) -> Path:
    """The checkpoint folder of a ToyTrainer, zipped as toy2d/config.json + toy2d/model.safetensors."""
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_folder(trainer, Path(tmp) / FAMILY)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in ("config.json", "model.safetensors"):
                zf.write(folder / f, f"{FAMILY}/{f}")
    return path


def from_pretrained(folder: str | Path) -> tuple[Generator, Discriminator, dict]:
    """(G, D, config.json as a dict) of a toy checkpoint folder; any mismatch is a CheckpointError."""
    meta, state = checkpoint.read_folder(folder, family=FAMILY)
    try:
        generator, discriminator = Generator(meta["config"]), Discriminator(meta["config"])
    except ValueError as e:
        raise checkpoint.CheckpointError(f"{Path(folder) / 'config.json'}: {e}") from None
    for prefix, module in (("generator.", generator), ("discriminator.", discriminator)):
        part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        checkpoint.load_state(module, part, Path(folder) / "model.safetensors")
    extra = sorted(k for k in state if not k.startswith(("generator.", "discriminator.")))
    if extra:
        raise checkpoint.CheckpointError(f"{Path(folder) / 'model.safetensors'}: unexpected tensors {extra[:5]}.")
    return generator.eval(), discriminator.eval(), meta
