import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

import ganlab
from ganlab import cli, latent, views
from ganlab.export import read_settings

from .conftest import ROOT


def run(*args):
    return subprocess.run([sys.executable, "-m", "ganlab", *args], capture_output=True, text=True, cwd=ROOT)


def test_parse_seeds():
    assert cli.parse_seeds("0-3,42") == [0, 1, 2, 3, 42]
    for bad in ("x", "5-1", ""):
        try:
            cli.parse_seeds(bad)
        except Exception as e:
            assert "seed" in str(e)
        else:
            raise AssertionError(bad)


def test_generate_writes_pngs_with_settings(tiny_checkpoints, tmp_path):
    model = str(tiny_checkpoints / "tiny-cgan")
    assert cli.main(["generate", "--model", model, "--seeds", "0-2,42", "--class", "7", "--truncation", "0.7",
                     "--out", str(tmp_path), "--grid", "--scale", "2"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["grid.png", "seed0000.png", "seed0001.png", "seed0002.png", "seed0042.png"]
    m = ganlab.load(model)
    meta = read_settings(tmp_path / "seed0042.png")                  # the view path's settings of that image
    assert meta == views.check_view(m, {"seed": 42, "n": 1, "label": "7", "truncation": 0.7})
    assert meta["model"] == m.info["name"] and meta["label"] == "7" and "class" not in meta
    grid = read_settings(tmp_path / "grid.png")                       # 0-2,42 is not one view: the list
    assert grid["seeds"] == "0, 1, 2, 42" and "seed" not in grid and "n" not in grid
    with pytest.raises(ValueError, match="not one view"):
        views.known_settings(grid, views.VIEW_KEYS)
    assert iio.imread(tmp_path / "seed0042.png").shape == (56, 56)
    # seed 42 alone gives the same picture as seed 42 in a list
    assert cli.main(["generate", "--model", model, "--seeds", "42", "--class", "7", "--truncation", "0.7",
                     "--out", str(tmp_path / "one"), "--scale", "2"]) == 0
    assert (iio.imread(tmp_path / "one" / "seed0042.png") == iio.imread(tmp_path / "seed0042.png")).all()


@pytest.mark.slow
def test_generate_every_class_gives_a_row_per_seed(tiny_checkpoints, tmp_path):
    model = str(tiny_checkpoints / "tiny-cgan")
    m = __import__("ganlab").load(model)
    k, size = m.num_classes, m.image_size
    assert cli.main(["generate", "--model", model, "--seeds", "3,4", "--class", "all", "--out", str(tmp_path),
                     "--grid"]) == 0
    assert len(list(tmp_path.glob("seed*-class*.png"))) == 2 * k
    assert read_settings(tmp_path / f"seed0004-class{k - 1}.png")["label"] == str(k - 1)
    assert read_settings(tmp_path / "grid.png") == views.check_view(m, {"seed": 3, "n": 2, "label": "all"})
    grid = iio.imread(tmp_path / "grid.png")
    assert grid.shape[:2] == (2 * (size + 1) + 1, k * (size + 1) + 1)          # 2 rows of k, 1-px padding
    # the image of seed 4 in the last class is that of --class k-1 alone
    assert cli.main(["generate", "--model", model, "--seeds", "4", "--class", str(k - 1), "--out",
                     str(tmp_path / "one")]) == 0
    assert (iio.imread(tmp_path / "one" / "seed0004.png") == iio.imread(tmp_path / f"seed0004-class{k - 1}.png")).all()
    r = run("generate", "--model", str(tiny_checkpoints / "tiny-dcgan"), "--class", "all", "--out", str(tmp_path))
    assert r.returncode != 0 and "unconditional" in r.stderr and "Traceback" not in r.stderr


def test_interpolate_writes_an_animated_gif(tiny_checkpoints, tmp_path):
    out = tmp_path / "walk.gif"
    model = str(tiny_checkpoints / "tiny-stylegan2")
    assert cli.main(["interpolate", "--model", model, "--seeds", "1,5,9", "--frames", "10", "--fps", "10",
                     "--slerp", "--loop", "--out", str(out), "--size", "64"]) == 0
    frames = iio.imread(out)
    assert frames.shape[0] == 10 and frames.shape[1] == 64
    settings = read_settings(out)                                    # the settings render_walk returned
    assert settings["method"] == "slerp" and settings["keyframes"] == "1, 5, 9" and settings["loop"] is True
    assert set(settings) == set(views.WALK_KEYS)
    # the first frame is the first keyframe's image
    import ganlab
    from ganlab import export
    m = ganlab.load(model)
    first = export.upscale(m.sample(1, seed=1)[0], 4)
    grey = frames if frames.ndim == 3 else frames[..., 0]          # a grey-level GIF reads back as (T, H, W)
    assert np.array_equal(grey[0], first[..., 0])


def test_generate_without_class_draws_each_seeds_class_as_sample_does(tiny_checkpoints, tmp_path):
    import ganlab

    model = str(tiny_checkpoints / "tiny-cgan")
    assert cli.main(["generate", "--model", model, "--seeds", "0-3", "--out", str(tmp_path)]) == 0
    m = ganlab.load(model)
    for seed in range(4):
        png = iio.imread(tmp_path / f"seed{seed:04d}.png")
        assert np.array_equal(png, m.sample(1, seed=seed)[0, ..., 0])      # the API's image of that seed
        assert read_settings(tmp_path / f"seed{seed:04d}.png")["label"] == str(latent.seed_labels([seed], 10)[0])
    assert np.array_equal(np.stack([iio.imread(tmp_path / f"seed{s:04d}.png") for s in range(4)]),
                          m.sample(4, seed=0)[..., 0])                 # sample(4, seed=0) is seeds 0, 1, 2, 3


def test_interpolate_without_class_works_for_a_conditional_model(tiny_checkpoints, tmp_path):
    import ganlab

    model = str(tiny_checkpoints / "tiny-cgan")
    out = tmp_path / "walk.gif"
    assert cli.main(["interpolate", "--model", model, "--seeds", "4,8", "--frames", "6", "--size", "16",
                     "--out", str(out)]) == 0
    frames = iio.imread(out)
    grey = frames if frames.ndim == 3 else frames[..., 0]
    assert np.array_equal(grey[0], ganlab.load(model).sample(1, seed=4)[0, ..., 0])   # seed 4 in its own class


def test_stylegan_walks_go_through_w(tiny_checkpoints, tmp_path):
    """The CLI's StyleGAN2 walk interpolates w (as the app does), not z: its middle frame is the image of the
    midpoint of the keyframes' w."""
    import ganlab
    import torch
    from ganlab.models.base import to_uint8

    model = str(tiny_checkpoints / "tiny-stylegan2")
    out = tmp_path / "walk.gif"
    assert cli.main(["interpolate", "--model", model, "--seeds", "1,5", "--frames", "3", "--size", "16",
                     "--truncation", "0.7", "--out", str(out)]) == 0
    frames = iio.imread(out)
    m = ganlab.load(model)
    z = torch.cat([m.latents(1, 1), m.latents(1, 5)])
    w = m.mapping(z, None, 0.7)                                              # (2, num_ws, w_dim)
    w_mid = to_uint8(m.synthesis(torch.lerp(w[:1], w[1:], 0.5)))[0, ..., 0]
    z_mid = to_uint8(m.generate(torch.lerp(z[:1], z[1:], 0.5), None, 0.7))[0, ..., 0]
    grey = frames if frames.ndim == 3 else frames[..., 0]
    assert np.array_equal(grey[1], w_mid) and not np.array_equal(grey[1], z_mid)


@pytest.mark.slow
def test_cli_errors_are_one_line_not_tracebacks(tmp_path):
    r = run("generate", "--model", "../../etc/passwd", "--out", str(tmp_path))
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr
    r = run("interpolate", "--model", "x", "--seeds", "1,2", "--frames", "1000", "--out", str(tmp_path / "a.gif"))
    assert r.returncode == 2 and "frames" in r.stderr
    r = run("generate", "--model", "x", "--seeds", "9-1")
    assert r.returncode == 2 and "seed" in r.stderr


def test_help_shows_defaults():
    r = run("generate", "--help")
    assert r.returncode == 0 and "default: 1.0" in r.stdout
