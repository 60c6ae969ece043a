"""Each experiment of the Live tab shows what its note says, over the iterations a visitor watches.

A note speaks of a run's first ``Preset.iterations`` iterations: what the tab trains in the time a visitor
watches it (``python bench/toy.py experiments`` prints each experiment's iterations per wall-clock second on
the tab, which trains between frames, and how long its note's iterations take). Each effect is checked at
points all through those iterations, not only at one, and for the seed the experiment sets and others.
"""
import dataclasses

import numpy as np
import pytest

from ganlab.toy import ToyTrainer
from ganlab.toy.presets import PRESETS

pytestmark = pytest.mark.slow


def checkpoints(name, seed=None, n=4, **changes):
    """(trainer, metrics) at n evenly spaced points through the note's iterations, for the experiment's own
    settings (its seed unless another is given) with ``changes``."""
    preset = PRESETS[name]
    cfg = dataclasses.replace(preset.config, **changes, **({} if seed is None else {"seed": seed}))
    t = ToyTrainer(cfg)
    for k in range(1, n + 1):
        t.step(preset.iterations * k // n - t.iteration)
        yield t, t.metrics()


def arms(t):
    """Fractions of G's points on the parabola's left arm (x < -0.2) and right arm (x > 0.2)."""
    x = t.sample(4000)[:, 0]
    return (x < -0.2).mean(), (x > 0.2).mean()


def collapsed(t):
    """G's points avoid one arm of the parabola (the data has about 40 % on each)."""
    return min(arms(t)) < 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recommended_settings_reach_the_data_and_stay(seed):
    for t, m in checkpoints("recommended (fast)", seed):
        assert m["js"] < 0.06, (t.iteration, m["js"])


def test_the_lecture_settings_collapse_and_a_restart_helps():
    lecture = "lecture (parabola)"
    seen = [(collapsed(t) and m["js"] > 0.75, arms(t)) for t, m in checkpoints(lecture, n=5)]
    assert all(c for c, _ in seen), seen                           # the experiment's seed: on one arm throughout
    sides = {int(np.argmax(a)) for _, a in seen}
    assert sides == {0, 1}, seen                                   # ... and it jumps to the other arm
    for t, m in checkpoints(lecture, seed=PRESETS[lecture].restart_seed, n=6):
        assert min(arms(t)) > 0.25 and m["js"] > 0.1, (t.iteration, arms(t), m)   # a restart with the note's
                                                                                  # seed covers both arms


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_naive_generator_lands_on_the_data_without_variety(seed):
    for t, m in checkpoints("naive generator: on the data, no variety", seed, n=3):
        assert m["naive_js"] > 0.8 and m["js"] < 0.1, (t.iteration, m)
        assert t.sample(2000, naive=True)[:, 0].std() < 0.1 * t.reference[:, 0].std()
    plane = t.plane()
    assert plane.naive is not None and plane.naive.shape == plane.fake.shape


def test_one_latent_dimension_draws_a_trail_between_the_modes():
    name = "latent dimension 1: a curve through 8 modes"
    centers = 0.8 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)

    def between(t):
        d = np.linalg.norm(t.sample(4000)[:, None] - centers[None], axis=2).min(1)
        return (d > 0.2).mean()

    for (one, m1), (two, m2) in zip(checkpoints(name), checkpoints(name, z_dim=2)):   # the note's seed
        assert len(one.manifold()) == 1
        assert between(one) > 1.8 * between(two) and m1["js"] > 0.3 and m2["js"] < 0.27, (one.iteration, m1, m2)


@pytest.mark.parametrize("seed", [1, 2])
def test_one_latent_dimension_stays_far_from_the_modes_for_other_seeds(seed):
    for t, m in checkpoints("latent dimension 1: a curve through 8 modes", seed, n=3):
        assert m["js"] > 0.3, (t.iteration, m)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_minimax_with_a_strong_d_starts_slowly_then_learns(seed):
    name = "minimax loss with a strong D: a slow start"
    d_fake = lambda t: t.history().series["d_fake"][1][-200:].mean()
    slow_run = checkpoints(name, seed, n=16)
    fast_run = checkpoints(name, seed, n=16, loss="non-saturating")
    (slow, m), (fast, ns) = next(slow_run), next(fast_run)     # the trainers go on: look at them now
    assert slow.iteration == 1000 and m["js"] > 0.5 and ns["js"] < m["js"] - 0.15, (m, ns)
    assert d_fake(slow) < d_fake(fast)                         # D rejects G's points more under minimax
    assert list(slow_run)[-1][1]["js"] < 0.3 and list(fast_run)[-1][1]["js"] < 0.3   # ... and both learn the ring
