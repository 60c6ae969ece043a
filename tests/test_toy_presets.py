"""Each experiment of the Live tab really shows what its note says (ganlab.toy.presets), measured on the runs."""
import dataclasses

import numpy as np
import pytest

from ganlab.toy import ToyTrainer
from ganlab.toy.presets import PRESETS

pytestmark = pytest.mark.slow


def trained(cfg, iterations, seed):
    t = ToyTrainer(dataclasses.replace(cfg, seed=seed))
    t.step(iterations)
    return t, t.metrics()


@pytest.mark.parametrize("seed", [0, 1])
def test_recommended_beats_the_lecture(seed):
    _, fast = trained(PRESETS["recommended (fast)"].config, 3000, seed)
    _, lecture = trained(PRESETS["lecture (parabola)"].config, 3000, seed)
    assert fast["js"] < 0.1 and lecture["js"] > 2 * fast["js"]


@pytest.mark.parametrize("seed", [0, 1])
def test_minimax_with_a_strong_d_stalls_g(seed):
    preset = PRESETS["minimax vs a strong D: G stalls"].config
    stalled, m = trained(preset, 1500, seed)
    learning, ns = trained(dataclasses.replace(preset, loss="non-saturating"), 1500, seed)
    assert m["js"] > 0.4 and ns["js"] < 0.3 and m["js"] > 2 * ns["js"]
    d_fake = lambda t: t.history().series["d_fake"][1][-50:].mean()
    assert d_fake(stalled) < d_fake(learning)            # D keeps rejecting G's points


@pytest.mark.parametrize("seed", [0, 1])
def test_the_naive_generator_lands_on_the_data_without_variety(seed):
    t, m = trained(PRESETS["naive generator: on the data, no variety"].config, 3000, seed)
    assert m["naive_js"] > 0.8 and m["js"] < 0.1
    assert t.sample(2000, naive=True)[:, 0].std() < 0.1 * t.reference[:, 0].std()
    plane = t.plane()
    assert plane.naive is not None and plane.naive.shape == plane.fake.shape


@pytest.mark.parametrize("seed", [0, 1])
def test_one_latent_dimension_draws_a_trail_between_the_modes(seed):
    preset = PRESETS["latent dimension 1: a curve through 8 modes"].config
    centers = 0.8 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)

    def between(t):
        d = np.linalg.norm(t.sample(4000)[:, None] - centers[None], axis=2).min(1)
        return (d > 0.2).mean()

    one, m1 = trained(preset, 4000, seed)
    two, m2 = trained(dataclasses.replace(preset, z_dim=2), 4000, seed)
    assert len(one.manifold()) == 1
    assert between(one) > 1.5 * between(two) and m1["js"] > 1.5 * m2["js"]
