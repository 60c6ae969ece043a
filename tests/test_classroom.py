"""A class on one app: one event per model pick, the full image after a typed value or arrow keys, and an export
lane that never holds a short export behind a long one. The browser tests drive Chromium (see test_browser)."""
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
