"""Serving many visitors: the render cache, single flight, the heavy-work lane and its superseded turns,
torch threads per request; the device choice (also on the meta device) and ZeroGPU's decorator."""
import os
import sys
import threading
import time
import types

import numpy as np
import pytest
import torch

from ganlab import device, serving, views
from tests.conftest import tiny_generator


# -- the cache and single flight -----------------------------------------------------------------------------
def test_cache_is_bounded_in_bytes_and_least_recently_used_goes_first():
    cache = serving.RenderCache(max_bytes=100)
    for k in "abc":
        cache.get(("m", k), lambda k=k: k * 40, size=len)          # 40 bytes each: only two fit
    assert len(cache) == 2 and cache.bytes == 80
    calls = []
    assert cache.get(("m", "c"), lambda: calls.append(1), size=len) == "c" * 40 and not calls   # a hit
    cache.get(("m", "a"), lambda: "a" * 40, size=len)                # "a" was dropped: rendered again
    assert cache.renders == 4 and cache.hits == 1
    cache.get(("m", "huge"), lambda: "x" * 101, size=len)            # larger than the whole cache: not kept
    assert ("m", "huge") not in cache._items and cache.bytes <= 100


def test_cache_drops_one_models_entries():
    cache = serving.RenderCache()
    cache.get(("a", 1), lambda: b"1", size=len)
    cache.get(("b", 1), lambda: b"2", size=len)
    assert cache.drop("a") == 1 and len(cache) == 1
    calls = []
    cache.get(("a", 1), lambda: calls.append(1) or b"1", size=len)
    assert calls == [1]


def test_single_flight_renders_a_view_once_for_everyone_asking_meanwhile():
    cache = serving.RenderCache()
    started, release, renders = threading.Event(), threading.Event(), []

    def render():
        renders.append(1)
        started.set()
        release.wait(5)
        return b"image"

    results = []
    leader = threading.Thread(target=lambda: results.append(cache.get(("m", "v"), render, size=len)))
    leader.start()
    started.wait(5)
    followers = [threading.Thread(target=lambda: results.append(cache.get(("m", "v"), render, size=len)))
                 for _ in range(5)]
    for t in followers:
        t.start()
    time.sleep(0.2)
    release.set()
    for t in [leader, *followers]:
        t.join(5)
    assert renders == [1] and results == [b"image"] * 6
    assert cache.renders == 1 and cache.shared + cache.hits == 5


def test_single_flight_passes_the_renders_error_to_those_waiting_and_keeps_nothing():
    cache = serving.RenderCache()
    started, release = threading.Event(), threading.Event()

    def render():
        started.set()
        release.wait(5)
        raise ValueError("bad view")

    errors = []

    def ask():
        try:
            cache.get(("m", "v"), render)
        except ValueError as e:
            errors.append(str(e))
    threads = [threading.Thread(target=ask)]
    threads[0].start()
    started.wait(5)
    threads += [threading.Thread(target=ask) for _ in range(3)]
    for t in threads[1:]:
        t.start()
    time.sleep(0.1)
    release.set()
    for t in threads:
        t.join(5)
    assert errors == ["bad view"] * 4 and len(cache) == 0


# -- the lane: heavy work in turn, superseded turns dropped ----------------------------------------------------
def test_lane_drops_a_visitors_superseded_waiting_turns_and_serves_the_newest():
    lane = serving.Lane(threads=1)
    hold, holding = threading.Event(), threading.Event()
    rendered, dropped = [], []

    def occupy():                                 # someone else's long render holds the lane
        with lane.turn("other"):
            holding.set()
            hold.wait(5)

    def ask(owner, value):
        try:
            with lane.turn(owner):
                rendered.append(value)
        except serving.Superseded:
            dropped.append(value)

    t0 = threading.Thread(target=occupy)
    t0.start()
    holding.wait(5)
    asks = []
    for value in (1, 2, 3):                       # one visitor's slider positions arrive while the lane is busy
        asks.append(threading.Thread(target=ask, args=("page-a", value)))
        asks[-1].start()
        time.sleep(0.05)
    api = threading.Thread(target=ask, args=(None, "api"))   # an API call is never superseded
    api.start()
    time.sleep(0.05)
    assert lane.depth == 3                        # the holder, page-a's newest and the API call
    hold.set()
    for t in [t0, *asks, api]:
        t.join(5)
    assert sorted(dropped) == [1, 2] and rendered == [3, "api"] and lane.dropped == 2


def test_lane_serves_in_arrival_order_one_at_a_time():
    lane = serving.Lane(threads=1)
    inside, order, lock = [], [], threading.Lock()

    def ask(i):
        with lane.turn(f"visitor-{i}"):
            with lock:
                inside.append(i)
                assert len(inside) == 1
            order.append(i)
            time.sleep(0.02)
            with lock:
                inside.remove(i)
    threads = []
    for i in range(5):
        threads.append(threading.Thread(target=ask, args=(i,)))
        threads[-1].start()
        time.sleep(0.01)
    for t in threads:
        t.join(5)
    assert order == list(range(5))


def test_torch_threads_are_set_for_the_request_and_restored():
    out = {}

    def run():
        before = torch.get_num_threads()
        with serving.torch_threads(1):
            out["inside"] = torch.get_num_threads()
        out["after"], out["before"] = torch.get_num_threads(), before
    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert out["inside"] == 1 and out["after"] == out["before"]


def test_heavy_work_takes_the_lane_and_small_work_runs_at_once():
    lane = serving.Lane(threads=serving.CORES)
    seen = {}
    with serving.sized(1024 * 1024, lane, owner="p"):
        seen["heavy"] = (lane.depth, torch.get_num_threads(), serving.busy())
    with serving.sized(4 * 28 * 28, lane, owner="p"):
        seen["small"] = (lane.depth, torch.get_num_threads(), serving.busy())
    assert seen["heavy"] == (1, serving.CORES, 1) and seen["small"] == (0, 1, 1) and serving.busy() == 0


# -- devices --------------------------------------------------------------------------------------------------
def test_device_choice(monkeypatch):
    monkeypatch.delenv(device.ENV, raising=False)
    monkeypatch.delenv(device.ZERO_GPU_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "_mps_available", lambda: False)
    assert device.resolve() == torch.device("cpu") == device.resolve("auto")
    monkeypatch.setattr(device, "_mps_available", lambda: True)
    assert device.resolve("auto") == torch.device("mps")              # MPS before the CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.resolve("auto") == torch.device("cuda")             # CUDA first
    monkeypatch.setenv(device.ENV, "cpu")
    assert device.resolve() == torch.device("cpu") and device.resolve("mps") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "_mps_available", lambda: False)
    for bad, words in (("cuda", "no CUDA GPU"), ("mps", "MPS backend is not available"), ("tpu", "unknown device"),
                       ("gpu!", "unknown device")):
        with pytest.raises(ValueError, match=words):
            device.resolve(bad)
    assert device.backend("cpu") == "gloo" and device.backend("cuda:0") == "nccl"
    assert device.describe("cpu").startswith("cpu (")


def test_zero_gpu_decorator_is_a_no_op_without_zero_gpu_or_the_spaces_package(monkeypatch):
    def render():
        return 42
    monkeypatch.delenv(device.ZERO_GPU_ENV, raising=False)
    assert device.gpu(render) is render and device.gpu(duration=120)(render) is render
    monkeypatch.setenv(device.ZERO_GPU_ENV, "true")
    monkeypatch.setitem(sys.modules, "spaces", None)                   # the package is not installed
    assert device.gpu(render) is render
    calls = []
    fake = types.ModuleType("spaces")
    fake.GPU = lambda fn, duration=60: calls.append(duration) or (lambda: ("on the GPU", fn()))
    monkeypatch.setitem(sys.modules, "spaces", fake)                   # on ZeroGPU: spaces.GPU wraps it
    assert device.gpu(duration=90)(render)() == ("on the GPU", 42) and calls == [90]


@pytest.mark.parametrize("family", ["stylegan2", "dcgan", "cgan"])
def test_a_render_creates_everything_on_the_models_device(family, monkeypatch):
    """On the meta device every op with a stray CPU tensor (e.g. torch.randn without device=) fails, and
    nothing can be read back; the images' last step (to uint8 on the CPU) is replaced by a check of its input."""
    model = tiny_generator(family).to("meta")
    model.info["name"] = f"tiny-{family}"

    def to_uint8(images):
        assert images.device.type == "meta"
        n, c, h, w = images.shape
        return np.zeros((n, h, w, c), np.uint8)
    monkeypatch.setattr(views, "to_uint8", to_uint8)
    values = {"seed": 3, "n": 2, "truncation": 0.7, "z0": 1.0, "z1": -0.5, "label": "1"}
    if family == "stylegan2":
        values.update(mix=["fine"], noise="random")
    image, v = views.render_view(model, values)
    assert image.ndim == 3 and v["seed"] == 3
    image, _ = views.render_view(model, values, preview=True)
    v = views.check_view(model, values)
    codes, labels = views.view_codes(model, v, views.view_pairs(model, v, [1, 2]))
    assert codes.device.type == ("meta" if model.style_based else "cpu")   # z is drawn on the CPU from its seed
    path = views.latent.keyframe_path(codes, 5, "lerp", loop=True)
    assert views.render_codes(model, path, labels and labels[:1] * 5).shape[0] == 5


# -- the app's view server ------------------------------------------------------------------------------------
@pytest.fixture
def registry(tmp_path):
    from ganlab import checkpoint
    from ganlab.registry import ModelRegistry
    checkpoint.save(tiny_generator("dcgan"), tmp_path / "tiny-dcgan", dataset="mnist", training={"steps": 0})
    checkpoint.save(tiny_generator("stylegan2", image_size=512, channels_base=64, channels_max=8), tmp_path / "tiny-big",
                    dataset="mnist", training={"steps": 0})
    return ModelRegistry(tmp_path)


def test_the_same_view_typed_dragged_or_restored_is_rendered_once(registry):
    from ganlab.ui.serve import ViewServer
    server = ViewServer(registry)
    model = registry.get("tiny-dcgan")
    a = server.render(model, {"seed": "7", "n": 2, "z0": 0})
    b = server.render(model, {"seed": 7.0, "n": 2.0, "truncation": 1, "model": "tiny-dcgan"})
    assert a is b and server.cache.renders == 1 and server.cache.hits == 1
    assert server.render(model, {"seed": 8, "n": 2}) is not a and server.cache.renders == 2
    from ganlab import export
    assert export.read_settings(a.png)["seed"] == 7 and a.display == a.png                   # small: the PNG
    server.close()


def test_views_that_differ_only_in_settings_without_effect_are_rendered_once(registry):
    """The picker sets a StyleGAN's ψ cutoff to its layer count, a fresh page or an API client sends the slider's
    maximum: the same pixels, one render; each request still gets its own settings back."""
    from ganlab.ui.serve import ViewServer
    server = ViewServer(registry)
    model = registry.get("tiny-big")
    assert model.style_based and model.num_ws < views.MAX_CUTOFF
    picked = server.render(model, {"seed": 3, "n": 1, "cutoff": model.num_ws})
    fresh = server.render(model, {"seed": 3, "n": 1, "cutoff": views.MAX_CUTOFF, "mix_seed": 9})   # ψ = 1, no mixing
    assert server.cache.renders == 1 and fresh.display == picked.display
    assert fresh.settings["cutoff"] == views.MAX_CUTOFF and picked.settings["cutoff"] == model.num_ws
    truncated = {"seed": 3, "n": 1, "truncation": 0.5}
    server.render(model, {**truncated, "cutoff": model.num_ws})
    server.render(model, {**truncated, "cutoff": views.MAX_CUTOFF})                   # more than its layers = all
    assert server.cache.renders == 2
    server.render(model, {**truncated, "cutoff": 1})                                  # a real change
    server.render(model, {"seed": 3, "n": 1, "mix": ["fine"], "mix_seed": 9})
    server.render(model, {"seed": 3, "n": 1, "mix": ["fine"], "mix_seed": 10})
    assert server.cache.renders == 5
    small = registry.get("tiny-dcgan")                                    # no styles: cutoff and mixing seed unread
    server.render(small, {"seed": 3, "n": 1, "truncation": 0.5, "cutoff": 1, "mix_seed": 2})
    server.render(small, {"seed": 3, "n": 1, "truncation": 0.5, "cutoff": 5, "mix_seed": 4})
    assert server.cache.renders == 6
    exact, _ = views.render_view(model, {"seed": 3, "n": 1, "cutoff": views.MAX_CUTOFF})
    again, _ = views.render_view(model, {"seed": 3, "n": 1, "cutoff": model.num_ws})
    assert np.array_equal(exact, again)                                              # the premise: the same pixels
    server.close()


def test_a_replaced_model_drops_its_cached_views_and_files(registry, tmp_path):
    from ganlab import checkpoint
    from ganlab.ui.serve import ViewServer
    server = ViewServer(registry)
    old = registry.get("tiny-dcgan")
    shown = server.render(old, {"seed": 1, "n": 1})
    assert len(server.cache) == 1 and shown.display.is_file()
    time.sleep(0.05)
    checkpoint.save(tiny_generator("dcgan", seed=1), tmp_path / "tiny-dcgan", dataset="mnist", training={"steps": 0})
    new = registry.get("tiny-dcgan")                       # imported again under its name: loaded anew
    assert new is not old and len(server.cache) == 0 and not shown.display.exists()
    again = server.render(new, {"seed": 1, "n": 1})
    assert again is not shown and server.cache.renders == 2
    server.close()


def test_large_images_are_shown_as_jpeg_and_downloaded_as_the_exact_png(registry):
    from PIL import Image

    from ganlab import export
    from ganlab.ui.serve import ViewServer
    server = ViewServer(registry)
    model = registry.get("tiny-big")
    shown = server.render(model, {"seed": 2, "n": 1}, page=True)
    shown.written.result(timeout=30)
    png = shown.png
    assert shown.display.suffix == ".jpg" and png.suffix == ".png"
    exact, _ = views.render_view(model, {"seed": 2, "n": 1})
    with Image.open(png) as im:
        assert np.array_equal(np.asarray(im).reshape(exact.shape), exact)
    assert export.read_settings(png)["seed"] == 2
    api = server.render(model, {"seed": 2, "n": 1})                    # an API client: the PNG itself
    assert api.display.suffix == ".png" and export.read_settings(api.display)["seed"] == 2
    server.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a nice value per thread is Linux's")
def test_the_exact_pngs_are_written_at_a_lower_cpu_priority_than_renders(registry):
    """The PNG behind a shown image's download link must not slow the next render down: its writer thread runs
    at a lower priority (a higher nice value) than the threads that render."""
    from ganlab.ui.serve import ViewServer
    server = ViewServer(registry)
    try:
        writer = server._png_writer.submit(threading.get_native_id).result(timeout=30)
        here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        if here >= 19:
            pytest.skip("the tests run at the lowest priority already")
        assert os.getpriority(os.PRIO_PROCESS, writer) == min(19, here + serving.BACKGROUND_NICE)
    finally:
        server.close()


def test_a_pages_superseded_request_is_not_shown(registry):
    """A page's request whose render finishes after the same page asked for something newer returns
    Superseded (the page keeps its newer image), while an API call always gets its answer."""
    from ganlab.ui.serve import ViewServer
    server = ViewServer(registry)
    model = registry.get("tiny-dcgan")
    started, release = threading.Event(), threading.Event()
    real = views.render_view

    def slow(*args, **kwargs):
        started.set()
        release.wait(5)
        return real(*args, **kwargs)
    results = {}

    def ask(name, values, owner):
        try:
            results[name] = server.render(model, values, owner=owner)
        except serving.Superseded:
            results[name] = "superseded"
    import unittest.mock
    with unittest.mock.patch.object(views, "render_view", slow):
        first = threading.Thread(target=ask, args=("old", {"seed": 1, "n": 1}, "page"))
        api = threading.Thread(target=ask, args=("api", {"seed": 3, "n": 1}, None))
        first.start()
        api.start()
        started.wait(5)
        newer = threading.Thread(target=ask, args=("new", {"seed": 2, "n": 1}, "page"))
        newer.start()
        time.sleep(0.1)
        release.set()
        for t in (first, api, newer):
            t.join(10)
    assert results["old"] == "superseded" and results["new"].settings["seed"] == 2
    assert results["api"].settings["seed"] == 3
    server.close()


def test_load_cli_and_registry_take_the_device(tmp_path, monkeypatch, capsys):
    import ganlab
    from ganlab import checkpoint, cli
    from ganlab.registry import ModelRegistry
    folder = checkpoint.save(tiny_generator("dcgan"), tmp_path / "tiny-dcgan", dataset="mnist", training={})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv(device.ZERO_GPU_ENV, raising=False)
    assert ganlab.load(str(folder), device="cpu").device.type == "cpu"
    monkeypatch.setenv(device.ENV, "meta")                       # GANLAB_DEVICE is the default everywhere
    assert ganlab.load(str(folder)).device.type == "meta"
    assert ModelRegistry(tmp_path).get("tiny-dcgan").device.type == "meta"
    monkeypatch.delenv(device.ENV)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        ganlab.load(str(folder), device="cuda")
    out = tmp_path / "out"
    assert cli.main(["generate", "--model", str(folder), "--seeds", "0-1", "--out", str(out), "--device", "cpu"]) == 0
    assert len(list(out.glob("seed*.png"))) == 2
    assert cli.main(["generate", "--model", str(folder), "--out", str(out), "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    for command in ("generate", "interpolate", "train", "evaluate"):
        assert "--device" in cli.build_parser()._subparsers._group_actions[0].choices[command].format_help()


def test_big_grids_and_walks_are_bounded_by_pixels():
    big = tiny_generator("stylegan2", image_size=1024, channels_base=128, channels_max=8)
    assert views.max_images(big) == 16 and views.max_images(tiny_generator("dcgan")) == views.MAX_GRID
    assert views.check_view(big, {"n": 16})["n"] == 16
    with pytest.raises(ValueError, match="at most 16 images: 1024-px images, at most 16 megapixels"):
        views.check_view(big, {"n": 17})
    assert views.check_walk(big, {"frames": 60})[1]["frames"] == 60
    with pytest.raises(ValueError, match="use at most 64 frames"):
        views.check_walk(big, {"frames": 65})


def test_lane_gives_a_lone_render_every_core_and_a_queue_one_thread_each():
    lane = serving.Lane(threads=2)
    first_in, first_go, seen, both = threading.Event(), threading.Event(), {}, threading.Barrier(2, timeout=5)

    def first():
        with lane.turn("a"):
            seen["alone"] = torch.get_num_threads()
            first_in.set()
            first_go.wait(5)

    def queued(name):
        with lane.turn(name):
            seen[name] = torch.get_num_threads()
            both.wait()                               # both run at once: a broken barrier fails the test

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(5)
    others = [threading.Thread(target=queued, args=(n,)) for n in ("b", "c")]
    for o in others:
        o.start()
    time.sleep(0.1)
    assert lane.depth == 3
    first_go.set()
    for th in [t, *others]:
        th.join(10)
    assert seen == {"alone": 2, "b": 1, "c": 1}


def test_the_last_of_a_queue_takes_every_core_at_its_next_layer_once_alone():
    """Turns that started side by side (one thread each) must not end the queue on one core: the one left alone
    widens to the lane's budget at its model's next layer, and not before it is alone."""
    lane = serving.Lane(threads=2)
    layer = torch.nn.Linear(4, 4)
    first_in, first_go, c_done, b_beside = threading.Event(), threading.Event(), threading.Event(), threading.Event()
    both, seen = threading.Barrier(2, timeout=5), {}

    def first():
        with lane.turn("a"):
            first_in.set()
            first_go.wait(5)

    def b():
        with lane.turn("b"):
            both.wait()
            layer(torch.ones(1, 4))                   # c still runs: b stays at one thread
            seen["b beside c"] = torch.get_num_threads()
            b_beside.set()
            c_done.wait(5)
            seen["b alone, before a layer"] = torch.get_num_threads()
            layer(torch.ones(1, 4))
            seen["b alone"] = torch.get_num_threads()
            seen["budget used"] = lane._used

    def c():
        with lane.turn("c"):
            both.wait()
            b_beside.wait(5)
        c_done.set()

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(5)
    others = [threading.Thread(target=b), threading.Thread(target=c)]
    for o in others:
        o.start()
        time.sleep(0.05)                              # b before c in line
    first_go.set()
    for th in [t, *others]:
        th.join(10)
    assert seen == {"b beside c": 1, "b alone, before a layer": 1, "b alone": 2, "budget used": 2}
    assert lane._used == 0 and serving._hook is None  # the layer hook is off once no narrow turn runs


def test_stop_ends_a_pages_running_job_at_its_next_step(registry):
    from ganlab.ui.serve import ViewServer
    server = ViewServer(registry)
    server.stop("page-a")                       # a stop before the job began does not count
    server.start("page-a")
    server.check("page-a")
    server.stop("page-b")
    server.check("page-a")                      # another page's stop
    server.stop("page-a")
    with pytest.raises(serving.Cancelled):
        server.check("page-a")
    server.check("page-a")                      # consumed: the next job runs
    server.stop(None)                           # API calls cannot be stopped from a page
    server.check(None)
    server.close()


def test_drag_previews_get_cheaper_when_the_server_is_busy(registry, monkeypatch):
    from ganlab.ui.serve import ViewServer
    server = ViewServer(registry)
    model = registry.get("tiny-big")                                   # 512-px images
    quiet = server.render(model, {"seed": 1, "n": 4}, preview=True)
    monkeypatch.setattr(serving, "busy", lambda: serving.BUSY_PREVIEW)
    busy = server.render(model, {"seed": 1, "n": 4}, preview=True)
    full = server.render(model, {"seed": 1, "n": 4})
    assert quiet.size == (2 * views.PREVIEW_SIZE + 3,) * 2             # 2 × 2 previews of 256 px, 1-px borders
    assert busy.size == (2 * views.SMALL_PREVIEW + 3,) * 2 and full.size == (2 * 512 + 3,) * 2
    server.close()


def test_a_pages_same_action_at_once_is_a_repeat_and_another_in_between_is_not(registry):
    from ganlab.ui.serve import ViewServer
    server = ViewServer(registry)
    assert not server.repeated("page", ("pick", "a"))
    assert server.repeated("page", ("pick", "a"))                     # the dropdown's second event
    assert not server.repeated("other-page", ("pick", "a"))
    assert not server.repeated("page", ("pick", "b")) and not server.repeated("page", ("pick", "a"))   # A, B, A
    assert not server.repeated(None, ("pick", "a")) and not server.repeated(None, ("pick", "a"))      # API calls
    assert not server.repeated("page", ("pick", "a"), within=0)       # long after
    server.close()
