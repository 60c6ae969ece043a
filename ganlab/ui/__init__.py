"""ganlab's Gradio app, assembled from one module per tab: Generate, Interpolate, Models and Live training.

    from ganlab.ui import build_app
    build_app().launch()                     # or: python app.py [--host] [--port] [--share]

Models load lazily from ``models_dir`` (default: ``checkpoint.roots()``) on first use and stay cached; only real
checkpoints are served. Every event has an ``api_name`` (see the README) for gradio_client scripts.
"""
from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import gradio as gr
import torch

from ..models import FAMILIES, display_name
from ..registry import ModelRegistry
from . import generate, imports, interpolate, live_image, models
from .common import CSS, HEAD, UNPROCESSED, App, TempFiles, bind, model_choices
from .live import build_live_tab
from .serve import ViewServer

CONCURRENCY = 8              # events running at once: short requests (model work is small next to Gradio's own)
                             # interleave instead of queueing behind each other; heavy renders then wait their
                             # turn in the view server's lane (serve.py), exports in a lane of their own
QUEUE_SIZE = 64              # requests waiting beyond that are refused with "queue full"
GRADIO_CACHE = (300, 900)    # Gradio's copies of served files: swept every 5 min, kept 15 min, which bounds the
                             # disk they take under full load to about 20 min of results (bench/load.py)
TORCH_THREADS = 1            # intra-op threads of a small request: the queue runs them in parallel instead; a
                             # heavy render takes every core in its turn (ganlab.serving)
MALLOC_ARENAS = 2            # glibc malloc arenas for the app's many threads (see limit_malloc_arenas)
M_ARENA_MAX = -8             # glibc's mallopt() parameter number for it
GRADIO_ANALYTICS = {         # Gradio's per-event statistics (its monitoring page): by default it rebuilds a pandas
    "GRADIO_ANALYTICS_CACHE_FREQUENCY": "100",   # table of the last 10,000 events after every event, a CPU cost per
    "GRADIO_ANALYTICS_MAX_EVENTS": "2000",       # request that grows with the table; here every 100 events, over
}                                                # the last 2,000 (env vars win)
TOY_TAB, IMAGE_TAB = "Toy GAN (2-D points)", "Image GAN (MNIST)"   # the Live training tab's two modes

HEADER = """\
# ganlab: explore trained GANs
Pick a generator, then draw samples, drag through its latent space and export walks as GIFs. Everything you
make is downloadable, and each PNG and GIF carries the settings that made it (also shown as JSON).
"""


def build_app(models_dir: str | Path | list | None = None, torch_threads: int | None = TORCH_THREADS,
              preloader=None, device=None, data_dir: str | Path | None = None) -> gr.Blocks:
    """The app's Blocks, queued with bounded concurrency; ``models_dir``: a folder or a list of folders of
    checkpoints (default ``checkpoint.roots()``: the bundled checkpoints and the imported models).
    ``preloader``: the background importer (``preload.start_from_env()``'s, for GANLAB_PRELOAD; default an idle
    one writing into the imported-models folder) that the Models tab's Import button also uses. ``device``:
    where models compute ("auto", "cpu", "cuda", "mps"; None: $GANLAB_DEVICE or auto; see ``ganlab.device``).
    ``data_dir``: where the Live training tab's image GAN finds MNIST / Fashion-MNIST (default $GANLAB_DATA_DIR, else
    ``data``).

    Sets torch to ``torch_threads`` intra-op threads (None leaves it alone). The app's requests are small
    (a StyleGAN2 image is a few ms) and run ``CONCURRENCY`` at a time; with torch's default of one thread per
    core, concurrent requests (or any other load) make the OpenMP threads wait on each other, and a small grid
    takes many times longer (bench/app.py measures it)."""
    if torch_threads:
        torch.set_num_threads(torch_threads)
    limit_malloc_arenas()
    for name, value in GRADIO_ANALYTICS.items():     # read when the Blocks' queue is made, just below
        os.environ.setdefault(name, value)
    preloader = preloader or imports.new_preloader()
    images = live_image.new_sessions(data_dir)   # its visitors' exported models: served, listed to them only
    registry = ModelRegistry(imports.roots_with(models_dir, preloader.out_root) + [images.models_root],
                             device=device, unlisted=[images.models_root])
    app = App(registry, TempFiles(), ViewServer(registry))
    gr.set_static_paths([app.server.dir])      # the exact PNGs of large images, linked under the image
    choices = model_choices(app.registry)
    with gr.Blocks(title="ganlab", delete_cache=GRADIO_CACHE) as demo:
        gr.Markdown(HEADER)
        with gr.Column(elem_id="model-box") as model_box:      # shown on the tabs that draw from a model
            picker = gr.Dropdown(choices, value=choices[0][1] if choices else None, label="model",
                                 allow_custom_value=False, elem_id="model-picker",
                                 info="grouped by family: " + ", ".join(display_name(f) for f in FAMILIES))
            info = models.build_info_panel(app, picker)
        with gr.Tabs():
            with gr.Tab("Generate") as generate_tab:
                gen = generate.build_generate_tab(app, picker)
            with gr.Tab("Interpolate") as interpolate_tab:
                interpolate.build_interpolate_tab(app, gen)
            with gr.Tab("Models") as models_tab:
                table = models.build_models_tab(app)
                poll_timer = imports.build_imports_section(app, preloader, picker, gen)
            with gr.Tab("Live training") as live_tab, gr.Tabs():   # two modes: a phone's tab bar holds four tabs
                with gr.Tab(TOY_TAB, elem_id="live-toy-tab"):
                    live = build_live_tab()
                with gr.Tab(IMAGE_TAB, elem_id="live-image-tab") as image_tab:
                    live_image.build_live_image_tab(app, gen, images, image_tab)
        poll_timer.render()             # outside the Tabs: it ticks whichever tab the visitor is on
        for tab in (generate_tab, interpolate_tab, models_tab, live_tab):
            tab.select(lambda show=tab is not live_tab: gr.update(visible=show), None, model_box, queue=False,
                       api_visibility="private")
        demo.load(gen.page_load, picker, gen.all_outputs, api_name="page_load", **UNPROCESSED).then(
            models.info_handler(app), picker, info, api_name="page_model_info", **UNPROCESSED)
        demo.load(bind(models.model_rows, app.registry), None, table, api_name="models_on_load")
    demo.ganlab = app               # tests and the benchmark reach the registry and temp dir through this
    demo.ganlab_preloader = preloader   # the background imports (GANLAB_PRELOAD and the Import button)
    demo.ganlab_live = live         # the Live training tab's sessions
    demo.ganlab_live_image = images     # the Live training tab's image GAN's sessions
    return demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX would; an explicit MALLOC_ARENA_MAX wins). glibc gives
    busy threads arenas of their own, up to 8 per core, and each keeps the memory it once held, so the app's
    memory grows under load; with 2 arenas it grows much less and latency does not suffer (bench/load.py
    measures both). Returns whether the cap was set (False off glibc)."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas) == 1
    except (OSError, AttributeError):
        return False


def launch_kwargs() -> dict:
    """What app.py passes to launch() besides host and port: the CSS (Gradio 6 takes it at launch), and
    ``show_error`` so that input Gradio itself refuses (a string where a number belongs, an unknown choice, from
    an API client) gets Gradio's own explanation instead of a generic "error" (ganlab's messages are gr.Errors),
    and no run history: Gradio would keep every event's inputs and outputs in the browser's localStorage and
    rewrite it on every event, so that dragging a slider slowed from ~10 to ~2 image updates/s over 200 events
    (bench/drag.py). ``head``: the CSS rules Gradio's loader would drop from ``css``."""
    return {"css": CSS, "head": HEAD, "show_error": True, "run_history": False}
