"""Benchmark of the Gradio app on the bundled checkpoints (whatever `ganlab.list_models()` finds). Loopback only.

    python bench/app.py                       # prints its figures; a few minutes on a busy 2-core machine
    python bench/app.py --screenshots assets  # instead: README screenshots and GIFs with headless Chromium

1. per-image generation time (p50, batch 1) of every model: the network alone, and the app's whole view
   (latents, render, crisp upscale, PNG with its settings);
2. the `generate` round trip through gradio_client next to a trivial Gradio endpoint, alternating, same run
   (target ≤ 1.3× the trivial one);
3. a 60-frame 256-px GIF export, in process and through `interpolate` (target ≤ 1.5 s);
4. app start to first response (`python app.py` until GET / answers) against a trivial Gradio app that
   imports torch (target ≤ 1.3×), and the app's RSS with every model loaded.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from urllib.parse import urljoin
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from gradio_client import Client  # noqa: E402

from bench.common import free_port, rss_bytes, wait_for  # noqa: E402
from ganlab import export, latent  # noqa: E402
from ganlab.toy.gif import save_gif  # noqa: E402  (one shared palette: a UI's GIF stays small)
from ganlab.ui import build_app, launch_kwargs  # noqa: E402
from ganlab.ui import generate as gen_tab  # noqa: E402
from ganlab.ui import interpolate as walk_tab  # noqa: E402

REPEATS = 30               # timed calls per figure (after warm-up)
START_RUNS = 3             # cold starts of each app (alternating)
TRIVIAL_APP = """
import sys, torch, gradio as gr
with gr.Blocks() as demo:
    gr.Textbox(label="echo")
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]))
"""


def p50(fn, repeats: int = REPEATS, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def per_image(demo, names) -> None:
    print("1. per-image generation time, p50 of", REPEATS, "(batch 1)")
    app = demo.ganlab
    for name in names:
        model = app.registry.get(name)
        z = latent.seed_latents([0], model.z_dim, model.latent_dist)
        labels = [0] if model.num_classes else None
        with torch.no_grad():
            net = p50(lambda: model.generate(z, labels))
        values = {"model": name, "seed": 0, "n": 1, "label": "0"}

        def view():
            _, img, v = gen_tab.render_view(app, values)
            export.save_png(app.files.path("bench", ".png"), img, v)
        print(f"   {name:22s} network {ms(net)}   app view (render + upscale + PNG) {ms(p50(view))}")


def round_trip(url: str, name: str) -> None:
    print("2. round trip through gradio_client, p50 of", REPEATS, "alternating calls")
    with gr.Blocks() as trivial:
        box = gr.Textbox()
        gr.Button().click(lambda s: s, box, box, api_name="echo")
    port = free_port()
    trivial.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        for download in (False, True):
            app_client = Client(url, verbose=False, download_files=tempfile.gettempdir() if download else False)
            echo_client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            calls = {"trivial": lambda: echo_client.predict("x", api_name="/echo"),
                     "generate": lambda: app_client.predict(model=name, seed=0, n=1, api_name="/generate")}
            for fn in calls.values():
                fn(), fn()
            times = {k: [] for k in calls}
            for _ in range(REPEATS):
                for k, fn in calls.items():
                    t = time.perf_counter()
                    fn()
                    times[k].append(time.perf_counter() - t)
            a, b = statistics.median(times["generate"]), statistics.median(times["trivial"])
            how = "and downloading the PNG" if download else "(result as a URL, as the page gets it)"
            print(f"   generate {name} {how}: {ms(a)}   trivial endpoint {ms(b)}   ratio {a / b:.2f} (target ≤ 1.3)")
    finally:
        trivial.close()


def gif_export(demo, url: str, names) -> None:
    print("3. 60-frame GIF export (target ≤ 1.5 s)")
    app = demo.ganlab
    for name in names:
        values = {"model": name, "keyframes": "0, 1, 2", "frames": 60, "fps": 10, "label": "0"}

        def export_once():
            frames, s = walk_tab.render_walk(app, values)
            export.save_gif(app.files.path("bench", ".gif"), frames, 10, s)
            return frames
        side = export_once().shape[1]
        print(f"   {name:22s} in process {ms(p50(export_once, repeats=5, warmup=0))}  ({side} px frames)")
    client = Client(url, verbose=False, download_files=False)
    t = p50(lambda: client.predict(model=names[0], keyframes="0, 1, 2", frames=60, fps=10, label="0",
                                   api_name="/interpolate"), repeats=5, warmup=1)
    print(f"   {names[0]:22s} through /interpolate {ms(t)}")


def start_times(names) -> None:
    print(f"4. start to first response (GET /), median of {START_RUNS} alternating cold starts")
    trivial = Path(tempfile.mkdtemp()) / "trivial_app.py"
    trivial.write_text(TRIVIAL_APP)
    times: dict[str, list[float]] = {"trivial": [], "app": []}
    rss = trivial_rss = 0
    for run in range(START_RUNS):
        for kind in ("trivial", "app"):
            port = free_port()
            cmd = ([sys.executable, str(trivial), str(port)] if kind == "trivial" else
                   [sys.executable, str(ROOT / "app.py"), "--port", str(port)])
            t = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for(f"http://127.0.0.1:{port}/", proc)
                times[kind].append(time.perf_counter() - t)
                if kind == "trivial" and run == START_RUNS - 1:
                    trivial_rss = rss_bytes(proc.pid)
                if kind == "app" and run == START_RUNS - 1:
                    client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
                    t = time.perf_counter()
                    client.predict(model=names[0], seed=0, n=1, api_name="/generate")
                    first = time.perf_counter() - t
                    for name in names:
                        client.predict(model=name, seed=0, n=1, api_name="/generate")
                        client.predict(model=name, seed=0, n=1, pc0=1.0, api_name="/generate")  # directions too
                    rss = rss_bytes(proc.pid)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    a, b = statistics.median(times["app"]), statistics.median(times["trivial"])
    print(f"   app {a:.2f} s   trivial app importing torch {b:.2f} s   ratio {a / b:.2f} (target ≤ 1.3)")
    print(f"   then the first /generate (loads {names[0]} lazily): {ms(first)}")
    print(f"5. RSS of the app with every model loaded ({len(names)}): {rss / 2**20:.0f} MiB "
          f"(the trivial torch + Gradio app: {trivial_rss / 2**20:.0f} MiB)")
    shutil.rmtree(trivial.parent, ignore_errors=True)


PHONE = {"width": 390, "height": 844}      # the README's phone screenshots
SCREENSHOT_COLOURS = 256                   # README screenshots are stored with this many colours (a few 100 KB)
SLIDERS_GIF = dict(width=480, max_frames=40, fps=8)   # the slider-drag GIF (the sliders and the image): < 1 MB


def save_png(image, path: Path) -> None:
    """A screenshot (PNG bytes or a PIL image) as a palette PNG: a UI's flat colours survive 256 of them and the
    file is a fraction of the size."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(image)) if isinstance(image, bytes) else image
    image.convert("RGB").quantize(SCREENSHOT_COLOURS, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)


def to_top(page, selector: str, margin: int = 48) -> None:
    """Scroll ``selector`` to the top of the window, ``margin`` px below its edge."""
    page.evaluate("([s, m]) => { document.querySelector(s).scrollIntoView({block: 'start'}); window.scrollBy(0, -m); }",
                  [selector, margin])


def screenshots(out: Path) -> None:
    """README screenshots and GIFs at 1280 px (Generate, Interpolate, Models, Live training; a slider drag beside
    the image it moves, an exported walk, a live-training run) and on a 390x844 phone (the Models tab's cards,
    the Live picture's panels stacked)."""
    import io

    import imageio.v3 as iio
    from PIL import Image
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    demo = build_app()
    names = demo.ganlab.registry.available()
    cond = next((n for n in names if n.startswith("cgan")), None)
    style = next((n for n in names if n.startswith("stylegan")), names[0])
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch_kwargs())
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(180_000)
        page.goto(url)
        image = page.locator("#generated img")
        image.wait_for()

        def pick(name):
            before = image.get_attribute("src")
            page.locator("#model-picker input").click()
            page.get_by_role("option", name=re.compile(rf"· {re.escape(name)}$")).click()
            page.wait_for_function("s => document.querySelector('#generated img')?.src !== s", arg=before)
            time.sleep(1)

        if cond:
            pick(cond)
            save_png(page.screenshot(full_page=True), out / "app-generate-classes.png")
        pick(style)
        save_png(page.screenshot(full_page=True), out / "app-generate.png")
        frames = []                    # drag PC 1 step by step: the sliders and the image they move, side by side
        page.locator("#pc0").scroll_into_view_if_needed()
        time.sleep(0.5)
        sliders, picture = (page.locator(e).bounding_box() for e in ("#pc0", "#image-column"))
        left, bottom = sliders["x"] - 8, max(picture["y"] + picture["height"], sliders["y"] + sliders["height"])
        box = {"x": left, "y": 0, "width": picture["x"] + picture["width"] + 8 - left, "height": bottom + 8}
        page.locator("#pc0 input[type=range]").focus()
        for key in ["ArrowRight"] * 15 + ["ArrowLeft"] * 30 + ["ArrowRight"] * 15:
            before = image.get_attribute("src")
            for _ in range(2):
                page.keyboard.press(key)
            page.wait_for_function("s => document.querySelector('#generated img')?.src !== s", arg=before)
            time.sleep(0.2)
            frames.append(Image.open(io.BytesIO(page.screenshot(clip=box))))
        save_gif(frames, out / "app-sliders.gif", **SLIDERS_GIF)
        page.evaluate("window.scrollTo(0, 0)")
        page.get_by_role("tab", name="Interpolate").click()
        page.get_by_role("button", name="Interpolate and export GIF").click()
        link = page.locator("#walk-file a[href]").first
        link.wait_for()
        time.sleep(1)
        save_png(page.screenshot(full_page=True), out / "app-interpolate.png")
        gif = page.request.get(urljoin(url, link.get_attribute("href")))
        (out / "walk.gif").write_bytes(gif.body())
        page.get_by_role("tab", name="Models").click()
        time.sleep(1)
        save_png(page.screenshot(full_page=True), out / "app-models.png")
        page.get_by_role("tab", name="Live training").click()   # the parabola, trained live for 8 s
        page.get_by_role("button", name="▶ Start").click()
        page.locator("#live-frame img").first.wait_for()
        time.sleep(8)
        page.get_by_role("button", name="‖ Pause").click()
        time.sleep(1)
        save_png(page.screenshot(full_page=True), out / "app-live.png")
        page.get_by_role("button", name="export GIF").click()
        link = page.locator("a[href$='.gif']").last
        link.wait_for()
        gif = page.request.get(urljoin(url, link.get_attribute("href")))
        live = iio.imread(gif.body(), extension=".gif")        # the tab's export, at most 50 of its frames
        save_gif(list(live), out / "live-training.gif", fps=8, width=live.shape[2], max_frames=50)

        phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)   # a phone: two screens side by side
        phone.set_default_timeout(180_000)
        phone.goto(url)
        phone.locator("#generated img").wait_for()
        phone.get_by_role("tab", name="Models").click()
        phone.locator("#models-cards .model-card").first.wait_for()
        to_top(phone, "#models-cards")
        time.sleep(1)
        screens = [phone.screenshot()]
        phone.get_by_role("tab", name="Live training").click()
        phone.get_by_role("button", name="▶ Start").click()
        phone.locator("#live-frame img").first.wait_for()
        time.sleep(6)
        phone.get_by_role("button", name="‖ Pause").click()
        to_top(phone, "#live-frame")
        time.sleep(1)
        screens.append(phone.screenshot())
        screens = [Image.open(io.BytesIO(s)).convert("RGB") for s in screens]
        gap = 24
        both = Image.new("RGB", (sum(s.width for s in screens) + gap, screens[0].height), (255, 255, 255))
        both.paste(screens[0], (0, 0))
        both.paste(screens[1], (screens[0].width + gap, 0))
        save_png(both, out / "app-phone.png")
        browser.close()
    demo.close()
    print("wrote", ", ".join(f"{p.name} ({p.stat().st_size // 1024} KB)" for p in sorted(out.iterdir())
                             if p.name.startswith(("app-", "walk", "live-training"))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--screenshots", type=Path, help="write README screenshots and GIFs to this folder instead")
    a = ap.parse_args()
    if a.screenshots:
        return screenshots(a.screenshots)
    demo = build_app()
    names = demo.ganlab.registry.load_all()
    print(f"ganlab app benchmark · torch {torch.__version__} · {torch.get_num_threads()} threads · "
          f"{os.cpu_count()} CPUs · load average {os.getloadavg()[0]:.1f} · models: {', '.join(names) or 'none'}")
    if not names:
        print("no trained model in checkpoints/ yet: nothing to measure.")
        return
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch_kwargs())
    url = f"http://127.0.0.1:{port}/"
    try:
        per_image(demo, names)
        round_trip(url, names[0])
        gif_export(demo, url, names)
    finally:
        demo.close()
        demo.ganlab.files.cleanup()
    start_times(names)


if __name__ == "__main__":
    main()
