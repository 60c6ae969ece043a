"""A class on one app: one event per model pick, the full image after a typed value or arrow keys, an export
lane that never holds a short export behind a long one, and a walk's stop button that stops the server's render.
The browser tests drive Chromium (see test_browser)."""
import shutil
import threading
import time

import pytest
from gradio_client import Client

from ganlab import checkpoint, views
from ganlab.ui import generate as gen_tab

from .conftest import launched_app, tiny_generator
from .test_browser import open_page

CHANGED_JS = "s => document.querySelector('#generated img')?.src !== s"
WIDTH_JS = "w => document.querySelector('#generated img')?.naturalWidth === w"


@pytest.fixture
def two_models(tiny_checkpoints, tmp_path):
    for name in ("tiny-dcgan", "tiny-mlp"):
        shutil.copytree(tiny_checkpoints / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def big_model(tmp_path):
    """A 512-px StyleGAN2 of a few thousand parameters: large enough for previews, quick to render."""
    checkpoint.save(tiny_generator("stylegan2", image_size=512, channels_base=64, channels_max=8),
                    tmp_path / "tiny-big", dataset="mnist", training={"steps": 0})
    return tmp_path


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("how", ["mouse", "keyboard"])
def test_picking_a_model_renders_it_once(two_models, monkeypatch, how):
    calls = []
    real = gen_tab.switched_view
    monkeypatch.setattr(gen_tab, "switched_view", lambda model, values: calls.append(model) or real(model, values))
    with launched_app(two_models) as (_, url), open_page(url) as page:
        image = page.locator("#generated img")
        image.wait_for()
        time.sleep(1)
        calls.clear()                                            # the page load's own view
        before = image.get_attribute("src")
        if how == "mouse":                                       # the dropdown sends two events for this
            page.locator("#model-picker input").click()
            page.get_by_role("option", name="· tiny-dcgan").click()
        else:
            page.locator("#model-picker input").focus()
            page.keyboard.press("Control+a")
            page.keyboard.type("dcgan")
            page.keyboard.press("Enter")
        page.wait_for_function(CHANGED_JS, arg=before)
        time.sleep(2)                                            # a second event would have arrived by now
        assert len(calls) == 1


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("how", ["typed", "arrow keys"])
def test_a_value_typed_or_moved_by_keys_ends_with_the_full_image(big_model, how):
    with launched_app(big_model) as (_, url), open_page(url) as page:
        image = page.locator("#generated img")
        image.wait_for()
        page.wait_for_function("() => document.querySelector('#generated img')?.naturalWidth > 0")
        full = page.evaluate("() => document.querySelector('#generated img').naturalWidth")   # the page load's
        assert full > 1000                                       # 2 × 2 images of 512 px (a preview: 2 × 256)
        before = image.get_attribute("src")
        if how == "typed":
            page.locator("#z0 input[type=number]").fill("1.5")   # input events only; the box keeps the focus
        else:
            page.locator("#z0 input[type=range]").focus()
            for _ in range(3):
                page.keyboard.press("ArrowRight")                # input events only: no pointer, no release
        page.wait_for_function(CHANGED_JS, arg=before)
        page.wait_for_function(WIDTH_JS, arg=full)               # the full image follows the preview
        time.sleep(3)                                            # and no late preview replaces it
        assert page.evaluate("() => document.querySelector('#generated img').naturalWidth") == full


@pytest.mark.slow
def test_a_long_export_never_holds_up_a_short_one(big_model, tiny_checkpoints, monkeypatch):
    """Two exports at once: the large model's walk (held back here until the short one is done) and a small
    model's GIF, which must not wait for it (one export at a time for the whole server made it wait)."""
    shutil.copytree(tiny_checkpoints / "tiny-dcgan", big_model / "tiny-dcgan")
    release, started = threading.Event(), threading.Event()
    real = views.render_walk

    def held(model, values, *args, **kwargs):
        if model.image_size == 512:
            started.set()
            release.wait(120)
        return real(model, values, *args, **kwargs)
    monkeypatch.setattr(views, "render_walk", held)
    with launched_app(big_model) as (_, url):
        long_result = {}

        def long_export():
            long_result["out"] = Client(url, verbose=False).predict(model="tiny-big", keyframes="0, 1", frames=4,
                                                                    api_name="/interpolate")
        t = threading.Thread(target=long_export)
        t.start()
        try:
            assert started.wait(60)
            start = time.perf_counter()
            short = Client(url, verbose=False).predict(model="tiny-dcgan", keyframes="0, 1, 2", frames=60,
                                                       api_name="/interpolate")
            assert short[0].endswith(".gif") and time.perf_counter() - start < 30
            assert "out" not in long_result                      # the long one is still running
        finally:
            release.set()
            t.join(120)
        assert long_result["out"][0].endswith(".gif")


@pytest.mark.browser
@pytest.mark.slow
def test_stop_ends_a_running_walk_in_the_server_and_the_page_walks_again(big_model, monkeypatch):
    """A long walk (each frame held back here), stop pressed: the server's render ends at its next frame (not
    after the remaining frames), and the page exports the next walk."""
    real = views.render_codes
    slow, frames, ended = threading.Event(), [], []

    def held(model, codes, *args, callback=None, **kwargs):
        if len(codes) < 60:                                      # a view (the page load's), not the walk
            return real(model, codes, *args, callback=callback, **kwargs)

        def step(done, total):
            frames.append(done)
            if slow.is_set():
                time.sleep(0.25)                                 # 60 frames: 15 s
            callback(done, total)
        try:
            return real(model, codes, *args, callback=step if callback else None, **kwargs)
        finally:
            ended.append(time.monotonic())
    monkeypatch.setattr(views, "render_codes", held)
    slow.set()
    with launched_app(big_model) as (_, url), open_page(url) as page:
        page.locator("#generated img").wait_for()
        page.get_by_role("tab", name="Interpolate").click()
        page.get_by_role("button", name="Interpolate and export GIF").click()
        deadline = time.monotonic() + 60
        while len(frames) < 3 and time.monotonic() < deadline:   # the walk is under way
            time.sleep(0.05)
        assert len(frames) >= 3 and not ended
        page.locator("#walk-stop").click()
        stopped = time.monotonic()
        while not ended and time.monotonic() < stopped + 10:
            time.sleep(0.05)
        assert ended and ended[0] - stopped < 5, "the render went on after stop"   # the rest: 14 s more
        assert len(frames) < 30                                  # of 60
        assert page.locator("#walk-file a[href]").count() == 0   # no GIF of the stopped walk
        slow.clear()
        frames.clear()
        page.get_by_role("button", name="Interpolate and export GIF").click()
        page.locator("#walk-file a[href]").first.wait_for()      # the next walk runs to its GIF
        assert frames[-1] == 60
