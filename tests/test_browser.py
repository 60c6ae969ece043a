"""A real browser on the app: load the page, drag a latent slider and see the image change, export a GIF.

Uses Debian's Chromium through Playwright (Playwright's own browser downloads cannot work here). Without
Chromium the test skips, unless GANLAB_REQUIRE_BROWSER=1 (CI), where it fails.
"""
import contextlib
import io
import os
import shutil
from urllib.parse import urljoin

import pytest
from PIL import Image

from .conftest import launched_app

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
TIMEOUT_MS = 90_000            # generous: background training jobs may slow this machine down a lot


def browser_or_skip():
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if chromium and sync_playwright:
        return chromium, sync_playwright
    reason = "no chromium on PATH" if not chromium else "playwright is not installed"
    if os.environ.get("GANLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"GANLAB_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def open_page(url):
    """A headless Chromium page on ``url``, closed afterwards."""
    chromium, sync_playwright = browser_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            yield page
        finally:
            browser.close()


@pytest.fixture
def url(tiny_checkpoints, tmp_path):
    shutil.copytree(tiny_checkpoints / "tiny-dcgan", tmp_path / "tiny-dcgan")
    with launched_app(tmp_path) as (_, address):
        yield address


@pytest.mark.browser
@pytest.mark.slow
def test_slider_moves_the_image_and_the_gif_exports(url):
    with open_page(url) as page:

        def fetch(src: str) -> Image.Image:
            response = page.request.get(urljoin(url, src))
            assert response.ok, src
            return Image.open(io.BytesIO(response.body()))

        image = page.locator("#generated img")
        image.wait_for()                                      # the page load draws the first view
        before = image.get_attribute("src")
        page.locator("#z0 input[type=range]").focus()
        page.keyboard.press("End")                            # drag z[0] to its end: an input event
        page.wait_for_function("s => document.querySelector('#generated img')?.src !== s", arg=before)
        after = image.get_attribute("src")
        assert fetch(before).tobytes() != fetch(after).tobytes()

        page.get_by_role("tab", name="Interpolate").click()
        page.get_by_role("button", name="Interpolate and export GIF").click()
        link = page.locator("#walk-file a[href]").first
        link.wait_for()
        gif = fetch(link.get_attribute("href"))
        assert gif.format == "GIF" and gif.is_animated and gif.n_frames == 60
        assert '"keyframes"' in gif.info["comment"].decode()


@pytest.mark.browser
@pytest.mark.slow
def test_live_training_picture_changes_in_the_browser(url):
    with open_page(url) as page:
        page.get_by_role("tab", name="Live training").click()
        page.get_by_role("button", name="▶ Start").click()
        first = page.locator("#live-frame img").first
        first.wait_for()
        src = first.get_attribute("src")
        # a later frame of the same run is a different picture
        page.wait_for_function("s => { const i = document.querySelector('#live-frame img');"
                               " return i && i.getAttribute('src') !== s; }", arg=src)
        page.get_by_role("button", name="‖ Pause").click()
