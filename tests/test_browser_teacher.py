"""What a teacher sees, in a real browser at a laptop's 1280x800 and a phone's 390x844 (issue 20): one model per
source in the Models tab, import failures said once beside the Import button, restoring a view or a walk from a
PNG or GIF that ganlab made.

Same Chromium and skip rule as test_browser.py.
"""
import contextlib
import shutil

import pytest

from ganlab import preload

from .conftest import free_port
from .http_fixtures import serve
from .test_browser import CHROMIUM_ARGS, TIMEOUT_MS, browser_or_skip
from .test_preload import FIXTURES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAPTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
ROW_JS = """([table, first]) => [...document.querySelectorAll(table + ' tr')]
    .map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent.trim()))
    .find(cells => cells[0] === first)"""   # a table row's cells, whether scrolled into view or not
WHEEL = "dcgan-tutorial/gan_face_generate-1.1.1-py3-none-any.whl"


@contextlib.contextmanager
def open_page(url, viewport=LAPTOP):
    """A headless Chromium page of the given window size on ``url``, closed afterwards."""
    chromium, sync_playwright = browser_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport, is_mobile=viewport is PHONE, has_touch=viewport is PHONE)
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            yield page
        finally:
            browser.close()


@contextlib.contextmanager
def app_with_preload(tiny_checkpoints, tmp, sources):
    """The app over the tiny DCGAN, with the operator's preloads ``sources(server)`` (a local http.server over
    ../shared/fixtures) converted by the real importers; yields (demo, url)."""
    from ganlab.ui import build_app, launch_kwargs

    shutil.copytree(tiny_checkpoints / "tiny-dcgan", tmp / "models" / "tiny-dcgan")
    with pytest.MonkeyPatch.context() as mp, serve(FIXTURES) as srv:
        mp.setenv("GANLAB_CACHE", str(tmp / "cache"))
        mp.setenv("GANLAB_TIMEOUT", "3")
        pre = preload.Preloader(sources(srv), preload.default_import_fn(), out_root=tmp / "imported").start()
        demo = build_app(tmp / "models", preloader=pre)
        port = free_port()
        demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                    **launch_kwargs())
        try:
            yield demo, f"http://127.0.0.1:{port}/"
        finally:
            demo.close()
            demo.ganlab.files.cleanup()


@pytest.mark.skipif(not (FIXTURES / WHEEL).is_file(), reason=f"../shared/fixtures/{WHEEL} not present")
def test_a_preloaded_catalog_file_is_that_catalog_model(tiny_checkpoints, tmp_path):
    """GANLAB_PRELOAD of the gan_face_generate wheel by URL made a model "gan_face_generate-1.1.1-py3-none-any"
    while the catalog still listed dcgan-faces as not imported (and importing it made a duplicate)."""
    with app_with_preload(tiny_checkpoints, tmp_path, lambda srv: [srv.url(WHEEL)]) as (demo, url):
        assert demo.ganlab_preloader.wait(120), demo.ganlab_preloader.status()
        with open_page(url) as page:
            page.locator("#generated img").wait_for()
            page.locator("#model-picker input").click()
            options = [o.inner_text() for o in page.get_by_role("option").all()]
            assert sum("dcgan-faces" in o for o in options) == 1 and not any("gan_face" in o for o in options)
            page.keyboard.press("Escape")
            page.get_by_role("tab", name="Models").click()
            page.wait_for_function("document.querySelector('#catalog-table')?.textContent.includes('dcgan')")
        from gradio_client import Client
        catalog_rows, _ = Client(url, verbose=False).predict(api_name="/import_status")
        row = next(r for r in catalog_rows["data"] if r[0] == "dcgan-faces")
        assert row[-1] in ("imported", "ready"), row
        info = demo.ganlab.registry.status()
        assert [s.name for s in info if "face" in s.name] == ["dcgan-faces"]
        config = next(s.config for s in info if s.name == "dcgan-faces")
        assert "DigiFace" in str(config.get("dataset")) + str(config.get("source"))   # the entry's data, not "unknown"
