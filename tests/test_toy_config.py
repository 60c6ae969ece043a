"""The toy engine's one settings table (ganlab.toy.config) and what derives from it; the engine loads no torch."""
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from ganlab import toy
from ganlab.toy.config import FIELDS, ToyConfig, check_value

ROOT = Path(__file__).resolve().parent.parent


def test_importing_the_engine_and_its_workers_loads_no_torch():
    code = ("import sys, ganlab.toy, ganlab.toy.runs\n"
            "t = ganlab.toy.ToyTrainer(ganlab.toy.default_config()); t.step(3); ganlab.toy.render_frame(t)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'gradio'))\n"
            "assert not bad, bad[:5]\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_every_default_is_valid_and_every_field_is_live_or_restarts():
    cfg = ToyConfig()
    for f in FIELDS:
        assert check_value(f, f.default) == getattr(cfg, f.name) == f.default
        assert isinstance(f.default, f.type) and f.help
        if f.type in (int, float):
            lo, hi = f.range
            assert lo <= f.default <= hi
    assert set(toy.LIVE_FIELDS) | set(toy.RESTART_FIELDS) == {f.name for f in FIELDS}
    assert not set(toy.LIVE_FIELDS) & set(toy.RESTART_FIELDS)
    assert set(toy.NET_FIELDS) <= set(toy.RESTART_FIELDS)


@pytest.mark.parametrize("name,value,message", [
    ("lr_g", 2.0, "lr_g must be between"), ("lr_g", "nan", "finite"), ("lr_g", None, "fill in lr_g"),
    ("batch", 12.5, "whole number"), ("batch", 4, "between 8 and 512"), ("loss", "wasserstein", "loss"),
    ("naive", "yes", "true or false"), ("seed", -1, "seed"), ("g_activation", "gelu", "g_activation"),
    ("d_steps", True, "finite number")])
def test_the_table_refuses_bad_values_by_name(name, value, message):
    with pytest.raises(ValueError, match=message):
        toy.from_dict({name: value})
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(toy.default_config(), **{name: value})


def test_form_values_are_converted_and_unknown_names_refused():
    cfg = toy.from_dict({"batch": 64.0, "lr_g": "0.001", "seed": "7"})
    assert cfg.batch == 64 and isinstance(cfg.batch, int) and cfg.lr_g == 0.001 and cfg.seed == 7
    with pytest.raises(ValueError, match="unknown toy settings: lr"):
        toy.from_dict({"lr": 0.1})


def test_the_old_names_are_read_with_a_deprecation_note():
    """One word per idea across ganlab: batch (as the image trainer), z_dim and latent_dist (as every generator's
    config); the toy's old names still work at its entry points, each with a FutureWarning."""
    with pytest.warns(FutureWarning, match="'batch_size' is now called 'batch'"):
        cfg = toy.from_dict({"batch_size": 16, "latent_dim": 3, "noise": "uniform"})
    assert (cfg.batch, cfg.z_dim, cfg.latent_dist) == (16, 3, "uniform")
    with pytest.warns(FutureWarning, match="'latent_dim' is now called 'z_dim'"):
        assert toy.default_config(latent_dim=1) == toy.default_config(z_dim=1)
    with pytest.warns(FutureWarning, match="'noise' is now called 'latent_dist'"):
        assert toy.lecture_config(noise="uniform").latent_dist == "uniform"
    with pytest.raises(ValueError, match="give only 'batch'"):
        toy.from_dict({"batch_size": 16, "batch": 32})
    assert not {"batch_size", "latent_dim", "noise"} & set(toy.BY_NAME)


def test_the_live_tab_takes_its_controls_from_the_table():
    gr = pytest.importorskip("gradio")
    from ganlab.ui.live import build_live_tab

    with gr.Blocks() as demo:
        build_live_tab(workers=0)
    start = next(fn for fn in demo.fns.values() if fn.api_name == "live_start")
    by_label = {c.label: c for c in start.inputs}
    for f in FIELDS:
        c = next(c for label, c in by_label.items() if label.startswith(f.help))
        if isinstance(c, gr.Slider):
            assert (c.minimum, c.maximum, c.step, c.value) == (*f.range, f.step, getattr(toy.default_config(), f.name))
        elif isinstance(c, (gr.Dropdown, gr.Radio)):
            assert [choice[1] for choice in c.choices] == list(f.range)
        elif isinstance(c, gr.Checkbox):
            assert f.type is bool
        else:
            assert isinstance(c, gr.Number) and f.step is None and f.type in (int, float)
    assert len(start.inputs) == len(FIELDS)
    update = next(fn for fn in demo.fns.values() if fn.api_name == "live_update")
    rebuild = next(fn for fn in demo.fns.values() if fn.api_name == "live_rebuild")
    # every live field's control updates the run; every other one starts a new run
    assert len(update.targets) == len(toy.LIVE_FIELDS) and len(rebuild.targets) == len(toy.RESTART_FIELDS)
