"""The Interpolate tab: a walk through keyframes (seeds, or the Generate tab's current view), or for conditional
models through classes, previewed in the page and exported as a GIF that carries its settings."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .. import export, views
from ..models import CheckpointError
from . import generate
from .common import UNPROCESSED, App, bind, friendly, nearest_in_range, opened_settings, parse_settings, to_json

OWN_KEYS, KEYS, DEFAULTS = views.WALK_OWN_KEYS, views.WALK_KEYS, views.WALK_DEFAULTS
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


def render_walk(app: App, values: dict, callback=None):
    """(frames uint8 (T, H, W, C), settings) of the walk: the registry's model, through views."""
    return views.render_walk(app.registry.get(values.get("model")), values, callback=callback)


# -- the handlers: (app, gen, tab) first, bound by build_interpolate_tab (common.bind) -----------------------------
def export_gif(app: App, values: dict, progress: gr.Progress):
    """(preview, GIF file, settings JSON, note) of the walk ``values``, the GIF carrying its settings."""
    progress(0, desc="rendering frames")
    frames, s = render_walk(app, values, callback=lambda done, total: progress((done, total),
                                                                             desc="rendering frames"))
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
    _, walk = views.check_walk(app.registry.get(values.get("model")), values)
    updates.update({tab.controls[k]: gr.update(value=walk[k]) for k in OWN_KEYS})
    return {**updates, **dict(zip(tab.outputs, export_gif(app, values, progress)))}


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
            run_btn = gr.Button("Interpolate and export GIF", variant="primary")
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
    run_btn.click(bind(interpolate, app, gen, tab), inputs_kwargs={**view, **c}, outputs=outputs,
                  api_name="interpolate", concurrency_id="export", concurrency_limit=1, **UNPROCESSED)
    restore_btn.click(bind(restore, app, gen, tab), [settings, picker],
                      list(dict.fromkeys([*gen.all_outputs, *c.values(), *outputs])), api_name="restore_interpolation",
                      concurrency_id="export", concurrency_limit=1, **UNPROCESSED)
    opened.upload(bind(restore_file, app, gen, tab), [opened, picker],
                  list(dict.fromkeys([*gen.all_outputs, *c.values(), *outputs])), api_visibility="private",
                  concurrency_id="export", concurrency_limit=1).then(
        lambda: None, None, opened, api_visibility="private", queue=False)   # emptied: the next file can be dropped
    picker.change(bind(options, app), picker, class_group, api_name="interpolate_options", **UNPROCESSED)
