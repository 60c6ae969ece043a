"""The Live training tab in a real browser (Debian's Chromium through Playwright; skipped without it, as in
test_browser.py): Reset while training shows the new run, a refused input leaves no error badge, and the drawing
canvas costs nothing while training."""
import time

import pytest

from .conftest import free_port
from .test_browser import open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def live_url():
    import gradio as gr

    from ganlab.ui.live import build_live_tab

    with gr.Blocks() as demo:
        with gr.Tab("Live training"):
            build_live_tab(max_running=2, workers=1)
    port = free_port()
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def status(page) -> str:
    return page.locator("#live-status").inner_text()


def pause(page) -> float:
    """Press Pause; the seconds until the status says so."""
    started = time.monotonic()
    page.get_by_role("button", name="‖ Pause").click()
    page.wait_for_function("() => document.querySelector('#live-status').innerText.includes('paused')")
    return time.monotonic() - started


def test_reset_or_a_network_setting_while_training_shows_the_new_run(live_url):
    with open_page(live_url) as page:
        page.get_by_role("button", name="▶ Start").click()
        page.locator("#live-frame img").first.wait_for()
        for trial in range(1, 4):
            time.sleep(1.0)
            if trial < 3:
                page.get_by_role("button", name="↺ Reset").click()
            else:                                            # a network setting restarts the run too
                page.get_by_role("button", name="Networks, optimizer").click()
                page.locator("input[type=range]").and_(page.get_by_label("G hidden layers")).focus()
                page.keyboard.press("ArrowLeft")
            page.wait_for_function("k => document.querySelector('#live-status').innerText.includes('run ' + k)",
                                   arg=trial + 1)
            time.sleep(1.0)                                  # the stream goes on with the new run
            pause(page)
            time.sleep(1.5)                                  # time for any late frame of an old stream to land
            assert f"run {trial + 1}" in status(page) and "paused" in status(page)
            assert page.locator("#live-frame img").first.get_attribute("data-run") == str(trial)
            if trial == 3:
                assert "G hidden layers changed, and that starts a new run" in status(page)
            page.get_by_role("button", name="▶ Start").click()
        pause(page)


def _error_badges(page) -> int:
    return page.locator(".wrap span.error").count()


def test_a_refused_input_shows_one_message_and_no_error_badges(live_url, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,oops\n")
    with open_page(live_url) as page:
        page.get_by_role("button", name="Your own data").click()
        page.get_by_role("button", name="train on my drawing").click()               # an empty canvas
        page.get_by_text("The drawing is empty: draw a few strokes first.").first.wait_for()
        time.sleep(1.0)
        assert _error_badges(page) == 0
        assert page.locator(".toast-body").count() == 1
        page.locator("#live-canvas").scroll_into_view_if_needed()
        page.locator("input[type=file]").set_input_files(str(bad))
        time.sleep(1.0)
        page.get_by_role("button", name="train on my CSV").click()
        page.get_by_text("line 3: 'oops' is not a number.").first.wait_for()
        time.sleep(1.0)
        assert _error_badges(page) == 0
        assert page.get_by_label("dataset").is_enabled() and page.get_by_label("dataset").input_value() == "parabola"


def _task_seconds(cdp) -> float:
    """The page's main-thread busy time so far (Chrome DevTools Protocol: Performance.getMetrics)."""
    return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")


def test_the_drawing_canvas_costs_nothing_while_training(live_url):
    """Training on a drawing costs the page what a built-in dataset costs, and Pause registers at once (with
    Gradio's WebGL Sketchpad the page sat at ~100 % of a core and Pause took seconds)."""
    with open_page(live_url) as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")

        def busy_while_training() -> float:
            """The page's main-thread busy fraction over 4 s of training, after 2 s to settle."""
            page.get_by_role("button", name="▶ Start").click()
            time.sleep(2)
            t0, busy0 = time.monotonic(), _task_seconds(cdp)
            time.sleep(4)
            return (_task_seconds(cdp) - busy0) / (time.monotonic() - t0)

        builtin = busy_while_training()
        assert pause(page) < 3
        page.get_by_role("button", name="Your own data").click()
        canvas = page.locator("#live-canvas canvas")
        box = canvas.bounding_box()
        for k in range(3):
            page.mouse.move(box["x"] + 50, box["y"] + 60 + 60 * k)
            page.mouse.down()
            for i in range(25):
                page.mouse.move(box["x"] + 50 + 12 * i, box["y"] + 60 + 60 * k + 3 * i, steps=2)
            page.mouse.up()
        page.get_by_role("button", name="train on my drawing").click()
        page.wait_for_function("() => document.querySelector('#live-status').innerText.includes('Training on your')")
        drawing = busy_while_training()
        seconds = pause(page)
        print(f"page busy while training: built-in dataset {builtin:.2f}, drawing {drawing:.2f}; pause {seconds:.2f} s")
        assert drawing < 1.6 * builtin + 0.15 and seconds < 3
