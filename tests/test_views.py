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


def test_n_images_at_a_seed_are_the_seeds_from_it_everywhere(models):
    """One meaning of "seed 3, 4 images": the seeds 3, 4, 5, 6, each image its own seed, in the API
    (``sample``, ``latents``), the app's grid and the CLI's ``--seeds 3-6``."""
    for m in models.values():
        v = views.check_view(m, {"seed": 3, "n": 4, "label": views.SEEDED})
        grid, _ = views.view_images(m, v, [3, 4, 5, 6])
        assert np.array_equal(m.sample(4, seed=3), grid)
        assert np.array_equal(m.sample(4, seed=3)[2], m.sample(1, seed=5)[0])
        assert np.array_equal(m.latents(4, seed=3), latent.seed_latents([3, 4, 5, 6], m.z_dim))
    with pytest.raises(ValueError, match=r"seed \+ n − 1, is at most"):
        models["dcgan"].sample(4, seed=latent.MAX_SEED)


def test_the_old_cli_spellings_are_read_with_a_note(models):
    """Files the CLI wrote before it wrote the views' settings restore: "class" is "label" (null: each seed's own
    class), a PNG of one seed is n = 1, a grid's "seeds" list is seed and n, a walk's "seeds" are keyframes."""
    png = {"class": 3, "model": "cgan-mnist", "seed": 0, "truncation": 1.0}
    with pytest.warns(FutureWarning, match="'class' is now called 'label'"):
        assert views.known_settings(png, views.VIEW_KEYS) == {"label": "3", "model": "cgan-mnist", "seed": 0,
                                                             "n": 1, "truncation": 1.0}
    with pytest.warns(FutureWarning):
        grid = views.known_settings({"class": None, "model": "m", "seeds": [4, 5, 6], "truncation": 0.7},
                                    views.VIEW_KEYS)
    assert grid == {"label": views.SEEDED, "model": "m", "seed": 4, "n": 3, "truncation": 0.7}
    gif = {"class": None, "model": "m", "seeds": [1, 5, 9], "frames": 48, "fps": 24.0, "method": "slerp",
           "loop": True, "truncation": 1.0}
    with pytest.warns(FutureWarning):
        walk = views.known_settings(gif, views.WALK_KEYS)
    assert walk["keyframes"] == [1, 5, 9] and walk["label"] == views.SEEDED and "seeds" not in walk
    assert views.check_walk(models["cgan"], walk)[1]["keyframes"] == "1, 5, 9"
    with pytest.raises(ValueError, match="not one view"):
        views.known_settings({"seeds": [0, 1, 42]}, views.VIEW_KEYS)
    with pytest.raises(ValueError, match="'class' is the old name of 'label'"):
        views.known_settings({"class": 3, "label": "4"}, views.VIEW_KEYS)
    with pytest.raises(ValueError, match="unknown settings"):
        views.known_settings({"sed": 3}, views.VIEW_KEYS)
    for hostile in ({"seeds": {"a": 1}}, {"seeds": [1.5, 2]}, {"seeds": None}, {"seeds": "0-99"},
                    {"seeds": [1, 2], "frames": 6, "keyframes": "1, 2"}):
        with pytest.raises(ValueError):                                 # a stated rule, never a TypeError
            views.known_settings(hostile, views.WALK_KEYS if "frames" in hostile else views.VIEW_KEYS)
    m = models["cgan"]                                                  # and they draw what the old CLI drew
    images, _ = views.view_images(m, views.check_view(m, grid), [4, 5, 6])
    assert np.array_equal(images, m.sample(3, seed=4, truncation=0.7))


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
