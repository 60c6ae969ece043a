"""One-click experiments for the Live tab: each sets every control for one effect, and says what to look for.

Each effect is checked numerically in tests/test_toy_presets.py (e.g. the minimax run's G really stalls where
the same run with the non-saturating loss learns), so the notes promise only what the runs show.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import ToyConfig, default_config, lecture_config

MINIMAX = lecture_config(dataset="ring", loss="minimax", optimizer="rmsprop", lr_g=1e-3, lr_d=3e-3, d_steps=5)


@dataclass(frozen=True)
class Preset:
    config: ToyConfig
    note: str          # what to look for (Markdown)


PRESETS = {
    "recommended (fast)": Preset(default_config(), (
        "ganlab's settings: two-time-scale learning rates, Adam with β1 = 0, an EMA of G. On the parabola the "
        "grid JS falls to about 0.03 bits within a few thousand iterations.")),
    "lecture (parabola)": Preset(lecture_config(), (
        "The lecture's GAN: 10-D latent, 50-unit ReLU nets, BCE, Adam 3e-4 with β1 = 0.9. Look for: it gets "
        "onto the parabola too, but after 3,000 iterations its grid JS is still several times the recommended "
        "settings'.")),
    "minimax vs a strong D: G stalls": Preset(MINIMAX, (
        "Minimax loss (G minimises log(1 − D(G(z)))) with a strong D (5 D steps, a higher D learning rate) on "
        "the ring. Look for: D keeps rejecting G's points (*D(fake)* stays lower), where G's loss is flat, and G "
        "makes little progress: the grid JS is still about 0.5 bits after 1,500 iterations. Switch the loss to "
        "*non-saturating* (all else the same): the JS falls to about 0.17.")),
    "naive generator: on the data, no variety": Preset(default_config(naive=True), (
        "The orange squares are the lecture's naive generator (same net and start, pulled to the nearest real "
        "point). Look for: it sits on the data in a small clump, and its *naive JS* curve stays near 0.9 bits "
        "while the GAN's JS falls below 0.1.")),
    "latent dimension 1: a curve through 8 modes": Preset(default_config(dataset="8gaussians", z_dim=1), (
        "With one latent dimension G can only draw one continuous curve (the faint manifold line). Look for: "
        "a trail of purple points between the eight blobs, which a 2-D latent leaves far fewer of; the JS "
        "stays about twice as high.")),
}
