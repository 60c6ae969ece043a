"""The Interpolate tab: a walk through keyframes (seeds, or the Generate tab's current view), or for conditional
models through classes, previewed in the page and exported as a GIF that carries its settings."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .. import export, serving, views
from ..models import CheckpointError
from . import generate, serve
from .common import UNPROCESSED, App, bind, friendly, nearest_in_range, opened_settings, parse_settings, to_json
from .serve import session_of_page

OWN_KEYS, KEYS, DEFAULTS = views.WALK_OWN_KEYS, views.WALK_KEYS, views.WALK_DEFAULTS
EXPORTS = 4                  # exports running at once; a long one (a large model's walk) waits in the view
                             # server's export lane instead, so a short one never waits behind it
MODES = [("between latents", "latent"), ("between classes (label embedding)", "class")]

INTRO = """\
### Interpolate: walk from one latent to the next
Nearby latents give similar images, so a path through latent space morphs one image smoothly into another.
The keyframes are seeds (or the Generate tab's current view, sliders and style mixing included); **lerp**
follows straight lines, **slerp** follows great circles, which keeps Gaussian latents at a typical length
midway (a straight line between two random latents passes closer to the centre, where images look
"averaged"). The class, ψ and the StyleGAN settings come from the Generate tab. For StyleGAN the walk goes
through W. Conditional models can also keep the latent and walk **between classes** through the learned
label embeddings: the image changes class while keeping its style. The first frame is exactly the first
keyframe's image; *loop* walks back to the start, so the GIF repeats without a jump.
"""


@dataclass(frozen=True)
class InterpolateTab:
    """The tab's components, made by build_interpolate_tab and passed to its handlers."""
    controls: dict              # parameter name → component (the walk's own settings)
    outputs: list               # preview, GIF file, settings JSON, caption


def render_walk(app: App, values: dict, callback=None, on_wait=None):
    """(frames uint8 (T, H, W, C), settings) of the walk: the registry's model, through views; a long walk
    (``serving.is_heavy``) waits its turn in the app's export lane (``on_wait(ahead, eta_s)`` meanwhile)."""
    model = app.registry.get(values.get("model"))
    v, w = views.check_walk(model, values)
    per_frame = model.num_classes if w["mode"] == "latent" and v["label"] == views.ALL else 1
    pixels = views.walk_pixels(model, w["frames"], per_frame)
    lane = app.server.export_lane if app.server is not None else serving.Lane()
    with serving.sized(pixels, lane, on_wait=on_wait):
        return serve.render_walk(model, values, callback=callback)


def walk_size(app: App, values: dict) -> str:
    """What a walk will render, in words, said before it runs: "60 frames of 1024×1024 px", or with a smaller
    frame size "60 frames of 256×256 px (1024-px images, downscaled)"."""
    model = app.registry.get(values.get("model"))
    _, w = views.check_walk(model, values)
    side = views.frame_side(model, w)
    what = f"{w['frames']} frames of {side}×{side} px"
    return what if side == model.image_size else f"{what} ({model.image_size}-px images, downscaled)"


def frame_sizes(model) -> list[tuple[str, str | int]]:
    """The frame size dropdown's choices for ``model``: its own size, and the smaller sizes of FRAME_SIZES."""
    return [(f"full ({model.image_size} px)", views.FULL)] + [
        (f"{s} px", s) for s in views.FRAME_SIZES if s < model.image_size]


def frame_size_update(app: App, model: str, value=views.FULL):
    """The frame size dropdown for ``model``: shown for big models (views.is_big); keeps ``value`` if offered."""
    try:
        m = app.registry.get(model)
    except (ValueError, CheckpointError):
        return gr.update(visible=False, value=views.FULL)
    choices = frame_sizes(m)
    offered = [c for _, c in choices]
    return gr.update(choices=choices, visible=views.is_big(m), value=value if value in offered else views.FULL)


# -- the handlers: (app, gen, tab) first, bound by build_interpolate_tab (common.bind) -----------------------------
def export_gif(app: App, values: dict, progress: gr.Progress):
    """(preview, GIF file, settings JSON, note) of the walk ``values``, the GIF carrying its settings."""
    what = f"rendering {walk_size(app, values)}"                     # said before anything runs
    progress(0, desc=what)
    owner = session_of_page()
    app.server.start(owner)
    shown, on_wait = serve.progress_steps(progress, what, "frames")

    def step(done, total):
        app.server.check(owner)                                      # stop pressed: the render ends here
        shown(done, total)
    frames, s = render_walk(app, values, callback=step, on_wait=on_wait)
    progress(1.0, desc="writing the GIF")
    path = app.files.path(f"{s['model']}_walk", ".gif")
    export.save_gif(path, frames, s["fps"], s)
    kb, side = f"{path.stat().st_size / 1024:.0f} kB", f"{frames.shape[2]}×{frames.shape[1]} px"
    note = (f"1 frame of {side} (a still: every keyframe is the same image), {kb}" if len(frames) == 1 else
            f"{len(frames)} frames of {side} at {s['fps']:g} fps ({len(frames) / s['fps']:.1f} s), {kb}")
    return str(path), str(path), to_json(s), note


@friendly
def interpolate(app: App, gen: generate.GenerateView, tab: InterpolateTab, progress=gr.Progress(), **values):
    return export_gif(app, nearest_in_range(values, {**gen.controls, **tab.controls}), progress)


@friendly
def restore(app: App, gen: generate.GenerateView, tab: InterpolateTab, text: str, model: str, progress=gr.Progress()):
    values = parse_settings(text, KEYS)
    values.setdefault("model", model)
    updates = gen.model_controls(values)
    walk_model = values.get("model")
    _, walk = views.check_walk(app.registry.get(walk_model), values)
    updates.update({tab.controls[k]: gr.update(value=walk[k]) for k in OWN_KEYS})
    updates[tab.controls["frame_size"]] = frame_size_update(app, walk_model, walk["frame_size"])
    return {**updates, **dict(zip(tab.outputs, export_gif(app, values, progress)))}


def stop(app: App):
    """The stop button: this page's running export ends at its next frame."""
    app.server.stop(session_of_page())


@friendly
def restore_file(app: App, gen: generate.GenerateView, tab: InterpolateTab, path: str, model: str,
                 progress=gr.Progress()):
    """A GIF opened or dropped in the page: the walk its settings describe."""
    return restore(app, gen, tab, opened_settings(path, walk=True), model, progress)


def options(app: App, model: str):
    """The class options, shown for models with a label embedding."""
    try:
        return gr.update(visible=app.registry.get(model).label_embedding)
    except (ValueError, CheckpointError):
        return gr.update(visible=False)


# -- the tab ---------------------------------------------------------------------------------------------------
def build_interpolate_tab(app: App, gen: generate.GenerateView):
    """Create the tab's components in the current Blocks context and wire its events; ``gen``: what the
    Generate tab gives the others (its view's controls, and how to set them up for a model)."""
    c: dict = {}
    gr.Markdown(INTRO)
    with gr.Row():
        with gr.Column(scale=2):
            c["keyframes"] = gr.Textbox(DEFAULTS["keyframes"], label="keyframe seeds", info="e.g. 0, 7, 42 or 0-3")
            c["from_view"] = gr.Checkbox(DEFAULTS["from_view"], label="start at the Generate tab's current view "
                                         "(its seed, slider edits and style mixing)")
            with gr.Group(visible=False) as class_group:
                c["mode"] = gr.Radio(MODES, value=DEFAULTS["mode"], label="interpolate")
                c["classes"] = gr.Textbox(DEFAULTS["classes"], label="keyframe classes (class mode)",
                                          info="the latent is the first keyframe (or the current view)")
            c["method"] = gr.Radio(["lerp", "slerp"], value=DEFAULTS["method"], label="interpolation")
            with gr.Row():
                c["frames"] = gr.Slider(2, views.MAX_FRAMES, DEFAULTS["frames"], step=1, label="frames")
                c["fps"] = gr.Slider(*views.FPS_RANGE, DEFAULTS["fps"], step=1, label="frames per second")
            c["loop"] = gr.Checkbox(DEFAULTS["loop"], label="loop back to the first keyframe")
            c["frame_size"] = gr.Dropdown([("full", views.FULL)] + [(f"{s} px", s) for s in views.FRAME_SIZES],
                                          value=DEFAULTS["frame_size"], label="frame size", visible=False,
                                          elem_id="walk-frame-size",
                                          info="a smaller GIF: each image is rendered in full, then downscaled "
                                               "(antialiased); the render takes as long")
            with gr.Row():
                run_btn = gr.Button("Interpolate and export GIF", variant="primary", scale=3)
                stop_btn = gr.Button("stop", elem_id="walk-stop", scale=1)
        with gr.Column(scale=3):
            preview = gr.Image(label="preview", type="filepath", interactive=False, buttons=["download", "fullscreen"],
                               elem_id="walk-preview", elem_classes="crisp")
            gif_file = gr.File(label="download GIF", interactive=False, elem_id="walk-file")
            cap = gr.Markdown()
    with gr.Accordion("Settings (JSON): paste saved settings here and press restore, or open a GIF made by ganlab",
                      open=False):
        opened = gr.File(label="open or drop a walk's GIF made by ganlab (the download above, or the CLI's "
                         "interpolate): its walk comes back", file_types=[".gif", ".png"], type="filepath",
                         elem_id="walk-open")
        settings = gr.Code("", language="json", interactive=True, label="settings", elem_id="walk-settings")
        restore_btn = gr.Button("restore")
    outputs = [preview, gif_file, settings, cap]
    tab = InterpolateTab(c, outputs)

    # -- the wiring: every event takes its inputs unprocessed (views checks them) -------------------------------
    picker = gen.controls["model"]
    view = {k: gen.controls[k] for k in KEYS if k in gen.controls}
    run = run_btn.click(bind(interpolate, app, gen, tab), inputs_kwargs={**view, **c}, outputs=outputs,
                        api_name="interpolate", concurrency_id="export", concurrency_limit=EXPORTS, **UNPROCESSED)
    # stop: the page stops waiting (cancels) and the render stops at its next frame (ViewServer.stop)
    stop_btn.click(bind(stop, app), None, None, cancels=[run], queue=False, api_visibility="private")
    restore_btn.click(bind(restore, app, gen, tab), [settings, picker],
                      list(dict.fromkeys([*gen.all_outputs, *c.values(), *outputs])), api_name="restore_interpolation",
                      concurrency_id="export", concurrency_limit=EXPORTS, **UNPROCESSED)
    opened.upload(bind(restore_file, app, gen, tab), [opened, picker],
                  list(dict.fromkeys([*gen.all_outputs, *c.values(), *outputs])), api_visibility="private",
                  concurrency_id="export", concurrency_limit=EXPORTS).then(
        lambda: None, None, opened, api_visibility="private", queue=False)   # emptied: the next file can be dropped
    picker.change(bind(options, app), picker, class_group, api_name="interpolate_options", **UNPROCESSED)
    # the frame size offered for the model: on the page's load and when the model changes (triggers=None: both)
    gr.on(None, bind(frame_size_update, app), [picker, c["frame_size"]], c["frame_size"], api_visibility="private",
          **UNPROCESSED)
