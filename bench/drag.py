"""Does dragging a latent slider stay fast over a session? Headless Chromium on the app (bundled checkpoints).

    python bench/drag.py                      # the app as app.py launches it (ganlab.ui.launch_kwargs)
    python bench/drag.py --run-history on     # the same with Gradio's run history forced on, for comparison

A "drag" is 40 steps of the z[0] slider (arrow keys on the focused range input: one `input` event each), each
waiting until the image has changed, as a user watching the image would. It prints image updates per second
for a drag after 10 events and again after 200 events, the size of the page's localStorage after each, and
the main thread's long tasks (> 50 ms) during each drag. Target: ≥ 10 updates/s, the same after 200 events
as after 10. Gradio's run history (localStorage, rewritten on every event) made it fall to ~4 updates/s.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port  # noqa: E402
from ganlab.ui import build_app, launch_kwargs  # noqa: E402

STEPS = 40
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
LONG_TASKS_JS = """() => { window.__long = []; new PerformanceObserver(l => { for (const e of l.getEntries())
    window.__long.push(e.duration); }).observe({type: 'longtask', buffered: false}); }"""
STORAGE_JS = "() => Object.keys(localStorage).reduce((n, k) => n + k.length + localStorage.getItem(k).length, 0)"
CHANGED_JS = "s => document.querySelector('#generated img')?.src !== s"


def drag(page, key: str, steps: int = STEPS) -> tuple[float, list[float]]:
    """(image updates per second, long tasks in ms) of ``steps`` slider steps, each waited for."""
    image = page.locator("#generated img")
    page.locator("#z0 input[type=range]").focus()
    page.evaluate("() => { window.__long.length = 0; }")
    start = time.perf_counter()
    for _ in range(steps):
        before = image.get_attribute("src")
        page.keyboard.press(key)
        page.wait_for_function(CHANGED_JS, arg=before, polling="raf")
    rate = steps / (time.perf_counter() - start)
    return rate, page.evaluate("() => window.__long.slice()")


def events(page, count: int) -> None:
    """``count`` more generate events (z[1] slider steps), each waited for."""
    image = page.locator("#generated img")
    page.locator("#z1 input[type=range]").focus()
    for i in range(count):
        before = image.get_attribute("src")
        page.keyboard.press("ArrowRight" if (i // 50) % 2 == 0 else "ArrowLeft")
        page.wait_for_function(CHANGED_JS, arg=before, polling="raf")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run-history", choices=["app", "on", "off"], default="app",
                   help="Gradio's run history: as the app launches (default), or forced on / off")
    a = p.parse_args()
    from playwright.sync_api import sync_playwright

    kwargs = launch_kwargs()
    if a.run_history != "app":
        kwargs["run_history"] = a.run_history == "on"
    demo = build_app()
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **kwargs)
    print(f"run history: {kwargs.get('run_history', True)}  drag: {STEPS} steps of z[0]")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.set_default_timeout(120_000)
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator("#generated img").wait_for()
            print("model:", page.locator("#model-picker input").input_value())
            page.evaluate(LONG_TASKS_JS)
            done = 1                                              # the page load's view
            for target, key in ((10, "ArrowRight"), (200, "ArrowLeft")):
                events(page, target - done)
                rate, long_tasks = drag(page, key)
                done = target + STEPS
                print(f"after {target:3d} events: {rate:5.1f} updates/s  localStorage {page.evaluate(STORAGE_JS):,} "
                      f"chars  long tasks {len(long_tasks)} (max {max(long_tasks, default=0):.0f} ms)", flush=True)
            browser.close()
    finally:
        demo.close()
        demo.ganlab.files.cleanup()


if __name__ == "__main__":
    main()
