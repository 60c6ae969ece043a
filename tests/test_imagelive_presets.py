"""Each one-click experiment of the Live training tab's image GAN, and each preset whose note says what to look for
(presets.SHOWN), really shows what its note says (ganlab.imagelive.presets), measured on MNIST runs with the
bundled classifier. Slow (minutes of training on a CPU); needs MNIST in
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


def measured(config, steps: tuple[int, ...]) -> dict[int, dict]:
    """One run of ``config``, measured at each of ``steps`` (measuring does not change the training)."""
    run, out = ImageRun(config, data_dir=DATA_DIR), {}
    for n in steps:
        run.step(n - run.step_count)
        out[n] = {**run.measure(), "fd": run.fd_curve[-1][2]}
    return out


def recent(run: ImageRun, key: str, n: int = 20) -> float:
    return sum(run.curves.series(key)[1][-n:]) / n


@pytest.fixture(scope="module")
def lecture_mlp() -> dict[int, dict]:
    """The lecture's MLP-GAN on MNIST, measured at the steps the notes speak of (about 45 s of the tab's
    training in all, at its speed on this project's CPU: bench/live_image.py)."""
    return measured(presets.PRESETS[presets.LECTURE_MLP].config, (200, 400, 800, 1000, 1400))


def test_the_lecture_mlp_gan_draws_digits_from_one_or_two_classes_then_more(lecture_mlp):
    assert presets.SHOWN["mlp", "lecture", "mnist"] in presets.PRESETS[presets.LECTURE_MLP].note
    first, later = lecture_mlp[200], lecture_mlp[1400]
    assert first["classes_covered"] <= 2 and lecture_mlp[400]["classes_covered"] <= 2     # the first few hundred
    assert later["classes_covered"] >= 5 and later["top1"] >= 0.8                         # then more, and sure
    assert later["fd"] < 0.5 * first["fd"]                                                # the FD curve falls


def test_the_recommended_mlp_gan_spreads_over_the_digits_sooner_than_the_lecture_settings(lecture_mlp):
    """Compared step for step, as the page shows the step: the same network and batch (the EMA copy costs a
    little per step; bench/live_image.py prints both presets' steps/s)."""
    assert presets.SHOWN["mlp", "recommended", "mnist"] in presets.PRESETS[presets.RECOMMENDED_MLP].note
    rec = measured(presets.PRESETS[presets.RECOMMENDED_MLP].config, (1000, 1400))
    for n in (1000, 1400):
        assert rec[n]["fd"] < 0.8 * lecture_mlp[n]["fd"]
        assert rec[n]["classes_covered"] >= 9 and max(rec[n]["histogram"]) < 0.5 * 256
        assert sum(sorted(lecture_mlp[n]["histogram"])[-2:]) >= 0.6 * 256             # leans on one or two


def test_the_recommended_dcgan_draws_every_digit_where_the_lecture_mlp_gan_is_still_learning(lecture_mlp):
    """In about the same minute of this CPU: 400 recommended DCGAN steps against 1,400 lecture MLP-GAN steps."""
    assert presets.SHOWN["dcgan", "recommended", "mnist"] in presets.PRESETS[presets.RECOMMENDED_MNIST].note
    note = presets.EXPERIMENTS["experiment: the lecture's settings vs the recommended ones"]
    _, rec = trained(note.config, 400)
    assert rec["classes_covered"] == 10 and rec["top1"] >= 0.75
    assert rec["fd"] < 0.8 * lecture_mlp[1400]["fd"]


def test_beta1_09_keeps_g_from_learning_where_05_learns():
    preset = presets.EXPERIMENTS["experiment: β1 = 0.9 (lecture A's warning)"].config
    high, b09 = trained(preset, 600)
    low, b05 = trained(preset, 600, beta1=0.5)          # the lecture's MLP-GAN: β1 = 0.5 is its only change
    assert dataclasses.replace(preset, beta1=0.5) == presets.PRESETS[presets.LECTURE_MLP].config
    assert b09["fd"] > 1.5 * b05["fd"]
    assert recent(high, "d_real") > 0.95 and recent(high, "d_fake") < 0.05               # D's loss near zero
    assert recent(low, "d_real") - recent(low, "d_fake") < 0.5


def test_a_discriminator_that_wins_is_sure_and_the_minimax_loss_goes_flat():
    preset = presets.EXPERIMENTS["experiment: a discriminator that wins"].config
    stalled, _ = trained(preset, 100)
    assert recent(stalled, "d_fake") < 0.02 and recent(stalled, "d_real") > 0.98       # sure within 100 steps
    stalled.step(50)
    m = {**stalled.measure(), "fd": stalled.fd_curve[-1][2]}
    assert recent(stalled, "d_fake") < 0.02 and recent(stalled, "d_real") > 0.98       # and stays sure
    assert abs(recent(stalled, "g_loss")) < 0.05 and m["fd"] > 1000                  # flat; G stays a blur
    pushed, _ = trained(preset, 150, loss="non-saturating")
    assert recent(pushed, "g_loss") > 1.0                                            # not flat: a gradient
    assert recent(pushed, "d_real") - recent(pushed, "d_fake") > 0.7                  # but D still wins


def test_mode_collapse_shows_as_few_classes_in_the_histogram(lecture_mlp):
    preset = presets.EXPERIMENTS["experiment: mode collapse"].config
    _, collapsed = trained(preset, 800)
    lecture = lecture_mlp[800]
    assert collapsed["classes_covered"] <= 2 and max(collapsed["histogram"]) >= 0.9 * 256
    assert lecture["classes_covered"] >= 2 * collapsed["classes_covered"]
