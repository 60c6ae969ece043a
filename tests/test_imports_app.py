"""Imported models in the app: the registry's memory budget (LRU), the catalog/import section of the Models tab
driven through gradio_client against a launched app (a catalog import through the configured pip index, an
operator's preload from a local http.server, a URL refused from the page), and renders of a colour StyleGAN2
(fir) model with previews."""
import json
import shutil
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab import catalog, checkpoint, export, preload, views
from ganlab.checkpoint import CheckpointError
from ganlab.registry import MB, ModelRegistry, budget_from_env, model_bytes

from .conftest import launched_app, tiny_generator
from .http_fixtures import serve, wait_import
from .made_files import catalog_wheel, nvidia_pickle

RGB32 = "stylegan2-ada/rgb32.pkl"                  # served: a 32-px colour NVIDIA-layout pickle, random weights


# -- the memory budget ----------------------------------------------------------------------------------------
@pytest.fixture
def three_models(tmp_path):
    """Three tiny checkpoints of different sizes: a (dcgan), b (stylegan2), c (mlp)."""
    for name, family in (("a", "dcgan"), ("b", "stylegan2"), ("c", "mlp")):
        checkpoint.save(tiny_generator(family), tmp_path / name, dataset="mnist")
    sizes = {n: model_bytes(checkpoint.load(str(tmp_path / n))) for n in "abc"}
    return tmp_path, sizes


def test_registry_drops_the_least_recently_used_model_to_stay_in_budget(three_models):
    root, size = three_models
    reg = ModelRegistry(root, budget=size["a"] + size["b"] + size["c"] - 1)     # any two fit, never all three
    a = reg.get("a")
    reg.get("b")
    assert list(reg.loaded()) == ["a", "b"] and reg.loaded_bytes() == size["a"] + size["b"]
    assert reg.get("a") is a                                  # a is used again: b is now the least recent
    reg.get("c")
    assert list(reg.loaded()) == ["a", "c"] and list(reg.evicted) == ["b"]
    assert reg.loaded_bytes() <= reg.budget
    assert {s.name: s.loaded for s in reg.status()} == {"a": True, "b": False, "c": True}
    reg.get("b")                                              # comes back (loaded again), a is dropped now
    assert list(reg.loaded()) == ["c", "b"] and list(reg.evicted) == ["b", "a"]
    assert torch.equal(next(reg.get("a").parameters()), next(a.parameters()))   # same weights after a reload


def test_a_model_larger_than_the_budget_is_refused_and_nothing_is_dropped(three_models):
    root, size = three_models
    reg = ModelRegistry(root, budget=max(size.values()) - 1)
    small = min(size, key=size.get)
    reg.get(small)
    big = max(size, key=size.get)
    with pytest.raises(CheckpointError, match=rf"model {big} needs .* MB of memory, more than this app's budget"):
        reg.get(big)
    assert list(reg.loaded()) == [small] and not reg.evicted


def test_default_space_preload_list():
    assert preload.parse("default") == list(preload.DEFAULT_SPACE_PRELOAD)
    assert preload.parse("dcgan-faces, DEFAULT") == ["dcgan-faces"] + [
        n for n in preload.DEFAULT_SPACE_PRELOAD if n != "dcgan-faces"]
    from ganlab import catalog
    assert all(catalog.find(n) for n in preload.DEFAULT_SPACE_PRELOAD)


def test_budget_from_env():
    assert budget_from_env({}) == 4096 * MB
    assert budget_from_env({"GANLAB_MEMORY_BUDGET_MB": "512"}) == 512 * MB
    for bad in ("0", "-5", "lots", "nan", "inf"):
        with pytest.raises(ValueError, match="GANLAB_MEMORY_BUDGET_MB must be a positive number"):
            budget_from_env({"GANLAB_MEMORY_BUDGET_MB": bad})


# -- previews and big renders (the functions behind the Generate events) --------------------------------------
def big_fir_model():
    """A 512-px colour StyleGAN2 with the official (fir, nvlabs) architecture and a few channels: big images,
    tiny weights."""
    from ganlab.models import stylegan2
    torch.manual_seed(0)
    g = stylegan2.Generator(dict(z_dim=8, w_dim=8, mapping_layers=2, channels_base=1024, channels_max=8,
                                 image_size=512, channels=3, resampling="fir", channel_rule="nvlabs")).eval()
    g.info["name"] = "big"
    return g


def test_preview_renders_the_skip_output_at_256_px_and_the_full_render_is_unchanged():
    g = big_fir_model()
    assert views.is_big(g) and views.preview_resolution(g) == views.PREVIEW_SIZE
    values = {"seed": 3, "n": 1, "truncation": 0.7}
    full, v_full = views.render_view(g, values)
    calls = []
    prev, v_prev = views.render_view(g, values, preview=True, callback=lambda d, t: calls.append((d, t)))
    assert full.shape == (512, 512, 3) and prev.shape == (256, 256, 3)
    assert v_prev == v_full and "preview" not in v_full                     # the settings describe the image
    w = g.mapping(views.latent.seed_latents([3], g.z_dim), None, 0.7)
    expect = views.to_uint8(g.synthesis(w, "const", max_resolution=256))[0]
    assert np.array_equal(prev, expect) and calls == [(1, 1)]
    # models without previews (or small ones) render the full image either way
    small = tiny_generator("progan")
    small.info["name"] = "small"
    assert views.preview_resolution(small) is None
    assert np.array_equal(views.render_view(small, values, preview=True)[0], views.render_view(small, values)[0])


def test_big_renders_go_one_image_at_a_time_with_progress():
    g = big_fir_model()
    calls = []
    views.render_view(g, {"seed": 0, "n": 3}, callback=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]                  # PIXELS_PER_BATCH: one 512-px image per batch


def test_a_big_render_reports_progress_per_image_and_a_big_walk_per_frame(tmp_path):
    from ganlab.ui.common import App, TempFiles
    from ganlab.ui.generate import render_view

    checkpoint.save(big_fir_model(), tmp_path / "big", dataset="random")
    app = App(ModelRegistry(tmp_path), TempFiles())
    seen = []
    progress = lambda value, desc=None, unit="steps": seen.append((value, desc))   # noqa: E731  (a gr.Progress)
    _, img, v = render_view(app, {"model": "big", "seed": 0, "n": 2}, progress=progress)
    assert seen == [(0, "rendering 512-px images"), ((1, 2), "rendering 512-px images"),
                    ((2, 2), "rendering 512-px images")]
    frames = []
    views.render_walk(app.registry.get("big"), {"keyframes": "0, 1", "frames": 3, "loop": False},
                      callback=lambda done, total: frames.append((done, total)))
    assert frames == [(1, 3), (2, 3), (3, 3)]                # the GIF export's progress moves per frame
    app.files.cleanup()


def test_noise_modes_come_from_the_model():
    g = tiny_generator("stylegan2")
    g.info["name"] = "s"
    with pytest.raises(ValueError, match=r"noise must be one of \['const', 'random', 'none'\]"):
        views.check_view(g, {"noise": "loud"})
    assert views.check_view(g, {"noise": "none"})["noise"] == "none"


# -- the app: imports through the page, preloads by the operator ----------------------------------------------
def test_a_preload_that_finishes_during_a_poll_still_reaches_the_picker(tmp_path):
    """The status timer's tick reads the model names, then whether imports are pending: a conversion that ends
    between the two must not switch the timer off with the picker unchanged (the model would never appear)."""
    from ganlab.ui import build_app

    checkpoint.save(tiny_generator("dcgan"), tmp_path / "models" / "tiny-dcgan", dataset="mnist")
    gate = threading.Event()

    def convert(source, out_dir, progress=None, **options):
        gate.wait(30)
        return checkpoint.save(tiny_generator("mlp"), out_dir, dataset="mnist")

    (tmp_path / "new.pt").write_bytes(b"weights")
    pre = preload.Preloader([str(tmp_path / "new.pt")], convert, out_root=tmp_path / "imported").start()
    demo = build_app(tmp_path / "models", preloader=pre)
    poll = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "poll")
    registry, available = demo.ganlab.registry, demo.ganlab.registry.available

    def names_then_the_conversion_ends():
        names = available()
        if not gate.is_set():
            gate.set()
            assert pre.wait(30)
        return names

    registry.available = names_then_the_conversion_ends
    *_, picker, shown, timer = poll(["tiny-dcgan"])             # the page offered tiny-dcgan so far
    if "choices" not in picker:                                 # not shown at this tick: the timer must tick again
        assert timer.active, "the timer stopped with the new model missing from the picker"
        *_, picker, shown, timer = poll(shown)
    assert "new" in [value for _, value in picker["choices"]] and not timer.active


gradio_client = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def imp_app(tiny_checkpoints, tmp_path_factory):
    """The app with the tiny DCGAN, a preload of an NVIDIA-layout rgb32.pkl from a local http.server (as an
    operator's GANLAB_PRELOAD would), and pip pointed at a folder holding a wheel for the catalog's dcgan-faces
    (the catalog carries that wheel's hash)."""
    from ganlab.importers import import_model  # noqa: F401  (fail here, not in the background, if it is broken)

    tmp = tmp_path_factory.mktemp("imp-app")
    shutil.copytree(tiny_checkpoints / "tiny-dcgan", tmp / "models" / "tiny-dcgan")
    checkpoint.save(big_fir_model(), tmp / "models" / "big-fir", dataset="random")   # 512 px: previews
    (tmp / "www" / "stylegan2-ada").mkdir(parents=True)
    nvidia_pickle(tmp / "www" / RGB32)
    nvidia_pickle(tmp / "www" / "stylegan2-ada" / "cond32.pkl", seed=1)
    (tmp / "index").mkdir()
    _, entry = catalog_wheel(tmp / "index")
    with pytest.MonkeyPatch.context() as mp, serve(tmp / "www") as srv:
        mp.setitem(catalog._BY_NAME, entry.name, entry)
        mp.setenv("GANLAB_CACHE", str(tmp / "cache"))
        mp.setenv("GANLAB_TIMEOUT", "3")
        mp.setenv("PIP_NO_INDEX", "1")
        mp.setenv("PIP_FIND_LINKS", str(tmp / "index"))
        pre = preload.Preloader([srv.url(RGB32)], preload.default_import_fn(), out_root=tmp / "imported").start()
        with launched_app(tmp / "models", preloader=pre) as (demo, url):
            yield demo, url, srv, tmp


def generate(client, **kw):
    path, settings, caption = client.predict(**kw, api_name="/generate")
    return np.asarray(Image.open(path)), json.loads(settings), path


@pytest.mark.slow
def test_a_preloaded_model_appears_without_restart_and_renders_colour_everywhere(imp_app):
    demo, url, srv, tmp = imp_app
    client = gradio_client.Client(url, verbose=False)     # a session of its own (select_model sets slider bounds)
    assert wait_import(client, "rgb32") == "ready"
    assert "rgb32" in demo.ganlab.registry.available()                     # listed, no restart
    img, settings, path = generate(client, model="rgb32", seed=4, n=4, truncation=0.8, pc0=1.5,
                                   mix=["fine"], mix_seed=9, noise="none")
    assert img.ndim == 3 and img.shape[2] == 3 and img.std(axis=2).mean() > 1        # colour, not grey in RGB
    assert export.read_settings(path) == settings and settings["mix"] == ["fine"]
    model = checkpoint.load(str(tmp / "imported" / "rgb32"))
    model.info["name"] = "rgb32"
    expect, _ = views.render_view(model, settings)
    assert np.array_equal(img, expect)                                     # the one path, same pixels
    # style mixing groups derive from num_ws (the controls offer this model's layers)
    out = client.predict(model="rgb32", api_name="/select_model")
    fine = f"layers {model.layer_groups()['fine'].start}–7"
    assert model.num_ws == 8 and fine in json.dumps(out, ensure_ascii=False)
    noise = next(u for u in out if isinstance(u, dict) and ["fixed", "const"] in (u.get("choices") or []))
    assert sorted(m for _, m in noise["choices"]) == sorted(model.noise_modes)       # the model's noise modes
    # an interpolation GIF of colour frames
    preview_path, gif, text, _ = client.predict(model="rgb32", seed=1, keyframes="1, 2", frames=6, fps=5, cutoff=8,
                                                api_name="/interpolate")
    with Image.open(gif) as im:
        assert im.n_frames == 6 and np.asarray(im.convert("RGB")).std(axis=2).mean() > 1
    # the About panel: licence (non-commercial said) and where it came from
    info = client.predict(name="rgb32", api_name="/model_info")
    assert "**non-commercial**" in info and "rgb32.pkl" in info and "stylegan2-ada format" in info


@pytest.mark.slow
def test_the_page_imports_a_catalog_model_and_adds_it_to_the_picker(imp_app):
    demo, url, srv, tmp = imp_app
    client = gradio_client.Client(url, verbose=False)     # a session of its own (select_model sets slider bounds)
    catalog_rows, _ = client.predict(api_name="/import_status")
    row = next(r for r in catalog_rows["data"] if r[0] == "dcgan-faces")
    assert row[4] == "not imported" and row[3].startswith("MIT")
    nc = [r for r in catalog_rows["data"] if r[0] == "stylegan2-ada-ffhq"][0]
    assert nc[3].startswith("NON-COMMERCIAL") and nc[1] == "1024×1024 colour"
    message, table, status, picker = client.predict(name="dcgan-faces", api_name="/import_model")
    assert "dcgan-faces** is ready" in message
    assert ["dcgan-faces", "catalog", "ready"] in status["data"]
    assert "dcgan-faces" in demo.ganlab.registry.available()
    assert (tmp / "imported" / "dcgan-faces" / "model.safetensors").is_file()
    img, settings, _ = generate(client, model="dcgan-faces", seed=0, n=1)
    assert img.shape[2] == 3 and settings["model"] == "dcgan-faces"
    info = client.predict(name="dcgan-faces", api_name="/model_info")
    assert "MIT (gan_face_generate" in info and "non-commercial" not in info
    # a second press finds it ready at once (nothing downloaded or converted again)
    t = time.monotonic()
    assert "is ready" in client.predict(name="dcgan-faces", api_name="/import_model")[0]
    assert time.monotonic() - t < 5


@pytest.mark.slow
def test_the_page_refuses_urls_and_paths_and_fetches_nothing(imp_app):
    demo, url, srv, tmp = imp_app
    client = gradio_client.Client(url, verbose=False)     # a session of its own (select_model sets slider bounds)
    before_requests, before_files = len(srv.requests), sorted(p.name for p in (tmp / "imported").iterdir())
    for bad in (srv.url("stylegan2-ada/cond32.pkl"), str(tmp / "www" / "stylegan2-ada" / "cond32.pkl"),
                "../../etc/passwd", "<img src=x onerror=alert(1)>"):
        with pytest.raises(gradio_client.exceptions.AppError) as e:
            client.predict(name=bad, api_name="/import_model")
        assert "only models from ganlab's catalog can be imported here" in str(e.value)
    assert len(srv.requests) == before_requests                            # the server fetched nothing
    assert sorted(p.name for p in (tmp / "imported").iterdir()) == before_files
    assert all(s["source"] != bad for s in demo.ganlab_preloader.status())


@pytest.mark.slow
def test_an_offline_catalog_import_fails_once_with_the_reason(imp_app):
    demo, url, srv, tmp = imp_app
    client = gradio_client.Client(url, verbose=False)     # a session of its own (select_model sets slider bounds)
    choices = demo.ganlab.registry.available()
    t = time.monotonic()
    failed = "importing stylegan2-ada-cifar10 failed: cannot reach"
    with pytest.raises(gradio_client.exceptions.AppError, match=failed):
        client.predict(name="stylegan2-ada-cifar10", api_name="/import_model")
    assert time.monotonic() - t < 30
    assert demo.ganlab.registry.available() == choices                    # nothing else changed
    _, status = client.predict(api_name="/import_status")
    assert any(r[0] == "stylegan2-ada-cifar10" and r[2].startswith("failed: cannot reach") for r in status["data"])


# -- a real browser: import from the catalog through the page, see the model's image ---------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_browser_imports_a_catalog_model_and_shows_its_image(imp_app):
    import io
    from urllib.parse import urljoin

    from .test_browser import open_page

    demo, url, srv, tmp = imp_app
    shutil.rmtree(tmp / "imported" / "dcgan-faces", ignore_errors=True)   # (another test may have imported it)
    (tmp / "imported" / ".preload" / "dcgan-faces.json").unlink(missing_ok=True)
    demo.ganlab_preloader.items[:] = [i for i in demo.ganlab_preloader.items if i.name != "dcgan-faces"]
    with open_page(url) as page:
        image = page.locator("#generated img")
        image.wait_for()                                                   # the first view (tiny-dcgan)
        before = image.get_attribute("src")
        page.get_by_role("tab", name="Models").click()
        page.wait_for_function("document.querySelector('#catalog-table')?.textContent.includes('NON-COMMERCIAL')")
        choice = page.locator("#import-choice input")
        choice.click()
        page.get_by_role("option", name="dcgan-faces").click()
        page.locator("#import-button").click()
        page.locator("#import-message").get_by_text("dcgan-faces is ready").wait_for()
        page.wait_for_function("document.querySelector('#model-picker input')?.value.endsWith('dcgan-faces')")
        page.get_by_role("tab", name="Generate").click()
        page.wait_for_function("s => document.querySelector('#generated img')?.src !== s", arg=before)
        response = page.request.get(urljoin(url, image.get_attribute("src")))
        assert response.ok
        img = np.asarray(Image.open(io.BytesIO(response.body())).convert("RGB"))
        assert img.std(axis=2).mean() > 1                                  # colour faces, not grey
        assert export.read_settings(io.BytesIO(response.body()))["model"] == "dcgan-faces"   # the PNG's settings


@pytest.mark.browser
@pytest.mark.slow
def test_browser_drag_shows_a_preview_and_release_the_full_image(imp_app):
    from .test_browser import open_page

    demo, url, srv, tmp = imp_app
    width = "document.querySelector('#generated img')?.naturalWidth"
    with open_page(url) as page:
        page.locator("#generated img").wait_for()
        page.locator("#model-picker input").click()
        page.get_by_role("option", name="StyleGAN2 · big-fir").click()
        page.get_by_text("512×512 px images").first.wait_for()
        page.wait_for_function(f"({width}) > 0")                           # the caption can come before the pixels
        full = page.evaluate(width)
        assert full >= 1024                                                     # a grid of 512-px images
        page.locator("#pc0 input[type=range]").scroll_into_view_if_needed()
        box = page.locator("#pc0 input[type=range]").bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] / 2, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=5)            # dragging: input events
        page.get_by_text("preview at 256 px").first.wait_for()
        assert page.evaluate(width) < full * 0.6                                # 256-px images in the grid
        page.mouse.up()                                                         # released: the full image
        page.wait_for_function(f"{width} === {full}")
        page.get_by_text("preview at 256 px").first.wait_for(state="detached")


@pytest.mark.browser
@pytest.mark.slow
def test_browser_a_preload_that_becomes_ready_joins_the_picker_without_a_reload(tiny_checkpoints, tmp_path):
    import threading

    from .test_browser import open_page

    gate, real = threading.Event(), preload.default_import_fn()

    def gated(source, out_dir, progress=None, **options):       # the conversion waits until the page is open
        gate.wait(120)
        return real(source, out_dir, progress=progress, **options)

    shutil.copytree(tiny_checkpoints / "tiny-dcgan", tmp_path / "models" / "tiny-dcgan")
    (tmp_path / "www" / "stylegan2-ada").mkdir(parents=True)
    nvidia_pickle(tmp_path / "www" / RGB32)
    with pytest.MonkeyPatch.context() as mp, serve(tmp_path / "www") as srv:
        mp.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
        pre = preload.Preloader([srv.url(RGB32)], gated, out_root=tmp_path / "imported").start()
        try:
            with launched_app(tmp_path / "models", preloader=pre) as (demo, url), open_page(url) as page:
                page.locator("#generated img").wait_for()     # the visitor stays on Generate (the Models tab,
                gate.set()                                     # never opened, is not even in the page)
                import time
                option = page.get_by_role("option", name="StyleGAN2 · rgb32")
                deadline = time.monotonic() + 90
                while True:                                    # the timer refreshes the picker: no reload
                    page.locator("#model-picker input").click()
                    page.get_by_role("option").first.wait_for(timeout=15_000)  # the list opens (slow on a loaded machine)
                    if option.count():
                        break
                    assert time.monotonic() < deadline, f"not in the picker; preloads: {pre.status()}"
                    page.keyboard.press("Escape")
                    page.locator("#model-picker input").blur()  # the list opens on focus: a focused input stays shut
                    page.wait_for_timeout(1000)
                option.click()
                page.get_by_text("32×32 px images").first.wait_for()
        finally:
            gate.set()


@pytest.mark.slow
def test_a_corrupt_catalog_download_is_refused_once_and_nothing_is_kept(tiny_checkpoints, tmp_path):
    """The pip index serves a gan_face_generate wheel with one byte changed (same size): the sha256 check refuses
    it, the page says so once, and neither the cache nor the models folder keep anything."""
    index = tmp_path / "index"
    index.mkdir()
    wheel, entry = catalog_wheel(index)
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF                                    # inside the weights: pip does not notice
    wheel.write_bytes(bytes(data))
    shutil.copytree(tiny_checkpoints / "tiny-dcgan", tmp_path / "models" / "tiny-dcgan")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(catalog._BY_NAME, entry.name, entry)               # the hash of the wheel before the change
        for k, v in {"GANLAB_CACHE": tmp_path / "cache", "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": index}.items():
            mp.setenv(k, str(v))
        pre = preload.Preloader([], preload.default_import_fn(), out_root=tmp_path / "imported")
        with launched_app(tmp_path / "models", preloader=pre) as (demo, url):
            client = gradio_client.Client(url, verbose=False)
            before = demo.ganlab.registry.available()
            with pytest.raises(gradio_client.exceptions.AppError, match="importing dcgan-faces failed: .*sha256 "
                               "mismatch .* so it was discarded"):
                client.predict(name="dcgan-faces", api_name="/import_model")
            assert demo.ganlab.registry.available() == before == ["tiny-dcgan"]
            assert not (tmp_path / "imported").exists() or not any((tmp_path / "imported").iterdir())
            kept = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.suffix in (".whl", ".tar")]
            assert kept == []
