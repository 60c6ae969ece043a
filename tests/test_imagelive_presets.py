"""Each one-click experiment of the Live training tab's image GAN really shows what its note says (ganlab.imagelive.presets),
measured on MNIST runs with the bundled classifier. Slow (minutes of training on a CPU); needs MNIST in
$GANLAB_DATA_DIR (../shared/data beside the clone), skipped without it."""
import dataclasses

import pytest

from ganlab.imagelive import presets
from ganlab.imagelive.engine import ImageRun

from .conftest import DATA_DIR, has_data
from .test_imagelive import one_thread  # noqa: F401  (autouse: one torch thread, as a worker trains)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not has_data(), reason=f"the presets' effects are measured on MNIST, not in {DATA_DIR}")]


def trained(config, steps: int, **changes) -> tuple[ImageRun, dict]:
    run = ImageRun(dataclasses.replace(config, **changes), data_dir=DATA_DIR)
    run.step(steps)
    return run, {**run.measure(), "fd": run.fd_curve[-1][2]}


def recent(run: ImageRun, key: str, n: int = 20) -> float:
    return sum(run.curves.series(key)[1][-n:]) / n


def test_the_recommended_dcgan_draws_every_digit_where_the_lecture_mlp_gan_is_still_learning():
    """In about the same minute of this CPU: 400 recommended DCGAN steps against 1,400 lecture MLP-GAN steps."""
    note = presets.EXPERIMENTS["experiment: the lecture's settings vs the recommended ones"]
    _, rec = trained(note.config, 400)
    _, lecture = trained(presets.PRESETS[presets.LECTURE_MLP].config, 1400)
    assert rec["classes_covered"] == 10 and rec["top1"] >= 0.75
    assert rec["fd"] < 0.8 * lecture["fd"]


def test_beta1_09_keeps_g_from_learning_where_05_learns():
    preset = presets.EXPERIMENTS["experiment: β1 = 0.9 (lecture A's warning)"].config
    high, b09 = trained(preset, 600)
    low, b05 = trained(preset, 600, beta1=0.5)
    assert b09["fd"] > 1.5 * b05["fd"]
    assert recent(high, "d_real") > 0.95 and recent(high, "d_fake") < 0.05               # D's loss near zero
    assert recent(low, "d_real") - recent(low, "d_fake") < 0.5


def test_a_discriminator_that_wins_is_sure_and_the_minimax_loss_goes_flat():
    preset = presets.EXPERIMENTS["experiment: a discriminator that wins"].config
    stalled, m = trained(preset, 150)
    assert recent(stalled, "d_fake") < 0.02 and recent(stalled, "d_real") > 0.98       # D is sure
    assert abs(recent(stalled, "g_loss")) < 0.05 and m["fd"] > 1000                  # flat; G stays a blur
    pushed, _ = trained(preset, 150, loss="non-saturating")
    assert recent(pushed, "g_loss") > 1.0                                            # not flat: a gradient


def test_mode_collapse_shows_as_few_classes_in_the_histogram():
    preset = presets.EXPERIMENTS["experiment: mode collapse"].config
    _, collapsed = trained(preset, 800)
    _, lecture = trained(presets.PRESETS[presets.LECTURE_MLP].config, 800)
    assert collapsed["classes_covered"] <= 2 and max(collapsed["histogram"]) >= 0.9 * 256
    assert lecture["classes_covered"] >= 2 * collapsed["classes_covered"]
