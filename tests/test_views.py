"""ganlab.views: the one path from settings to pixels, and its validation messages (one rule each)."""
import numpy as np
import pytest

import ganlab
from ganlab import latent, views


@pytest.fixture(scope="module")
def models(tiny_checkpoints):
    return {f: ganlab.load(str(tiny_checkpoints / f"tiny-{f}")) for f in ("dcgan", "cgan", "stylegan2")}


def test_a_view_of_one_seed_is_the_apis_sample(models):
    for m in models.values():
        v = views.check_view(m, {"label": views.SEEDED})
        images, pairs = views.view_images(m, v, [7])
        assert np.array_equal(images[0], m.sample(1, seed=7)[0])
    m = models["cgan"]
    images, pairs = views.view_images(m, views.check_view(m, {"label": "all"}), [1, 2])
    assert [c for _, c in pairs] == list(range(10)) * 2 and [s for s, _ in pairs[:10]] == [1] * 10


@pytest.mark.parametrize("values, message", [
    ({"seed": 1.5}, r"seed must be a whole number from 0 to .*got 1\.5"),          # refused, not rounded
    ({"seed": latent.MAX_SEED, "n": 4}, r"seed \+ n − 1, is at most"),
    ({"seed": -1}, "seed must be a whole number from 0"),
    ({"n": 0}, "the grid size n must be a whole number from 1 to 64, got 0"),
    ({"truncation": float("nan")}, "truncation ψ must be a number from -2 to 2"),
    ({"z3": 9}, "z3 must be a number from -3 to 3, got 9"),
    ({"label": "12"}, "class must be a whole number from 0 to 9"),
    ({"label": "all", "n": 7}, "use n ≤ 6"),
    ({"noise": "loud"}, "noise must be one of"),
    ({"mix": ["top"]}, "style-mixing layers must be some of"),
])
def test_view_messages_state_the_rule(models, values, message):
    with pytest.raises(ValueError, match=message):
        views.check_view(models["cgan"], values)


@pytest.mark.parametrize("values, message", [
    ({"keyframes": "0-100000"}, "that is 100,001 keyframe seeds; give at most 240"),   # the count, not the format
    ({"keyframes": "0-239", "frames": 60}, "240 keyframes need at least 240 frames"),
    ({"keyframes": "1, x"}, "'x' is not a keyframe seed: keyframe seeds are whole numbers"),
    ({"keyframes": "1.5, 2"}, "'1.5' is not a keyframe seed"),
    ({"keyframes": ""}, "no keyframe seeds given"),
    ({"keyframes": "7"}, "at least two keyframes"),
    ({"keyframes": "5-1"}, "the keyframe seed range 5-1 runs backwards"),
    ({"mode": "class", "classes": ""}, "no classes given"),
    ({"mode": "class", "classes": "2, eleven"}, "'eleven' is not a class"),
    ({"mode": "class", "classes": "2, 10"}, "class 10 is out of range: classes are whole numbers from 0 to 9"),
    ({"mode": "class", "classes": "2"}, "at least two classes"),
    ({"frames": 241}, "frames must be a whole number from 2 to 240, got 241"),
    ({"method": "cubic"}, "method must be one of"),
])
def test_walk_messages_state_the_rule(models, values, message):
    with pytest.raises(ValueError, match=message):
        views.check_walk(models["cgan"], {"keyframes": "1, 2", **values})


def test_identical_keyframes_give_one_frame(models):
    frames, settings = views.render_walk(models["dcgan"], {"keyframes": "3, 3", "frames": 60})
    assert len(frames) == 1 and settings["frames"] == 60
    frames, _ = views.render_walk(models["dcgan"], {"keyframes": "3, 4", "frames": 60})
    assert len(frames) == 60


def test_class_walks_need_a_label_embedding(models):
    with pytest.raises(ValueError, match="label embedding"):
        views.check_walk(models["stylegan2"], {"mode": "class"})
    frames, settings = views.render_walk(models["cgan"], {"keyframes": "4", "mode": "class", "classes": "2, 7",
                                                         "frames": 5, "loop": False})
    assert len(frames) == 5 and settings["classes"] == "2, 7"
