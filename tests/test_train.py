"""Training: every family trains on a small slice, resume continues exactly, torchrun works, checkpoints load."""
import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

import ganlab
from ganlab.train import TrainConfig, Trainer

from .conftest import ROOT, TINY, free_port


def tiny_cfg(family, out, data_dir, **kw):
    model = {k: v for k, v in TINY[family].items()}
    if family == "stylegan2":
        model["image_size"] = 32
    return TrainConfig(family=family, dataset=kw.pop("dataset", "mnist"), out=str(out), data_dir=data_dir,
                       batch=8, limit=64, model=model, sample_every=2, threads=1, **kw)


@pytest.mark.parametrize("family", ["mlp", "dcgan", "cgan", "stylegan2"])
def test_every_family_trains_a_few_steps(family, tmp_path, data_dir):
    extra = {"r1": 1.0, "r1_every": 2, "ema_decay": 0.9} if family == "stylegan2" else {"ema_decay": 0.9}
    t = Trainer(tiny_cfg(family, tmp_path / family, data_dir, steps=3, **extra))
    before = [p.clone() for p in t.G.parameters()]
    stats = t.fit()
    assert t.step == 3 and all(map(lambda v: v == v, stats.values()))
    assert any(not torch.equal(a, b) for a, b in zip(before, t.G.parameters()))
    for f in ("config.json", "model.safetensors", "samples.png", "losses.png", "train_log.csv",
              "train_state/state.safetensors", "samples/step0000002.png"):
        assert (tmp_path / family / f).is_file(), f
    m = ganlab.load(str(tmp_path / family))
    assert m.info["training"]["steps"] == 3
    assert m.sample(2, seed=0).shape[0] == 2


@pytest.mark.parametrize("loss", ["minimax", "lsgan", "hinge", "wgan-gp"])
def test_loss_variants_and_tricks_run(loss, tmp_path, data_dir):
    t = Trainer(tiny_cfg("dcgan", tmp_path, data_dir, steps=2, loss=loss, d_steps=2, label_smoothing=0.1,
                         top_k=0.5))
    stats = t.fit()
    assert t.step == 2 and torch.isfinite(torch.tensor(stats["d_loss"]))


def state_tensors(out):
    t = load_file(str(out / "train_state" / "state.safetensors"))
    return {k: v for k, v in t.items()}


@pytest.mark.parametrize("family", ["cgan", "stylegan2"])
def test_resume_equals_uninterrupted(family, tmp_path, data_dir):
    extra = {"r1": 1.0, "r1_every": 2, "ema_decay": 0.9} if family == "stylegan2" else {"ema_decay": 0.9, "top_k": 0.5}
    a = Trainer(tiny_cfg(family, tmp_path / "a", data_dir, steps=4, **extra))
    a.fit()
    b = Trainer(tiny_cfg(family, tmp_path / "b", data_dir, steps=4, **extra))
    b.fit(max_steps=2)
    assert b.step == 2
    c = Trainer(tiny_cfg(family, tmp_path / "b", data_dir, steps=4, **extra))
    c.fit(resume=True)
    assert c.step == 4
    ta, tb = state_tensors(tmp_path / "a"), state_tensors(tmp_path / "b")
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k


def test_same_seed_same_weights(tmp_path, data_dir):
    a = Trainer(tiny_cfg("mlp", tmp_path / "a", data_dir, steps=3))
    a.fit()
    b = Trainer(tiny_cfg("mlp", tmp_path / "b", data_dir, steps=3))
    b.fit()
    for x, y in zip(a.G.parameters(), b.G.parameters()):
        assert torch.equal(x, y)


@pytest.mark.slow
def test_train_cli_and_torchrun_two_processes(tmp_path, data_dir):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}", "-m", "ganlab",
           "train", "dcgan", "--dataset", "mnist", "--data-dir", data_dir, "--out", str(out), "--steps", "2",
           "--batch", "8", "--limit", "64", "--threads", "1", "--model-config", json.dumps(TINY["dcgan"])]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-6000:]
    m = ganlab.load(str(out))
    assert m.info["training"]["processes"] == 2 and m.info["training"]["steps"] == 2
    assert m.info["training"]["command"].startswith("python -m ganlab train dcgan")


def test_wgan_gp_interpolates_real_and_fake_images_of_the_same_labels(tmp_path, monkeypatch, data_dir):
    """A conditional critic's gradient penalty scores each real/fake interpolate with the label both halves
    share: the D step draws its fakes for the real batch's labels and passes those labels to the penalty."""
    from ganlab import losses

    t = Trainer(tiny_cfg("cgan", tmp_path, data_dir, steps=1, loss="wgan-gp"))
    seen = {}
    next_real, forward_train, penalty = t.next_real, t.G.forward_train, losses.gradient_penalty
    monkeypatch.setattr(t, "next_real", lambda: seen.setdefault("real", next_real()))
    monkeypatch.setattr(t.G, "forward_train", _recording(seen, "fake_labels", forward_train))
    monkeypatch.setattr(losses, "gradient_penalty", _recording(seen, "gp_labels", penalty, arg=3))
    t.train_step()
    y_real = seen["real"][1]
    assert torch.equal(seen["fake_labels"], y_real) and torch.equal(seen["gp_labels"], y_real)


def _recording(seen, key, fn, arg=1):
    """``fn`` that remembers its first call's positional argument ``arg`` as seen[key]."""
    def wrapper(*args, **kwargs):
        seen.setdefault(key, args[arg])
        return fn(*args, **kwargs)
    return wrapper


@pytest.mark.parametrize("loss, expected", [("hinge", 5.0), ("wgan-gp", 5.0), ("lsgan", 5.0),
                                            ("non-saturating", torch.sigmoid(torch.tensor(5.0)).item())])
def test_mean_d_is_the_raw_critic_value_unless_d_outputs_a_probability(tmp_path, monkeypatch, data_dir, loss,
                                                                       expected):
    t = Trainer(tiny_cfg("dcgan", tmp_path, data_dir, steps=1, loss=loss))
    forward = t.D.forward
    monkeypatch.setattr(t.D, "forward", lambda x, y=None: forward(x, y) * 0 + 5.0)   # every score is 5
    stats = t.train_step()
    assert stats["d_real"] == pytest.approx(expected) and stats["d_fake"] == pytest.approx(expected)


def test_cli_converts_the_old_training_vocabulary(tmp_path, capsys):
    from ganlab import cli

    argv = ["train", "dcgan", "--loss", "bce", "--label-smoothing", "0.9", "--top-k", "0", "--ema", "0.99"]
    a = cli.build_parser().parse_args(argv)
    notes = cli.old_spellings(a, argv)
    assert (a.loss, a.label_smoothing, a.top_k, a.ema_decay) == ("non-saturating", pytest.approx(0.1), 1.0, 0.99)
    assert len(notes) == 4 and any("amount taken off" in n for n in notes)
    a = cli.build_parser().parse_args(["train", "dcgan", "--label-smoothing", "0.1"])
    assert cli.old_spellings(a, []) == [] and a.label_smoothing == 0.1
