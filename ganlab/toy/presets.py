"""One-click experiments for the Live tab: each sets every control for one effect, and says what to look for.

A note speaks of a run's first ``Preset.iterations`` iterations, which the status line counts. The tab trains
between frames (ganlab.toy.runs.ToyRun.tick); ``python bench/toy.py experiments`` runs each experiment that way
and prints its iterations per wall-clock second and how long its note's iterations take, which should be at
least WATCH_SECONDS: an effect a note promises lasts long enough to be seen, not just the first second.
tests/test_toy_presets.py checks each effect at points all through those iterations, for the experiment's seed
and others, so the notes promise only what the runs show.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import ToyConfig, default_config, lecture_config

WATCH_SECONDS = 8   # a note's iterations take at least this long on the tab (bench/toy.py experiments)
MINIMAX = lecture_config(dataset="ring", loss="minimax", optimizer="rmsprop", lr_g=1e-3, lr_d=3e-3, d_steps=5)


@dataclass(frozen=True)
class Preset:
    config: ToyConfig
    note: str              # what to look for (Markdown)
    iterations: int        # the note speaks of the run's first this many iterations
    restart_seed: int | None = None   # a seed the note suggests instead of the config's, when it does


PRESETS = {
    "recommended (fast)": Preset(default_config(), (
        "ganlab's settings: two-time-scale learning rates, Adam with β1 = 0, an EMA of G. Look for: G's points "
        "spread along the whole parabola within a few thousand iterations, and the grid JS stays below about "
        "0.05 bits from then on (watch the first 30,000 iterations)."), 30_000),
    "lecture (parabola)": Preset(lecture_config(), (
        "The lecture's GAN: 10-D latent, 50-unit ReLU nets, BCE, Adam 3e-4 with β1 = 0.9. Its settings are not "
        "stable, and the lecture says so: if a run has not converged after 10,000 iterations, restart, since a "
        "fixed seed does not guarantee a stable GAN. Look for, with seed 0: G's points crowd onto one arm of "
        "the parabola, then jump to the other (mode collapse), all through the first 30,000 iterations; the "
        "grid JS stays near 0.8–1 bits. Then restart as the lecture says: set the seed to 1, and G covers both "
        "arms within a few thousand iterations (its JS still wobbles between about 0.15 and 0.45 bits, several "
        "times the recommended settings')."), 30_000, restart_seed=1),
    "minimax loss with a strong D: a slow start": Preset(MINIMAX, (
        "Minimax loss (G minimises log(1 − D(G(z)))) with a strong D (5 D steps, a higher D learning rate) on "
        "the ring. G does not stall for long here: its slow start is over within the first second or two "
        "at the tab's speed, so read it afterwards in the curves. Look for: at the start, *mean D* of the "
        "fakes stays low (D rejects G's points) and at 1,000 iterations the grid JS is still above 0.5 bits; "
        "switch the loss to *non-saturating* and press Reset (all else the same): D(fake) rises sooner and "
        "the JS at 1,000 iterations is well below. Then both reach the ring within 16,000 iterations: RMSprop "
        "divides each gradient by its recent size, so G's small minimax gradients still move it."), 16_000),
    "naive generator: on the data, no variety": Preset(default_config(naive=True), (
        "The orange squares are the lecture's naive generator (same net and start, pulled to the nearest real "
        "point). Look for: it sits on the data in a small clump, and its *naive JS* curve stays near 0.9 bits "
        "while the GAN's JS falls below 0.1 within a few thousand iterations and stays there (watch the first "
        "10,000)."), 10_000),
    "latent dimension 1: a curve through 8 modes": Preset(default_config(dataset="8gaussians", z_dim=1), (
        "With one latent dimension G can only draw one continuous curve (the faint manifold line). Look for, "
        "with seed 0: a trail of purple points between the eight blobs, which thins as training goes on but "
        "stays about twice what a 2-D latent leaves (set the latent dimension to 2 to compare), and a grid "
        "JS above 0.3 bits all through the first 20,000 iterations, where the 2-D latent's settles near 0.2. "
        "Other seeds draw the same curve; a 2-D latent is not always better: with seed 2 it misses blobs "
        "too."), 20_000),
}
