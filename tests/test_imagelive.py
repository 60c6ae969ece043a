"""The live image-GAN engine (ganlab.imagelive): its settings table, a run's snapshots, timeline, live updates and
exports, the worker pool and the line of visitors, the data finder. Small made-up data, a few steps each."""
import struct
import urllib.error

import numpy as np
import pytest
import torch

import ganlab
from ganlab import export
from ganlab.imagelive import config as live_config
from ganlab.imagelive import data as live_data
from ganlab.imagelive import engine
from ganlab.imagelive.config import FIELDS, ImageConfig, from_dict, train_config
from ganlab.imagelive.engine import ImageRun
from ganlab.imagelive.runs import ImageRunPool, Line, LiveImageRun
from ganlab.toy.config import check_value


def made_up_images(n=64, n_test=32, seed=0) -> live_data.Images:
    """Blobs at a place per class, in [-1, 1], as data.load_tensors returns images."""
    g = torch.Generator().manual_seed(seed)

    def split(m):
        y = torch.arange(m) % 10
        x = -torch.ones(m, 1, 28, 28)
        for i, c in enumerate(y.tolist()):
            r, col = 4 + 2 * (c // 4) * 3, 4 + (c % 4) * 5
            x[i, 0, r:r + 8, col:col + 6] = 1.0
        return (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(-1, 1), y

    x, y = split(n)
    x_test, y_test = split(n_test)
    return live_data.Images("mnist", x, y, x_test, y_test)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread, as a worker trains (several threads wait on each other when the cores are busy)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def images():
    return made_up_images()


def small(**changes) -> ImageConfig:
    return ImageConfig(**{"batch": 8, **changes})


# -- the settings table ---------------------------------------------------------------------------------------
def test_the_table_defaults_are_the_lecture_mlp_gan_and_every_field_is_live_or_restarts():
    cfg = ImageConfig()
    assert (cfg.arch, cfg.z_dim, cfg.latent_dist, cfg.lr_g, cfg.lr_d, cfg.beta1, cfg.batch, cfg.loss) == \
        ("mlp", 96, "uniform", 1e-3, 1e-3, 0.5, 128, "non-saturating")
    for f in FIELDS:
        assert check_value(f, f.default) == getattr(cfg, f.name) and f.help
    assert set(live_config.LIVE_FIELDS) | set(live_config.RESTART_FIELDS) == {f.name for f in FIELDS}
    assert set(live_config.NET_FIELDS) <= set(live_config.RESTART_FIELDS)
    t = train_config(cfg)
    assert (t.family, t.batch, t.betas, t.lr_g, t.model) == ("mlp", 128, (0.5, 0.999), 1e-3,
                                                             {"z_dim": 96, "latent_dist": "uniform"})


@pytest.mark.parametrize("values,message", [
    ({"arch": "stylegan2"}, "arch must be one of"), ({"lr_g": 0.5}, "lr_g must be between"),
    ({"batch": 12.5}, "whole number"), ({"loss": "wasserstein"}, "loss must be one of"),
    ({"dataset": "cifar10"}, "dataset must be one of"), ({"colour": 1}, "unknown image-GAN settings: colour"),
])
def test_bad_settings_are_refused_naming_the_field(values, message):
    with pytest.raises(ValueError, match=message):
        from_dict(values)


# -- a run --------------------------------------------------------------------------------------------------
def test_a_run_trains_and_its_snapshot_has_every_figure_the_page_shows(images):
    run = ImageRun(small(), images=images)
    before = run.snapshot()
    run.step(3)
    snap = run.snapshot()
    assert snap["step"] == 3 and snap["images_seen"] == 3 * 8 and snap["train_seconds"] > 0
    assert snap["epoch"] == 3 * 8 / 64
    assert all(np.isfinite(snap[k]) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    assert 0 <= snap["d_real"] <= 1 and 0 <= snap["d_fake"] <= 1       # probabilities for the BCE loss
    q = snap["quality"]
    assert sum(q["histogram"]) == engine.QUALITY_SAMPLES and q["classes_covered"] == sum(c > 0 for c in q["histogram"])
    assert 0.1 <= q["top1"] <= 1 and q["class_accuracy"] is None and len(q["class_names"]) == 10
    assert len(snap["curves"]["step"]) == 3 and snap["curves"]["step"][-1] == 3
    assert snap["fd"][0][0] == 0 and snap["fd"][0][2] > 0               # the FD curve starts at step 0
    grid = export.Image.open(__import__("io").BytesIO(snap["grid"]))
    assert grid.size == (8 * 30 + 2, 8 * 30 + 2)                        # 8 × 8 images, 2 px gaps
    assert snap["grid"] != before["grid"]                                # G moved: the same latents, new images
    assert snap["timeline_frames"] == 2 and run.timeline_frame(0)[0] == 0 and run.timeline_frame(99)[0] == 3


def test_a_live_run_is_ganlabs_one_training_loop(images):
    """The same steps as the CLI's Trainer on the same data: identical weights (no second GAN loop)."""
    from ganlab.train import Trainer

    run = ImageRun(small(arch="dcgan", z_dim=8, latent_dist="normal"), images=images)
    run.step(2)
    run.snapshot()                                     # drawing and measuring do not touch the training state
    run.step(1)
    cli = Trainer(train_config(run.config), images=(images.x, images.y))
    for _ in range(3):
        cli.train_step()
    for a, b in zip(run.trainer.G.state_dict().values(), cli.G.state_dict().values()):
        assert torch.equal(a, b)


def test_the_grid_latents_are_fixed_for_the_run(images):
    a, b = ImageRun(small(), images=images), ImageRun(small(), images=images)
    assert a.snapshot()["grid"] == b.snapshot()["grid"]                 # same seed: same G, same fixed latents
    c = ImageRun(small(seed=1), images=images)
    assert c.snapshot()["grid"] != a.snapshot()["grid"]


def test_the_conditional_grid_has_a_row_per_class_and_the_classifier_checks_the_requested_class(images):
    run = ImageRun(small(arch="cgan", z_dim=8, latent_dist="normal"), images=images)
    run.step(1)
    snap = run.snapshot()
    grid = export.Image.open(__import__("io").BytesIO(snap["grid"]))
    assert grid.size == (8 * 30 + 2, 10 * 30 + 2)
    assert [int(y) for y in run.fixed_y[run.grid_index][::8]] == list(range(10))   # row k: class k
    assert 0 <= snap["quality"]["class_accuracy"] <= 1


def test_live_changes_reach_the_optimizers_and_restart_fields_are_refused(images):
    run = ImageRun(small(), images=images)
    run.update(lr_g=2e-4, lr_d=3e-4, beta1=0.9, batch=16, loss="lsgan")
    t = run.trainer
    assert [g["lr"] for g in t.opt_g.param_groups] == [2e-4] and t.opt_d.param_groups[0]["lr"] == 3e-4
    assert t.opt_g.param_groups[0]["betas"] == (0.9, 0.999) and t.schedule.batch == 16 and t.cfg.loss == "lsgan"
    run.step(1)
    run.update(d_steps=2)
    run.step(1)
    assert run.snapshot()["images_seen"] == 16 + 2 * 16
    with pytest.raises(ValueError, match="z_dim cannot change during a run"):
        run.update(z_dim=8)
    with pytest.raises(ValueError, match="lr_g must be between"):
        run.update(lr_g=5.0)
    assert run.config.lr_g == 2e-4 and t.opt_g.param_groups[0]["lr"] == 2e-4         # nothing changed


def test_the_trainer_update_refuses_a_setting_that_is_not_live(images):
    run = ImageRun(small(), images=images)
    with pytest.raises(ValueError, match="cannot change during a run"):
        run.trainer.update(ema_decay=0.9)
    with pytest.raises(ValueError, match="batch size 128 exceeds"):
        run.trainer.update(batch=128)                                    # 64 training images here
    assert run.trainer.cfg.batch == 8


def test_the_timeline_keeps_a_bounded_number_of_grids(images, monkeypatch):
    monkeypatch.setattr(engine, "TIMELINE_FRAMES", 8)
    run = ImageRun(small(), images=images)
    for _ in range(20):
        run.step(1)
        run.snapshot()
    steps = [s for s, _, _ in run.timeline]
    assert len(steps) < 8 and steps == sorted(steps) and steps[0] == 1 and steps[-1] >= 15


def test_the_gif_carries_the_run_settings_and_the_checkpoint_loads(images, tmp_path):
    run = ImageRun(small(arch="dcgan", z_dim=8, latent_dist="normal"), images=images)
    with pytest.raises(ValueError, match="nothing recorded yet"):
        run.save_gif(str(tmp_path / "none.gif"))
    for _ in range(3):
        run.step(1)
        run.snapshot()
    gif = run.save_gif(str(tmp_path / "run.gif"))
    settings = export.read_settings(gif)
    assert settings["arch"] == "dcgan" and settings["step"] == 3 and settings["kind"] == "ganlab live image GAN"
    with export.Image.open(gif) as im:
        assert im.n_frames == 3
    folder = run.save_checkpoint(str(tmp_path / "my-dcgan"))
    m = ganlab.load(folder)
    assert m.family == "dcgan" and m.z_dim == 8 and m.info["dataset"] == "mnist"
    assert m.info["training"]["steps"] == 3 and m.info["training"]["live"]["arch"] == "dcgan"
    z = run.fixed_z[:4]
    assert torch.allclose(m.generate(z), run._generate(z, None), atol=1e-6)
    assert (tmp_path / "my-dcgan" / "README.md").is_file()


# -- workers and the line -----------------------------------------------------------------------------------
def write_idx(folder, name, array, magic):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / name, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape))
        f.write(array.astype(np.uint8).tobytes())


def made_up_mnist(root, n=64, n_test=32):
    """A torchvision-layout MNIST folder holding ``n`` made-up training images and ``n_test`` test images."""
    imgs = made_up_images(n, n_test)
    raw = root / "MNIST" / "raw"
    for prefix, x, y in (("train", imgs.x, imgs.y), ("t10k", imgs.x_test, imgs.y_test)):
        pixels = ((x[:, 0] + 1) * 127.5).round().numpy()
        write_idx(raw, f"{prefix}-images-idx3-ubyte", pixels, 2051)
        write_idx(raw, f"{prefix}-labels-idx1-ubyte", y.numpy(), 2049)
    return root


def test_runs_in_this_process_find_their_data_through_the_data_dir(tmp_path):
    pool = ImageRunPool(workers=0)
    run = pool.create(small(), data_dir=str(made_up_mnist(tmp_path)))
    assert isinstance(run, LiveImageRun) and run.status()["step"] == 0
    snap = run.tick(frame_seconds=60, max_steps=2)
    assert snap["step"] == 2 and snap["timeline_frames"] == 1
    assert run.update(lr_d=5e-4)["lr_d"] == 5e-4


@pytest.mark.slow
def test_a_run_in_a_worker_process_trains_and_exports(tmp_path):
    pool = ImageRunPool(workers=1)
    try:
        run = pool.create(small(), data_dir=str(made_up_mnist(tmp_path)))
        snap = run.tick(60, 2)
        assert snap["step"] == 2 and snap["grid"][:4] == b"\x89PNG"
        with pytest.raises(ValueError, match="cannot change during a run"):
            run.update(arch="dcgan")
        assert ganlab.load(run.save_checkpoint(str(tmp_path / "ck"))).family == "mlp"
        assert pool.pids() and pool.pids()[0] != __import__("os").getpid()
    finally:
        pool.close()


def test_the_data_folder_comes_from_the_argument_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GANLAB_DATA_DIR", str(tmp_path))
    assert live_data.data_dir() == tmp_path and live_data.data_dir("elsewhere").name == "elsewhere"
    monkeypatch.delenv("GANLAB_DATA_DIR")
    assert str(live_data.data_dir()) == "data"


def test_missing_data_offline_is_one_clear_line(monkeypatch, tmp_path, capsys):
    import torchvision.datasets.utils as tv_utils

    def offline(*args, **kwargs):
        print("Failed to download (trying next):\n<urlopen error [Errno -3] Temporary failure>")
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", offline)
    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", offline, raising=False)
    with pytest.raises(ValueError) as e:
        live_data.ensure_files("fashion-mnist", tmp_path)
    message = str(e.value)
    assert "\n" not in message and "FashionMNIST is not in" in message and "GANLAB_DATA_DIR" in message
    assert "Temporary failure" in message and "trying next" not in capsys.readouterr().out
    assert not list((tmp_path / "FashionMNIST").glob("raw/*ubyte"))


def test_the_line_gives_slots_first_come_first_served_and_drops_pages_that_stopped_asking():
    now = [0.0]
    line = Line(slots=2, stale=10, clock=lambda: now[0])
    assert [line.ask(k) for k in "abcd"] == [0, 0, 1, 2]
    assert line.ask("d") == 2 and line.ask("c") == 1                    # asking again keeps one's place
    line.leave("a")
    assert line.ask("d") == 1 and line.ask("c") == 0                    # c was first in line
    now[0] = 8.0
    assert line.ask("c") == 0 and line.ask("d") == 1
    now[0] = 15.0                                                        # b has not asked for 15 s: gone
    assert line.ask("d") == 0 and line.training() == 2


def test_slots_default_to_the_cores():
    import os
    assert Line().slots == (os.cpu_count() or 1)
