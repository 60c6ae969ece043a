"""The Generate / Interpolate page in a real browser, as a new user meets it: refused input leaves the page as
it was, the session does not slow down, the About panel, grid sizes, typed slider values, model switches.

Same Chromium and skip rule as test_browser.py.
"""
import shutil

import pytest

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
