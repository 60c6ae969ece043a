"""The Generate / Interpolate page in a real browser, as a new user meets it: refused input leaves the page as
it was, the session does not slow down, the About panel, grid sizes, typed slider values, model switches.

Same Chromium and skip rule as test_browser.py.
"""
import io
import shutil

import numpy as np
import pytest
from PIL import Image

from .conftest import launched_app
from .test_browser import open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHANGED_JS = "s => document.querySelector('#generated img')?.src !== s"
STORAGE_JS = "() => Object.keys(localStorage).reduce((n, k) => n + k.length + localStorage.getItem(k).length, 0)"


@pytest.fixture(scope="module")
def url(tiny_checkpoints, tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-models")
    for name in ("tiny-dcgan", "tiny-cgan", "tiny-stylegan2", "tiny-mlp"):      # tiny-mlp draws uniform z
        shutil.copytree(tiny_checkpoints / name, root / name)
    with launched_app(root) as (_, address):
        yield address


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


def image_box(page) -> tuple[float, float, float]:
    """(rendered width, rendered height, the panel's width) of the generated image, in CSS px."""
    return tuple(page.evaluate("""() => { const r = document.querySelector('#generated img').getBoundingClientRect();
        return [r.width, r.height, document.querySelector('#generated').getBoundingClientRect().width]; }"""))


def type_into(page, elem_id: str, text: str):
    """Type ``text`` into a component's number box (replacing it) and press Enter, as a user would."""
    box = number_box(page, elem_id)
    box.click()
    box.press("Control+A")
    box.type(text) if text else box.press("Backspace")
    box.press("Enter")


def test_about_this_model_is_filled_on_first_visit(url):
    with open_page(url) as page:
        wait_image(page)
        page.get_by_text("About this model").click()
        info = page.locator("#model-info")
        info.get_by_text("parameters", exact=False).wait_for()
        assert page.locator("#model-picker input").input_value().endswith(info.locator("h4").inner_text()
                                                                          .split(" · ")[0])


def test_grids_offer_only_what_works_and_fill_the_panel(url):
    with open_page(url) as page:
        wait_image(page)
        pick(page, "tiny-cgan")                                       # all classes: n × 10 images ≤ 64
        n_max = page.locator("#grid-n input[type=range]")
        page.wait_for_function("() => document.querySelector('#grid-n input[type=range]').max === '6'")
        before = page.locator("#generated img").get_attribute("src")
        type_into(page, "grid-n", "9")                                # typed beyond: the nearest end, 6 rows
        page.wait_for_function(CHANGED_JS, arg=before)
        page.get_by_text("seeds 0–5 · every class").wait_for()
        width, height, panel = image_box(page)
        assert width >= 0.95 * panel and width >= 512, (width, panel)
        assert_no_error_badge(page)
        page.locator("#class input").click()                          # one class: the full range again
        page.get_by_role("option", name="3").first.click()
        page.wait_for_function("() => document.querySelector('#grid-n input[type=range]').max === '64'")
        assert n_max.get_attribute("max") == "64"

        pick(page, "tiny-stylegan2")
        before = page.locator("#generated img").get_attribute("src")
        type_into(page, "grid-n", "64")
        page.wait_for_function(CHANGED_JS, arg=before)
        page.get_by_text("seeds 0–63").wait_for()
        page.wait_for_function("() => { const i = document.querySelector('#generated img');"
                               " return i.complete && i.naturalWidth > 0 && i.naturalWidth === i.naturalHeight; }")
        width, height, panel = image_box(page)                        # an 8 × 8 grid of 16 px images
        assert min(width, height) >= 512 and width >= 0.95 * panel, (width, height, panel)


def test_typed_values_follow_one_rule_stated_in_the_page(url):
    with open_page(url) as page:
        wait_image(page)
        pick(page, "tiny-dcgan")
        assert "nearest end" in page.locator("body").inner_text()     # the rule, stated
        before = state(page)
        seed = page.locator("#seed input")
        seed.fill("1.5")
        seed.press("Enter")                                           # refused, not rounded to 2
        page.locator(".toast-item").filter(has_text="whole number").first.wait_for()
        assert_no_error_badge(page)
        assert state(page)["image"] == before["image"]
        seed.fill("0")
        seed.press("Enter")

        type_into(page, "z0", "")                                     # an emptied slider box: nothing happens
        page.wait_for_timeout(1000)
        assert "Could not preprocess" not in page.locator("body").inner_text()
        assert_no_error_badge(page)
        assert state(page)["image"] == before["image"]

        src = page.locator("#generated img").get_attribute("src")
        type_into(page, "psi", "9")                                   # Enter: the nearest end, 1.5
        page.wait_for_function(CHANGED_JS, arg=src)
        page.get_by_text("ψ = 1.5").wait_for()
        src = page.locator("#generated img").get_attribute("src")
        page.get_by_role("button", name="Generate", exact=True).click()   # Generate: the same rule
        page.wait_for_function(CHANGED_JS, arg=src)
        assert "ψ = 1.5" in page.locator("#generated").locator("xpath=..").inner_text()
        assert number_box(page, "psi").input_value() == "1.5"
        assert_no_error_badge(page)


def test_switching_models_keeps_the_view_and_the_picker_stays_off_the_live_tab(url):
    with open_page(url) as page:
        wait_image(page)
        pick(page, "tiny-mlp")
        assert "U(−1, 1)" in page.locator("#prior").inner_text()      # the model's own prior
        seed = page.locator("#seed input")
        src = page.locator("#generated img").get_attribute("src")
        seed.fill("7")
        seed.press("Enter")
        page.wait_for_function(CHANGED_JS, arg=src)
        src = page.locator("#generated img").get_attribute("src")
        type_into(page, "grid-n", "2")
        page.wait_for_function(CHANGED_JS, arg=src)
        src = page.locator("#generated img").get_attribute("src")
        type_into(page, "psi", "0.5")
        page.wait_for_function(CHANGED_JS, arg=src)
        pick(page, "tiny-stylegan2")
        page.get_by_text("seeds 7–8").wait_for()
        assert seed.input_value() == "7" and number_box(page, "grid-n").input_value() == "2"
        assert number_box(page, "psi").input_value() == "0.5" and "ψ = 0.5" in page.locator("body").inner_text()
        assert "N(0, I)" in page.locator("#prior").inner_text()

        picker = page.locator("#model-box")
        page.get_by_role("tab", name="Live training").click()
        picker.wait_for(state="hidden")
        page.get_by_role("tab", name="Interpolate").click()
        picker.wait_for(state="visible")


def test_a_refused_walk_says_why_once_and_every_tab_explains_itself(url):
    with open_page(url) as page:
        wait_image(page)
        for tab, heading in [("Interpolate", "Interpolate: walk from one latent to the next"),
                             ("Models", "Models"), ("Generate", "Generate: what a trained generator G draws")]:
            page.get_by_role("tab", name=tab).click()
            page.get_by_role("heading", name=heading).first.wait_for()
        page.get_by_role("tab", name="Interpolate").click()
        keyframes = page.get_by_label("keyframe seeds")
        keyframes.fill("one, two")
        page.get_by_role("button", name="Interpolate and export GIF").click()
        toast = page.locator(".toast-item").filter(has_text="is not a keyframe seed")
        toast.first.wait_for()
        page.wait_for_timeout(500)
        assert toast.count() == 1
        assert_no_error_badge(page)
        assert keyframes.input_value() == "one, two"
        keyframes.fill("0, 1")
        page.get_by_role("button", name="Interpolate and export GIF").click()
        page.locator("#walk-file a[href]").first.wait_for()
        assert_no_error_badge(page)
