"""What a teacher sees, in a real browser at a laptop's 1280x800 and a phone's 390x844 (issue 20): one model per
source in the Models tab, every bundled model's figures readable in the window, import failures said once beside
the Import button, restoring a view or a walk from a PNG or GIF that ganlab made, the Live pictures on a phone.

Same Chromium and skip rule as test_browser.py.
"""
import contextlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganlab import preload
from ganlab.ui import IMAGE_TAB

from .conftest import free_port, launched_app
from .http_fixtures import serve
from .test_browser import CHROMIUM_ARGS, TIMEOUT_MS, browser_or_skip
from .importer_fixtures import FIXTURES

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAPTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
ROW_JS = """([table, first]) => [...document.querySelectorAll(table + ' [role=row]')]
    .map(row => [...row.querySelectorAll('[role=gridcell]')].map(cell => cell.textContent.trim()))
    .find(cells => cells[0] === first)"""   # a table row's cells, whether scrolled into view or not
SHOWN_JS = """e => { const r = e.getBoundingClientRect();    // on screen (not, e.g., a table's hidden sizing row)
    return r.width > 0 && r.height > 0 && e.checkVisibility({opacityProperty: true, visibilityProperty: true}); }"""
RECORD_JS = """name => {      // a model's shown values: the row (or card) that holds its name, cell by cell
    const boxes = """ + SHOWN_JS + """;
    const leaves = root => [...root.querySelectorAll('*')].filter(e => !e.children.length && boxes(e))
        .map(e => { const r = e.getBoundingClientRect();
                    return {text: e.textContent.trim(), left: r.left, right: r.right}; });
    let record = [...document.querySelectorAll('body *')]
        .find(e => !e.children.length && boxes(e) && e.textContent.trim() === name);
    while (record && leaves(record).length < 3) record = record.parentElement;
    return record ? leaves(record) : null;
}"""
CHANGED_JS = "s => document.querySelector('#generated img')?.src !== s"
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


# -- restore from a file -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_app(tiny_checkpoints, tmp_path_factory):
    root = tmp_path_factory.mktemp("teacher-models")
    for name in ("tiny-dcgan", "tiny-cgan", "tiny-mlp", "tiny-stylegan2"):
        shutil.copytree(tiny_checkpoints / name, root / name)
    with launched_app(root) as (_, address):
        yield root, address


def seed_box(page):
    return page.get_by_label("seed (0", exact=False).first


def open_file(page, elem_id: str, path):
    """Drop ``path`` on the file box ``elem_id`` as a visitor opening it does."""
    if not page.locator(f"#{elem_id}").is_visible():
        page.get_by_text("Settings (JSON): paste saved").locator("visible=true").first.click()
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))


def toasts(page, text: str) -> int:
    page.wait_for_timeout(800)
    return page.locator(".toast-item").filter(has_text=text).count()


def cli(*args):
    subprocess.run([sys.executable, "-m", "ganlab", *map(str, args)], check=True, capture_output=True, timeout=300)


def test_a_png_made_by_ganlab_brings_its_view_back_and_another_file_says_why_not(tiny_app, tmp_path):
    root, url = tiny_app
    cli("generate", "--model", root / "tiny-dcgan", "--seeds", "7", "--out", tmp_path / "cli")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "plain.png")
    with open_page(url) as page:
        image = page.locator("#generated img")
        image.wait_for()
        app_png = tmp_path / "app.png"
        app_png.write_bytes(page.request.get(image.get_attribute("src")).body())   # the app's own download
        assert seed_box(page).input_value() == "0"

        before = image.get_attribute("src")
        open_file(page, "generate-open", tmp_path / "plain.png")                       # not made by ganlab
        assert toasts(page, "carries no ganlab settings") == 1
        assert image.get_attribute("src") == before and seed_box(page).input_value() == "0"

        open_file(page, "generate-open", tmp_path / "cli" / "seed0007.png")            # made by the CLI
        page.wait_for_function("() => document.querySelector('#seed input')?.value === '7'")
        page.wait_for_function(CHANGED_JS, arg=before)

        before = image.get_attribute("src")
        open_file(page, "generate-open", app_png)                                      # made by the app
        page.wait_for_function("() => document.querySelector('#seed input')?.value === '0'")
        page.wait_for_function(CHANGED_JS, arg=before)


def test_a_gif_made_by_ganlab_brings_its_walk_back(tiny_app, tmp_path):
    root, url = tiny_app
    cli("interpolate", "--model", root / "tiny-dcgan", "--seeds", "3,5", "--frames", "4", "--size", "32",
        "--out", tmp_path / "walk.gif")
    with open_page(url) as page:
        page.locator("#generated img").wait_for()
        page.get_by_role("tab", name="Interpolate").click()
        open_file(page, "walk-open", tmp_path / "walk.gif")
        page.locator("#walk-preview img").wait_for()
        assert page.get_by_label("keyframe seeds").input_value().replace(" ", "") == "3,5"
        page.get_by_role("tab", name="Generate").click()
        open_file(page, "generate-open", tmp_path / "walk.gif")                        # a walk, in Generate
        assert toasts(page, "open it in the Interpolate tab") == 1


# -- the Models tab ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280x800", "390x844"])
def test_a_failed_import_is_said_once_beside_the_import_button(tiny_checkpoints, tmp_path, viewport):
    """Offline, a catalog import failed with a toast, a spurious second toast (unknown model) and an empty message
    under the button; a URL typed into the picker gave a red Error with a raw KeyError."""
    with app_with_preload(tiny_checkpoints, tmp_path, lambda srv: []) as (demo, url), open_page(url, viewport) as page:
        page.locator("#generated img").wait_for()
        page.get_by_role("tab", name="Models").click()
        choice, message = page.locator("#import-choice input"), page.locator("#import-message")
        choice.click()
        page.get_by_role("option", name="stylegan2-ada-cifar10").click()
        page.locator("#import-button").click()
        message.get_by_text("Importing stylegan2-ada-cifar10 failed").wait_for()
        assert "What you can do" in message.inner_text() and "local path" not in message.inner_text()
        message.scroll_into_view_if_needed()
        box, button = message.bounding_box(), page.locator("#import-button").bounding_box()
        assert 0 <= box["y"] - (button["y"] + button["height"]) < 200                 # right under the button
        assert toasts(page, "") == 0                                                    # said once: no toast
        choice.fill("https://example.org/ffhq.pkl")
        page.keyboard.press("Enter")
        page.locator("#import-button").click()
        message.get_by_text("Not imported").wait_for()
        assert toasts(page, "") == 0
        assert "KeyError" not in page.content() and not page.locator(".error").locator("visible=true").count()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280x800", "390x844"])
def test_the_catalog_fits_the_window_and_explains_its_columns(tiny_app, viewport):
    """At 1280 px the catalog's licence and status columns were cut off and its last rows scrolled away inside
    it; the download column showed an unexplained '?'."""
    _, url = tiny_app
    with open_page(url, viewport) as page:
        page.locator("#generated img").wait_for()
        page.get_by_role("tab", name="Models").click()
        table = page.locator("#catalog-table")
        table.get_by_text("dcgan-faces").wait_for()                       # the last row is on the page
        for name in ("name", "resolution", "download", "licence", "status"):
            box = table.locator("[role=columnheader]").filter(has_text=name).first.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (name, box)
        cells = page.evaluate(ROW_JS, ["#catalog-table", "stylegan2-ada-ffhq"])
        assert cells[2] == "size not published" and cells[-1] == "not imported"
        help_text = page.locator(".column-help").filter(has_text="licence").first.inner_text()
        assert all(f"{name}:" in help_text for name in ("resolution", "download", "licence", "status"))


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280x800", "390x844"])
def test_every_figure_of_every_bundled_model_is_readable_in_the_window(tiny_app, viewport):
    """On a phone the bundled-model table showed its first column only: the ten others (family to status) were
    scrolled out of the window's width. A window where they do not fit now gets a card per model."""
    from gradio_client import Client

    from ganlab.ui.models import COLUMNS

    _, url = tiny_app
    with open_page(url, viewport) as page:
        page.locator("#generated img").wait_for()
        page.get_by_role("tab", name="Models").click()
        page.get_by_text("tiny-stylegan2", exact=True).locator("visible=true").first.wait_for()
        page.get_by_role("button", name="refresh").locator("visible=true").first.click()
        rows = Client(url, verbose=False).predict(api_name="/models")["data"]      # what the table holds
        assert len(rows) == 4
        for row in rows:
            page.wait_for_function(f"([name, status]) => ({RECORD_JS})(name)?.some(c => c.text === status)",
                                   arg=[row[0], row[-1]])                 # the page has refreshed too
            shown = page.evaluate(RECORD_JS, row[0])
            assert shown, row[0]
            for value in row:
                where = [(c["left"], c["right"]) for c in shown if c["text"] == value]
                assert any(0 <= left and right <= viewport["width"] for left, right in where), (row[0], value, where)
        labels = page.evaluate("() => [...document.querySelectorAll('#models-list *')]"
                               ".filter(e => !e.children.length && (" + SHOWN_JS + ")(e)).map(e => "
                               "[e.textContent.trim(), e.getBoundingClientRect().left, "
                               "e.getBoundingClientRect().right])")
        for name in COLUMNS[1:]:            # each figure's name, in the window too (a card is headed by the model)
            assert any(t == name and 0 <= left and right <= viewport["width"] for t, left, right in labels), name
        help_text = page.locator(".column-help").filter(has_text="class acc").first.inner_text()
        assert all(f"{name}:" in help_text for name in ("parameters", "steps", "train time", "class acc", "status"))
        if viewport is LAPTOP:
            assert page.locator("#models-table").is_visible()             # a laptop keeps the table


# -- the Live pictures ------------------------------------------------------------------------------------------
PICTURES_JS = """sel => [...document.querySelectorAll(sel)].map(e => { const r = e.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, width: r.width, drawn: e.naturalWidth}; })"""


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280x800", "390x844"])
def test_the_live_toy_picture_is_readable_in_the_window(tiny_app, viewport):
    """On a phone the toy's picture (the plane and the curves, side by side in one 760-px image) shrank to 326x179
    px: its text and points at 0.43 of their drawn size. Now each panel is at least 300 px wide (stacked on a
    phone) and drawn at its own size on a laptop, as before."""
    _, url = tiny_app
    with open_page(url, viewport) as page:
        page.locator("#generated img").wait_for()
        page.get_by_role("tab", name="Live training").click()
        page.get_by_role("button", name="Step (1 iteration)").click()
        page.locator("#live-frame img").first.wait_for()
        page.wait_for_timeout(500)
        pictures = page.evaluate(PICTURES_JS, "#live-frame img")
        drawn = sum(p["drawn"] for p in pictures)
        assert drawn == 760, pictures                                     # the plane and the curves, all of them
        for p in pictures:
            assert 0 <= p["left"] and p["right"] <= viewport["width"], pictures        # in the window
            assert p["width"] >= min(300, p["drawn"]) and p["width"] >= 0.75 * p["drawn"], pictures   # readable
        if viewport is LAPTOP:                                            # as before: side by side at drawn size
            assert len({p["top"] for p in pictures}) == 1 and all(p["width"] == p["drawn"] for p in pictures)


@pytest.fixture(scope="module")
def data_app(tiny_checkpoints, tmp_path_factory, data_dir):
    """The app with MNIST (or the synthetic stand-in) for the Live training tab's image GAN."""
    root = tmp_path_factory.mktemp("teacher-data-models")
    shutil.copytree(tiny_checkpoints / "tiny-dcgan", root / "tiny-dcgan")
    with launched_app(root, data_dir=data_dir) as (_, address):
        yield address


PLOT_TEXT_JS = """() => [...document.querySelectorAll('#live-image-tab svg')].flatMap(svg => {
    const box = svg.getBoundingClientRect();
    return [...svg.querySelectorAll('text')].map(t => { const r = t.getBoundingClientRect();
        return {text: t.textContent, left: r.left, right: r.right, svgLeft: box.left, svgRight: box.right}; }); })"""


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280x800", "390x844"])
def test_the_live_image_gan_pictures_are_readable_in_the_window(data_app, viewport):
    """On a phone the class histogram's and the FD plot's titles ran past the plots' right edge and were cut."""
    with open_page(data_app, viewport) as page:
        page.locator("#generated img").wait_for()
        page.get_by_role("tab", name="Live training").click()
        page.get_by_role("tab", name=IMAGE_TAB).click()
        page.locator("#live-image-start").click()
        page.wait_for_function("() => [...document.querySelectorAll('#live-image-tab svg text')]"
                               ".some(t => t.textContent.startsWith('FD to') || t.textContent.includes('quality'))")
        page.locator("#live-image-pause").click()
        page.wait_for_timeout(1000)
        texts = page.evaluate(PLOT_TEXT_JS)
        assert any("classes of 256" in t["text"] for t in texts)
        for t in texts:                                                   # every title, axis name and tick
            assert t["svgLeft"] - 1 <= t["left"] and t["right"] <= t["svgRight"] + 1, t
            assert 0 <= t["left"] and t["right"] <= viewport["width"], t
        [grid] = page.evaluate(PICTURES_JS, "#live-image-grid img")
        assert 0 <= grid["left"] and grid["right"] <= viewport["width"] and grid["width"] >= grid["drawn"], grid


# -- the small things ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280x800", "390x844"])
def test_the_small_things_a_teacher_noticed(tiny_app, viewport):
    from .test_browser_app import number_box, pick

    _, url = tiny_app
    with open_page(url, viewport) as page:
        image = page.locator("#generated img")
        image.wait_for()
        pick(page, "tiny-cgan")                                         # all classes: 6 rows of 10 at most
        page.wait_for_function("() => document.querySelector('#grid-n input[type=range]').max === '6'")
        box = number_box(page, "grid-n")
        box.fill("16")
        box.press("Enter")
        page.wait_for_function("() => document.querySelector('#grid-n input[type=number]').value === '6'")
        page.get_by_text("seeds 0–5 · every class").wait_for()
        toolbar = page.locator("#generated .icon-button-wrapper").bounding_box()
        picture = image.bounding_box()
        assert toolbar["y"] + toolbar["height"] <= picture["y"] + 1      # the toolbar is above the first row

        pick(page, "tiny-mlp")                                          # a uniform prior
        prior = page.locator("#prior").inner_text()
        assert "^" not in prior and "U(−1, 1)" in prior

        pick(page, "tiny-stylegan2")
        page.get_by_label("coarse", exact=False).first.check()
        page.get_by_text("style mixing: the coarse layers from seed 1").wait_for()   # the caption says it

        page.get_by_role("tab", name="Live training").click()
        assert page.get_by_role("button", name="‖ Pause").is_visible()   # no ⏸: an empty box in many fonts
        page.locator("#live-status").wait_for()
        dataset = page.get_by_label("dataset").first
        dataset.click()
        page.get_by_role("option", name="ring").click()
        page.wait_for_function("() => document.querySelector('#live-status').innerText.includes('dataset changed')")
        assert "network setting" not in page.locator("#live-status").inner_text()

        page.get_by_role("tab", name=IMAGE_TAB).click()                  # the Live tab's second mode, on a phone too
        assert page.get_by_role("button", name="‖ Pause").last.is_visible()
        text, arrow = (page.locator(f"#live-image-preset {e}").bounding_box() for e in ("input", ".icon-wrap"))
        padding = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#live-image-preset "
                                "input')).paddingRight)")
        assert text["x"] + text["width"] - padding <= arrow["x"] + 1     # the preset's name ends before the arrow


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280x800", "390x844"])
def test_the_image_and_the_sliders_that_move_it_are_seen_together(tiny_app, viewport):
    """At 1280x800 the image and the principal-direction sliders were never on screen together; on a phone the
    image was about 1,300 px above the sliders."""
    _, url = tiny_app
    with open_page(url, viewport) as page:
        page.locator("#generated img").wait_for()
        for slider in ("z0", "z7", "pc0", "pc7"):
            page.locator(f"#{slider}").scroll_into_view_if_needed()
            page.wait_for_timeout(200)
            image, handle = (page.locator(e).bounding_box() for e in ("#generated img", f"#{slider} input[type=range]"))
            height = viewport["height"]
            assert 0 <= image["y"] and image["y"] + image["height"] <= height, (slider, image)   # the whole image
            assert 0 <= handle["y"] and handle["y"] + handle["height"] <= height, (slider, handle)
            assert handle["y"] >= image["y"] + image["height"] or handle["x"] >= image["x"] + image["width"] or \
                handle["x"] + handle["width"] <= image["x"]                                        # not under it
        before = page.locator("#generated img").get_attribute("src")
        page.locator("#pc7 input[type=range]").focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(CHANGED_JS, arg=before)                   # and it moves the image in view
