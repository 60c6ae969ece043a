"""The Gradio app, launched on a free port with tiny random checkpoints and driven through gradio_client by
api_name, bad inputs included; plus the registry and the temp-file bound it relies on."""
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganlab import export, views
from ganlab.models import FAMILIES
from ganlab.registry import ModelRegistry
from ganlab.ui.common import TempFiles

from .conftest import checkpoint_variant, copy_checkpoints, free_port

gradio_client = pytest.importorskip("gradio_client")

API_NAMES = {"generate", "interpolate", "randomize", "reset_sliders", "select_model", "set_class", "restore",
             "restore_interpolation", "models", "model_info", "page_load", "interpolate_options"}


@pytest.fixture(scope="module")
def models_dir(tiny_checkpoints, tmp_path_factory):
    """The tiny checkpoints plus three broken ones: garbage weights, bad JSON, and no weights yet."""
    root = copy_checkpoints(tiny_checkpoints, tmp_path_factory.mktemp("app-models"))
    w = checkpoint_variant(root, "broken-weights") / "model.safetensors"
    w.write_bytes(b"\x08" + b"\0" * 7 + b"not json")
    checkpoint_variant(root, "broken-shapes", g_fc=24)             # weights no longer match the config
    (root / "broken-json").mkdir()
    (root / "broken-json" / "config.json").write_text("{not json")
    (root / "mid-training").mkdir()
    shutil.copy(root / "tiny-mlp" / "config.json", root / "mid-training" / "config.json")
    return root


@pytest.fixture(scope="module")
def app(models_dir):
    from ganlab.ui import build_app, launch_kwargs

    demo = build_app(models_dir)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch_kwargs())
    client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False)
    yield demo, client
    demo.close()
    demo.ganlab.files.cleanup()
    assert not demo.ganlab.files.dir.exists()


def generate(client, **kw):
    path, settings, caption = client.predict(**kw, api_name="/generate")
    return np.asarray(Image.open(path)), json.loads(settings), path


def gif_frames(path):
    with Image.open(path) as im:
        assert im.format == "GIF" and im.is_animated
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("L")))
        return np.stack(frames), im.info


def test_every_action_has_an_api_name(app):
    _, client = app
    names = {n.lstrip("/") for n in client.view_api(print_info=False, return_format="dict")["named_endpoints"]}
    assert API_NAMES <= names


@pytest.mark.parametrize("model", ["tiny-mlp", "tiny-dcgan", "tiny-cgan", "tiny-stylegan2",
                                   "tiny-stylegan1", "tiny-progan", "tiny-dcgan-radford"])
def test_generate_is_readable_reproducible_and_carries_its_settings(app, model):
    _, client = app
    img, settings, path = generate(client, model=model, seed=5, n=1)
    assert 256 <= max(img.shape[:2]) <= export.MAX_SIDE
    assert export.read_settings(path) == settings
    again, _, _ = generate(client, **settings)                    # the JSON is the endpoint's own parameters
    assert np.array_equal(img, again)
    grid, _, _ = generate(client, model=model, seed=5, n=views.MAX_GRID, label="3")
    assert max(grid.shape[:2]) <= export.MAX_SIDE


def test_sliders_move_the_image_and_reset_restores_it(app):
    _, client = app
    base, _, _ = generate(client, model="tiny-dcgan", seed=2, n=1)
    for kw in ({"z0": 2.5}, {"pc0": 3.0}):
        moved, settings, _ = generate(client, model="tiny-dcgan", seed=2, n=1, **kw)
        assert not np.array_equal(base, moved) and settings[next(iter(kw))] == next(iter(kw.values()))
    out = client.predict(model="tiny-dcgan", seed=2, n=1, z0=2.5, pc3=-1.0, api_name="/reset_sliders")
    assert list(out[:16]) == [0] * 16 and np.array_equal(base, np.asarray(Image.open(out[16])))


def test_conditional_class_and_all_classes(app):
    _, client = app
    three, _, _ = generate(client, model="tiny-cgan", seed=0, n=1, label="3")
    seven, _, _ = generate(client, model="tiny-cgan", seed=0, n=1, label="7")
    assert not np.array_equal(three, seven)
    every, settings, _ = generate(client, model="tiny-cgan", seed=0, n=2, label="all")
    assert settings["label"] == "all" and every.shape[1] > 2 * every.shape[0]     # seeds in rows, classes in columns
    _, settings, _ = generate(client, model="tiny-dcgan", seed=0, n=1, label="3")
    assert settings["label"] is None                                              # unconditional: ignored
    _, settings, _ = generate(client, model="tiny-dcgan", seed=0, n=1, mix=["fine"])
    assert settings["mix"] == []                                                  # no style mixing outside StyleGAN


def test_stylegan_mixing_noise_and_cutoff(app):
    _, client = app
    kw = dict(model="tiny-stylegan2", seed=4, n=1)
    base, _, _ = generate(client, **kw)
    assert not np.array_equal(base, generate(client, **kw, mix=["coarse"], mix_seed=9)[0])
    assert not np.array_equal(base, generate(client, **kw, noise="none")[0])
    assert not np.array_equal(generate(client, **kw, truncation=0.5, cutoff=1)[0],
                              generate(client, **kw, truncation=0.5, cutoff=6)[0])
    assert np.array_equal(generate(client, **kw, truncation=0.5, cutoff=6)[0],
                          generate(client, **kw, truncation=0.5, cutoff=32)[0])    # beyond the layers = all


@pytest.mark.parametrize("model, kw, view", [
    ("tiny-dcgan", dict(keyframes="5, 9, 11", method="lerp", loop=False), {}),
    ("tiny-stylegan2", dict(keyframes="5, 9", method="slerp"), {}),
    ("tiny-cgan", dict(keyframes="5, 9"), {"label": "all"}),
    ("tiny-cgan", dict(keyframes="5", mode="class", classes="2, 7", from_view=True), {"label": "2", "z1": 1.0}),
    ("tiny-stylegan2", dict(keyframes="9", from_view=True), {"pc1": 2.0, "mix": ["fine"]}),
])
def test_interpolation_gif_starts_at_the_first_keyframe(app, model, kw, view):
    _, client = app
    preview, gif, settings, note = client.predict(model=model, seed=5, frames=12, fps=10, **kw, **view,
                                                  api_name="/interpolate")
    frames, info = gif_frames(gif)
    assert len(frames) == 12 and info["duration"] == 100
    assert json.loads(settings) == export.read_settings(gif)
    first, _, _ = generate(client, model=model, seed=5, n=1, **view)
    assert np.array_equal(frames[0], first.reshape(frames[0].shape[0], frames[0].shape[1], -1)[..., 0])
    assert not np.array_equal(frames[0], frames[6])


@pytest.mark.parametrize("endpoint, kw, message", [
    ("/generate", dict(model="../checkpoints/tiny-dcgan"), "no paths"),
    ("/generate", dict(model="/etc/passwd"), "no paths"),
    ("/generate", dict(model="<img src=x onerror=alert(1)>"), "no paths or markup"),
    ("/generate", dict(model="no-such-model"), "unknown model"),
    ("/generate", dict(model="tiny-dcgan", seed=-1), "seed must be a whole number from 0"),
    ("/generate", dict(model="tiny-dcgan", seed=1.5), r"seed must be a whole number .*got 1\.5"),   # not seed 2
    ("/generate", dict(model="tiny-dcgan", seed=2**32), "seed must be a whole number from 0 to 4294967292"),
    ("/generate", dict(model="tiny-cgan", label="10"), "class must be a whole number from 0 to 9"),
    ("/generate", dict(model="tiny-stylegan2", mix=["coarse", "pose"]), "style-mixing layers must be some of"),
    ("/generate", dict(model="tiny-stylegan2", noise="loud"), "noise must be one of"),
    ("/generate", dict(model="broken-weights"), "unavailable"),
    ("/generate", dict(model="broken-shapes"), "unavailable"),
    ("/interpolate", dict(model="tiny-dcgan", method="cubic"), "interpolation method must be one of"),
    ("/interpolate", dict(model="tiny-dcgan", keyframes="7"), "at least two keyframes"),
    ("/interpolate", dict(model="tiny-dcgan", keyframes="one, two"), "'one' is not a keyframe seed"),
    ("/interpolate", dict(model="tiny-dcgan", keyframes="0-100000"), "100,001 keyframe seeds; give at most 240"),
    ("/interpolate", dict(model="tiny-dcgan", keyframes="0-99", frames=60), "100 keyframes need at least 100"),
    ("/interpolate", dict(model="tiny-cgan", mode="class", classes=""), "no classes given"),
    ("/interpolate", dict(model="tiny-dcgan", mode="class"), "conditional"),
    ("/interpolate", dict(model="tiny-cgan", mode="class", classes="3, 12"), "out of range"),
    ("/restore", dict(text="{not json", model="tiny-dcgan"), "not valid JSON"),
    ("/restore", dict(text='{"model": "tiny-dcgan", "sed": 1}', model="tiny-dcgan"), "unknown settings"),
])
def test_bad_input_gets_a_clear_error_and_the_app_keeps_working(app, endpoint, kw, message):
    _, client = app
    with pytest.raises(gradio_client.exceptions.AppError, match=message):
        client.predict(**kw, api_name=endpoint)
    assert generate(client, model="tiny-mlp", seed=1, n=1)[0].size


def test_typed_values_outside_a_slider_are_set_to_its_nearest_end(app):
    """One rule for a value outside a slider's range, whether it comes from typing + Enter, from Generate (the page
    clamps the box when it loses focus) or from an API client: the nearest end of the range (stated in the UI)."""
    _, client = app
    for kw, key, value in [(dict(n=65), "n", 64), (dict(truncation=9), "truncation", 1.5),
                           (dict(truncation=-1), "truncation", 0.0), (dict(z3=-7), "z3", -3.0),
                           (dict(pc0=50), "pc0", 5.0)]:
        assert generate(client, model="tiny-dcgan", seed=3, **kw)[1][key] == value
    assert generate(client, model="tiny-cgan", label="all", n=7)[1]["n"] == 6        # n × 10 classes ≤ 64
    _, _, settings, _ = client.predict(model="tiny-dcgan", keyframes="0, 1", frames=4, fps=99, api_name="/interpolate")
    assert json.loads(settings)["fps"] == views.FPS_RANGE[1]


def test_user_mistakes_are_logged_one_line_each_and_faults_with_a_traceback(app, caplog, capfd, monkeypatch):
    """The server log gets one line per refused input (no traceback: a user's mistake is not a fault), Gradio's
    own checks included; a real fault keeps its traceback."""
    import logging

    _, client = app
    mistakes = [("/generate", dict(model="tiny-dcgan", seed=1.5)), ("/generate", dict(model="no-such-model")),
                ("/generate", dict(model="tiny-stylegan2", mix=["pose"])), ("/generate", dict(model="tiny-dcgan",
                                                                                             noise="loud")),
                ("/restore", dict(text="{not json", model="tiny-dcgan")),
                ("/interpolate", dict(model="tiny-dcgan", keyframes="7"))]
    capfd.readouterr()
    with caplog.at_level(logging.INFO):
        for endpoint, kw in mistakes:
            with pytest.raises(gradio_client.exceptions.AppError):
                client.predict(**kw, api_name=endpoint)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    refused = [r.getMessage() for r in caplog.records if r.name == "ganlab.app"]
    assert len(refused) == len(mistakes) and all("\n" not in m and m.startswith("refused ") for m in refused)

    def fault(*args, **kwargs):
        raise RuntimeError("a bug")
    monkeypatch.setattr(views, "render_view", fault)
    with pytest.raises(gradio_client.exceptions.AppError):
        client.predict(model="tiny-dcgan", api_name="/generate")
    assert "Traceback" in capfd.readouterr().err


def test_identical_keyframes_are_reported_as_one_frame(app):
    _, client = app
    _, gif, _, note = client.predict(model="tiny-dcgan", keyframes="3, 3", frames=60, api_name="/interpolate")
    assert note.startswith("1 frame ") and "still" in note
    with Image.open(gif) as im:
        assert getattr(im, "n_frames", 1) == 1


@pytest.mark.parametrize("model, view, cli_class", [
    ("tiny-stylegan2", {}, []),
    ("tiny-cgan", {"label": "3"}, ["--class", "3"]),
    ("tiny-mlp", {}, []),
])
def test_app_and_cli_render_the_same_frames(app, models_dir, tmp_path, model, view, cli_class):
    """The same settings through the app's endpoints and through `python -m ganlab` give the same pixels:
    a grid of seeds, and a walk (through W for StyleGAN2 in both)."""
    from ganlab import cli

    _, client = app
    folder = str(models_dir / model)
    app_grid, _, _ = generate(client, model=model, seed=5, n=4, truncation=0.7, **view)
    assert cli.main(["generate", "--model", folder, "--seeds", "5-8", "--truncation", "0.7", "--grid", "--out",
                     str(tmp_path), *cli_class]) == 0
    cli_grid = np.asarray(Image.open(tmp_path / "grid.png"))
    zoom = app_grid.shape[0] // cli_grid.shape[0]
    assert zoom > 1 and np.array_equal(export.upscale(cli_grid[..., None], zoom)[..., 0], app_grid)

    _, app_gif, _, _ = client.predict(model=model, seed=0, keyframes="1, 5, 9", frames=12, method="slerp",
                                      loop=True, truncation=0.7, fps=10, **view, api_name="/interpolate")
    cli_gif = tmp_path / "walk.gif"
    assert cli.main(["interpolate", "--model", folder, "--seeds", "1,5,9", "--frames", "12", "--slerp", "--loop",
                     "--truncation", "0.7", "--fps", "10", "--out", str(cli_gif), *cli_class]) == 0
    app_frames, cli_frames = gif_frames(app_gif)[0], gif_frames(cli_gif)[0]
    assert len(app_frames) == 12 and np.array_equal(app_frames, cli_frames)


def test_restore_redraws_the_saved_view(app):
    _, client = app
    img, settings, _ = generate(client, model="tiny-stylegan2", seed=8, n=2, pc2=1.5, mix=["middle"])
    out = client.predict(text=json.dumps(settings), model="tiny-mlp", api_name="/restore")
    restored = [o for o in out if isinstance(o, str) and o.endswith(".png")]
    assert len(restored) == 1 and np.array_equal(img, np.asarray(Image.open(restored[0])))


@pytest.mark.filterwarnings("ignore:deprecated. settings:FutureWarning")   # the old files' notes, checked in test_views
@pytest.mark.parametrize("model, cli_class", [("tiny-cgan", []), ("tiny-cgan", ["--class", "all"]),
                                              ("tiny-stylegan2", [])])
def test_a_png_and_a_gif_made_by_the_cli_restore_in_the_app(app, models_dir, tmp_path, monkeypatch, model,
                                                           cli_class):
    """What the CLI writes restores in the app (its restore endpoints, as the restore button) to the same pixels:
    a PNG per image and grid.png at the app's zoom, a GIF frame for frame; and so do the files the CLI wrote
    before it wrote the views' settings ("class", "seeds")."""
    from ganlab import checkpoint, cli

    _, client = app
    monkeypatch.setattr(checkpoint, "roots", lambda: [models_dir])     # `--model NAME` as the app knows it

    def restored(settings, endpoint, suffix):
        out = client.predict(text=json.dumps(settings), model="tiny-mlp", api_name=endpoint)
        files = {o for o in out if isinstance(o, str) and o.endswith(suffix)}
        assert len(files) == 1
        return files.pop()

    def same_image(cli_png, app_png):
        a, b = np.asarray(Image.open(cli_png)), np.asarray(Image.open(app_png))
        zoom = b.shape[0] // a.shape[0]
        return zoom >= 1 and np.array_equal(export.upscale(a.reshape(*a.shape[:2], -1), zoom).reshape(b.shape), b)

    assert cli.main(["generate", "--model", model, "--seeds", "6-7", "--truncation", "0.7", "--grid", "--out",
                     str(tmp_path), *cli_class]) == 0
    pngs = sorted(tmp_path.glob("seed*.png"))
    assert len(pngs) == (20 if cli_class else 2)
    for png in [pngs[0], pngs[-1], tmp_path / "grid.png"]:
        settings = export.read_settings(png)
        assert settings["model"] == model and "class" not in settings
        assert same_image(png, restored(settings, "/restore", ".png")), png.name

    old = {"model": model, "seed": 6, "class": export.read_settings(pngs[0])["label"], "truncation": 0.7}
    if old["class"] not in (None, "all"):
        old["class"] = int(old["class"])
    assert same_image(pngs[0], restored(old, "/restore", ".png"))     # the old CLI's PNG of one seed

    gif = tmp_path / "walk.gif"
    assert cli.main(["interpolate", "--model", model, "--seeds", "1,5", "--frames", "6", "--fps", "10", "--slerp",
                     "--truncation", "0.7", "--out", str(gif)]) == 0
    settings = export.read_settings(gif)
    assert np.array_equal(gif_frames(gif)[0], gif_frames(restored(settings, "/restore_interpolation", ".gif"))[0])
    old = {"model": model, "seeds": [1, 5], "frames": 6, "fps": 10.0, "method": "slerp", "loop": False,
           "class": None, "truncation": 0.7}
    assert np.array_equal(gif_frames(gif)[0], gif_frames(restored(old, "/restore_interpolation", ".gif"))[0])


def test_models_table_lists_broken_checkpoints_as_unavailable(app):
    _, client = app
    table = client.predict(api_name="/models")
    rows = {r[0]: r for r in table["data"]}
    assert {"tiny-mlp", "tiny-dcgan", "tiny-cgan", "tiny-stylegan2"} <= set(rows)
    assert rows["tiny-dcgan"][-1] in ("available", "loaded")
    for name in ("broken-weights", "broken-json", "mid-training"):
        assert rows[name][-1].startswith("unavailable"), rows[name]
    assert list(rows).index("tiny-mlp") < list(rows).index("tiny-dcgan") < list(rows).index("tiny-stylegan2")
    info = client.predict(name="tiny-stylegan2", api_name="/model_info")
    assert "StyleGAN2" in info and "parameters" in info


def test_registry_is_lazy_cached_and_thread_safe(models_dir):
    reg = ModelRegistry(models_dir)
    assert not any(s.loaded for s in reg.status())
    assert "broken-weights" not in reg.available() and "tiny-cgan" in reg.available()
    assert list(reg.grouped()) == list(FAMILIES)                      # one tiny checkpoint per family
    got = []
    threads = [threading.Thread(target=lambda: got.append(reg.get("tiny-stylegan2"))) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len({id(m) for m in got}) == 1 and got[0].info["name"] == "tiny-stylegan2"
    assert [s.name for s in reg.status() if s.loaded] == ["tiny-stylegan2"]
    assert reg.num_parameters("tiny-cgan") == reg.get("tiny-cgan").num_parameters()
    assert ModelRegistry().roots is None                               # the shipped app: checkpoint.roots()


def test_temp_files_are_bounded_and_removed():
    files = TempFiles(max_files=3)
    paths = []
    for _ in range(5):
        paths.append(files.path("x", ".png"))
        paths[-1].write_bytes(b"x")
    assert sorted(files.dir.iterdir()) == sorted(paths[2:])
    files.cleanup()
    assert not files.dir.exists()


def test_app_builds_and_explains_when_no_model_is_trained_yet(tmp_path):
    from ganlab.ui import build_app

    demo = build_app(tmp_path)
    fn = next(f for f in demo.fns.values() if f.api_name == "page_load").fn
    assert any("No trained model" in str(v) for v in fn(None).values())
    demo.ganlab.files.cleanup()


def test_server_settings(app, monkeypatch):
    """The app runs one torch thread per request, caps glibc's malloc arenas (an explicit env var wins) and
    Gradio's per-event statistics."""
    import platform
    import sys

    import torch

    from ganlab.ui import limit_malloc_arenas

    assert torch.get_num_threads() == 1                                  # build_app set it
    demo, _ = app                                # Gradio's per-event statistics are summarised every 100 events
    assert (demo._queue.ANAYLTICS_CACHE_FREQUENCY, demo._queue.ANALYTICS_MAX_EVENTS) == (100, 2000)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert limit_malloc_arenas() is (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc")


@pytest.mark.slow
def test_ctrl_c_stops_the_app_and_its_live_workers(tmp_path):
    """`python app.py`, then Ctrl-C: the app exits promptly and leaves no worker process behind (it once hung
    in multiprocessing's exit hook, waiting for the live-training workers)."""
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from .conftest import ROOT

    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)

        from ganlab.ui.live import WORKERS

        def workers() -> list[int]:          # the forkserver and the workers it forked (same command line)
            return [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/cmdline")
                    if "multiprocessing.forkserver" in _read(p) and proc.pid in _ancestors(int(p.parent.name))]
        while len(workers()) < 1 + WORKERS and time.monotonic() < deadline:   # started in the background
            time.sleep(0.2)
        started = workers()
        assert len(started) == 1 + WORKERS, "the live-training workers did not start"
        time.sleep(1.0)                      # each has sent its address back: the pool holds them all
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        gone = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in started) and time.monotonic() < gone:
            time.sleep(0.1)
        assert not [pid for pid in started if Path(f"/proc/{pid}").exists()], "worker processes were left behind"
    finally:
        if proc.poll() is None:
            proc.kill()


def _read(path) -> str:
    try:
        return path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ancestors(pid: int) -> list[int]:
    """The process ids above ``pid``."""
    chain = []
    while pid > 1:
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        chain.append(pid)
    return chain
