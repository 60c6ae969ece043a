"""The Generate / Interpolate page in a real browser, as a new user meets it: refused input leaves the page as
it was, the session does not slow down, the About panel, grid sizes, typed slider values, model switches.

Same Chromium and skip rule as test_browser.py.
"""
import io
import shutil

import numpy as np
import pytest
from PIL import Image

from .conftest import free_port
from .test_browser import open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHANGED_JS = "s => document.querySelector('#generated img')?.src !== s"
STORAGE_JS = "() => Object.keys(localStorage).reduce((n, k) => n + k.length + localStorage.getItem(k).length, 0)"


@pytest.fixture(scope="module")
def url(tiny_checkpoints, tmp_path_factory):
    from ganlab.ui import build_app, launch_kwargs

    root = tmp_path_factory.mktemp("browser-models")
    for name in ("tiny-dcgan", "tiny-cgan", "tiny-stylegan2", "tiny-mlp"):      # tiny-mlp draws uniform z
        shutil.copytree(tiny_checkpoints / name, root / name)
    demo = build_app(root)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch_kwargs())
    yield f"http://127.0.0.1:{port}/"
    demo.close()
    demo.ganlab.files.cleanup()


def step_slider(page, elem_id: str, key: str = "ArrowRight"):
    """One keyboard step of a latent slider, waited for until the image has changed."""
    before = page.locator("#generated img").get_attribute("src")
    page.locator(f"#{elem_id} input[type=range]").focus()
    page.keyboard.press(key)
    page.wait_for_function(CHANGED_JS, arg=before)


def test_the_session_keeps_no_run_history(url):
    """Gradio's run history rewrote localStorage on every event (600 kB after 10 slider steps), and slider drags
    slowed down over a session (bench/drag.py measures the drag rate)."""
    with open_page(url) as page:
        page.locator("#generated img").wait_for()
        for _ in range(5):
            step_slider(page, "z0")
        assert page.evaluate(STORAGE_JS) == 0


ERROR_BADGES = "[data-testid='status-tracker'] .error, .wrap .error"


def wait_image(page):
    page.locator("#generated img").wait_for()
    page.wait_for_function("() => document.querySelector('#generated img')?.src")
    return page.locator("#generated img").get_attribute("src")


def pick(page, name: str):
    before = page.locator("#generated img").get_attribute("src")
    page.locator("#model-picker input").click()
    page.get_by_role("option", name=f"· {name}", exact=False).first.click()
    page.wait_for_function(CHANGED_JS, arg=before)


def number_box(page, elem_id: str):
    return page.locator(f"#{elem_id} input[type=number]")


def state(page) -> dict:
    """What the user sees in the main controls (the image's pixels: a redraw of the same view is a new file)."""
    src = page.locator("#generated img").get_attribute("src")
    return {"image": np.asarray(Image.open(io.BytesIO(page.request.get(src).body()))).tobytes(),
            "seed": page.get_by_label("seed (0", exact=False).first.input_value(),
            "z0": number_box(page, "z0").input_value(),
            "model": page.locator("#model-picker input").input_value()}


def assert_no_error_badge(page):
    badges = [b for b in page.locator(ERROR_BADGES).all() if b.is_visible()]
    assert not badges, [b.inner_text() for b in badges]


def test_a_refused_restore_changes_nothing_and_says_why_once(url):
    with open_page(url) as page:
        wait_image(page)
        step_slider(page, "z0")
        before = state(page)
        page.get_by_text("Settings (JSON): paste saved settings").first.click()
        editor = page.locator("#generate-settings .cm-content")
        editor.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("{not json")
        page.locator("#generate-settings").locator("xpath=..").get_by_role("button", name="restore").click()
        toast = page.locator(".toast-item").filter(has_text="not valid JSON")
        toast.first.wait_for()
        page.wait_for_timeout(500)
        assert toast.count() == 1
        assert_no_error_badge(page)
        assert state(page) == before                                  # every control as it was
        assert "{not json" in editor.inner_text()                     # the pasted text stays, to be fixed
        step_slider(page, "z0")                                       # and the page keeps working
        assert_no_error_badge(page)


def test_the_model_picker_takes_no_free_text(url):
    with open_page(url) as page:
        wait_image(page)
        before = state(page)
        box = page.locator("#model-picker input")
        box.click()
        box.fill("no-such-model")
        box.press("Enter")
        page.locator("#prior").click()                                # blur
        page.wait_for_timeout(1000)
        assert_no_error_badge(page)
        assert state(page) == before
