"""The 2-D toy GAN of the lectures: small MLPs that map noise to points in the plane, and back to a score.

The lecture's parabola experiment uses G: latent 10 -> 50 -> 50 -> 2 (ReLU, linear output) and
D: 2 -> 50 -> 50 -> 1 (ReLU, sigmoid output), trained with BCE and Adam 3e-4 (Goodfellow et al. 2014).
Here depth, width, activation, latent size and noise are configurable, and D's head is either a sigmoid
(D(x) is a probability) or linear (a raw logit, a WGAN critic, or the score LSGAN/hinge losses read).

These ``nn.Module`` classes are the reference form and the checkpoint format of the toy nets. The live
trainer (``ganlab.toy``) trains the same networks with a hand-written numpy forward/backward for speed and
exports its weights into these modules; tests check both agree.

A checkpoint is a folder (or a zip of one) with ``config.json`` (family ``toy2d``, format version, the
``ToyConfig`` fields) and ``model.safetensors`` (``generator.*`` and ``discriminator.*`` tensors).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

FAMILY = "toy2d"
FORMAT_VERSION = 1
ACTIVATIONS = ("relu", "leakyrelu", "tanh", "elu", "softplus")
LEAKY_SLOPE = 0.2  # negative slope of "leakyrelu" (DCGAN's value)
NOISES = ("normal", "uniform")
D_OUTPUTS = ("sigmoid", "linear")


@dataclass
class ToyConfig:
    latent_dim: int = 10            # size of z, the generator's input (1-16 in the app)
    noise: str = "normal"           # latent distribution: "normal" N(0, I) or "uniform" U(-1, 1)
    g_depth: int = 2                # hidden layers of G
    g_width: int = 50               # units per hidden layer of G
    g_activation: str = "relu"      # one of ACTIVATIONS
    d_depth: int = 2                # hidden layers of D
    d_width: int = 50               # units per hidden layer of D
    d_activation: str = "relu"      # one of ACTIVATIONS
    d_output: str = "sigmoid"       # "sigmoid": D(x) is a probability; "linear": raw logit / critic score
    data_dim: int = 2               # dimension of the data points (the plane)

    def __post_init__(self):
        check_config(self)


def check_config(cfg: ToyConfig) -> None:
    """Raise ValueError naming the first field that is out of range."""
    if not 1 <= cfg.latent_dim <= 64:
        raise ValueError(f"latent_dim must be in 1..64, got {cfg.latent_dim}.")
    if cfg.noise not in NOISES:
        raise ValueError(f"noise must be one of {NOISES}, got {cfg.noise!r}.")
    for name in ("g_depth", "d_depth"):
        if not 0 <= getattr(cfg, name) <= 8:
            raise ValueError(f"{name} must be in 0..8 hidden layers, got {getattr(cfg, name)}.")
    for name in ("g_width", "d_width"):
        if not 1 <= getattr(cfg, name) <= 1024:
            raise ValueError(f"{name} must be in 1..1024 units, got {getattr(cfg, name)}.")
    for name in ("g_activation", "d_activation"):
        if getattr(cfg, name) not in ACTIVATIONS:
            raise ValueError(f"{name} must be one of {ACTIVATIONS}, got {getattr(cfg, name)!r}.")
    if cfg.d_output not in D_OUTPUTS:
        raise ValueError(f"d_output must be one of {D_OUTPUTS}, got {cfg.d_output!r}.")
    if cfg.data_dim < 1:
        raise ValueError(f"data_dim must be positive, got {cfg.data_dim}.")


def layer_sizes(n_in: int, width: int, depth: int, n_out: int) -> list[int]:
    """[n_in, width, ..., width, n_out] with ``depth`` hidden layers."""
    return [n_in] + [width] * depth + [n_out]


def make_activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "softplus": nn.Softplus,
            "leakyrelu": lambda: nn.LeakyReLU(LEAKY_SLOPE)}[name]()


def mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers with ``activation`` between them and none after the last; Linear i sits at net[2 i]."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(make_activation(activation))
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """z (N, latent_dim) -> points (N, data_dim); linear output, no squashing."""

    def __init__(self, config: ToyConfig):
        super().__init__()
        self.config = config
        self.net = mlp(layer_sizes(config.latent_dim, config.g_width, config.g_depth, config.data_dim),
                       config.g_activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (N, latent_dim) -> (N, data_dim)

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latents from the configured noise, drawn with ``generator`` (never the global RNG state)."""
        if self.config.noise == "uniform":
            return torch.rand(n, self.config.latent_dim, generator=generator) * 2 - 1  # (n, latent_dim)
        return torch.randn(n, self.config.latent_dim, generator=generator)  # (n, latent_dim)

    @torch.inference_mode()
    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """n generated points for a seed: (n, data_dim)."""
        return self(self.sample_latents(n, torch.Generator().manual_seed(seed)))


class Discriminator(nn.Module):
    """points (N, data_dim) -> (N, 1): a probability if d_output is "sigmoid", else a raw score."""

    def __init__(self, config: ToyConfig):
        super().__init__()
        self.config = config
        self.net = mlp(layer_sizes(config.data_dim, config.d_width, config.d_depth, 1), config.d_activation)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (N, data_dim) -> (N, 1), before the head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.net(x)  # (N, 1)
        return torch.sigmoid(s) if self.config.d_output == "sigmoid" else s


def save_pretrained(folder: str | Path, generator: Generator, discriminator: Discriminator,
                    extra: dict | None = None) -> Path:
    """Write ``config.json`` (ToyConfig + ``extra`` metadata) and ``model.safetensors`` (G and D) into folder."""
    from safetensors.torch import save_file

    if dataclasses.asdict(generator.config) != dataclasses.asdict(discriminator.config):
        raise ValueError("generator and discriminator were built from different ToyConfigs.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"generator.{k}": v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    tensors |= {f"discriminator.{k}": v.detach().cpu().contiguous() for k, v in discriminator.state_dict().items()}
    save_file(tensors, str(folder / "model.safetensors"))
    config = {"family": FAMILY, "format_version": FORMAT_VERSION,
              "config": dataclasses.asdict(generator.config), **(extra or {})}
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder


def from_pretrained(folder: str | Path) -> tuple[Generator, Discriminator, dict]:
    """Load (G, D, config.json dict) from a folder written by ``save_pretrained``; any mismatch is an error."""
    from safetensors.torch import load_file

    folder = Path(folder)
    meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if meta.get("family") != FAMILY or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{folder / 'config.json'}: not a {FAMILY} checkpoint of format {FORMAT_VERSION}.")
    fields = {f.name for f in dataclasses.fields(ToyConfig)}
    unknown = sorted(set(meta["config"]) - fields)
    if unknown:
        raise ValueError(f"{folder / 'config.json'}: unknown ToyConfig fields {unknown}.")
    config = ToyConfig(**meta["config"])
    tensors = load_file(str(folder / "model.safetensors"))
    generator, discriminator = Generator(config), Discriminator(config)
    for prefix, module in (("generator.", generator), ("discriminator.", discriminator)):
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        module.load_state_dict(state, strict=True)
    return generator.eval(), discriminator.eval(), meta
