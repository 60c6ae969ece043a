"""The Live training tab's image GAN (MNIST) in a real browser (Debian's Chromium through Playwright; skipped without it, as in
test_browser.py), on made-up MNIST-layout data: pick the lecture's MLP-GAN preset, Start, see the grid change,
scrub the timeline, export the GIF, and find the trained model in the model picker."""
import shutil
import time

import pytest

from ganlab import export
from ganlab.ui import IMAGE_TAB

from .conftest import launched_app
from .test_browser import open_page
from .test_imagelive import made_up_mnist

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def app_url(tiny_checkpoints, tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    shutil.copytree(tiny_checkpoints / "tiny-dcgan", models / "tiny-dcgan")
    data = made_up_mnist(tmp_path_factory.mktemp("data"), n=256, n_test=64)
    with launched_app(models, data_dir=str(data)) as (demo, url):
        yield demo, url


def grid_src(page) -> str:
    return page.locator("#live-image-grid img").get_attribute("src")


def test_the_lecture_preset_trains_live_and_exports_a_gif_and_a_model(app_url):
    demo, url = app_url
    with open_page(url) as page:
        page.get_by_role("tab", name="Live training").click()
        page.get_by_role("tab", name=IMAGE_TAB).click()
        page.locator("#live-image-preset input").click()
        page.get_by_role("option", name="MLP-GAN, the lecture's settings · MNIST").click()
        page.wait_for_function("t => document.querySelector('#live-image-status').innerText.includes(t)",
                               arg="New run with the preset's settings")
        page.get_by_role("button", name="▶ Start").click()
        page.locator("#live-image-grid img").wait_for()
        first = grid_src(page)
        page.wait_for_function("s => document.querySelector('#live-image-grid img').getAttribute('src') !== s",
                               arg=first, timeout=120_000)                 # the same latents, a new picture
        page.wait_for_function("() => document.querySelector('#live-image-status').innerText.includes('classes')")
        time.sleep(2.0)
        page.get_by_role("button", name="‖ Pause").click()
        page.wait_for_function("() => document.querySelector('#live-image-status').innerText.includes('paused')")
        status = page.locator("#live-image-status").inner_text()
        assert "MLP-GAN" in status and "steps/s" in status

        page.locator("#live-image-timeline input[type=range]").focus()     # back to the first grid
        page.keyboard.press("Home")
        page.locator("#live-image-past img[data-step='0']").wait_for()

        page.get_by_role("button", name="export GIF").click()
        link = page.locator("#live-image-file a").first
        link.wait_for()
        with page.expect_download() as download:
            link.click()
        path = download.value.path()
        settings = export.read_settings(path)
        assert settings["arch"] == "mlp" and settings["batch"] == 128 and settings["step"] > 0

        page.get_by_role("button", name="export model (joins your model picker)").click()
        page.wait_for_function("() => document.querySelector('#live-image-status').innerText.includes('Exported')")
        page.get_by_role("tab", name="Generate").click()
        picked = page.locator("#model-picker input").input_value()
        assert "live-mlp-mnist" in picked
        name = picked.split("· ")[-1]
        assert demo.ganlab.registry.get(name).family == "mlp"              # served like any model
    with open_page(url) as other:                                           # another visitor's picker lacks it
        other.locator("#model-picker input").click()
        assert other.get_by_role("option", name="live-mlp", exact=False).count() == 0
