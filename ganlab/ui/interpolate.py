"""The Interpolate tab: a walk through keyframes (seeds, or the Generate tab's current view), or for conditional
models through classes, previewed in the page and exported as a GIF that carries its settings."""
from __future__ import annotations

import gradio as gr
import numpy as np
import torch

from .. import export, latent
from ..models import CheckpointError
from ..cli import parse_seeds
from . import generate
from .common import App, float_in, friendly, int_in, parse_settings, to_json

OWN_KEYS = ["keyframes", "from_view", "mode", "classes", "method", "frames", "fps", "loop"]
KEYS = [k for k in generate.KEYS if k != "n"] + OWN_KEYS
DEFAULTS = {"keyframes": "0, 1, 2", "from_view": False, "mode": "latent", "classes": "0, 1", "method": "slerp",
            "frames": 60, "fps": 10.0, "loop": True}
MAX_LIST_CHARS = 1000        # keyframe seeds / classes text
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


def check_walk(values: dict) -> dict:
    w = {**DEFAULTS, **{k: values[k] for k in OWN_KEYS if values.get(k) is not None}}
    for k in ("keyframes", "classes"):      # bounded before parsing: "0-9999," repeated would be millions of seeds
        if len(str(w[k])) > MAX_LIST_CHARS:
            raise ValueError(f"the {k} list is too long (at most {MAX_LIST_CHARS} characters).")
    if len(parse_seeds(w["keyframes"])) > export.MAX_FRAMES:
        raise ValueError(f"give at most {export.MAX_FRAMES} keyframes (a walk has at most that many frames).")
    w["keyframes"] = ", ".join(map(str, parse_seeds(w["keyframes"])))
    if w["mode"] not in dict(MODES).values():
        raise ValueError(f"mode must be 'latent' or 'class', got {w['mode']!r}.")
    if w["method"] not in ("lerp", "slerp"):
        raise ValueError(f"method must be 'lerp' or 'slerp', got {w['method']!r}.")
    w["frames"] = int_in(w["frames"], "frames", 2, export.MAX_FRAMES)
    w["fps"] = float_in(w["fps"], "fps", 1, 50)
    w["from_view"], w["loop"] = bool(w["from_view"]), bool(w["loop"])
    return w


def render_walk(app: App, values: dict, callback=None):
    """(frames uint8 (T, H, W, C) at a readable size, settings) of the interpolation ``values`` describe."""
    model, v = generate.check_view(app, {**values, "n": 1})
    w = check_walk(values)
    del v["n"]
    seeds = parse_seeds(w["keyframes"])
    for s in seeds:
        int_in(s, "a keyframe seed", 0, latent.MAX_SEED)
    if w["mode"] == "class":
        classes = parse_seeds(w["classes"])
        z = (generate.view_codes(model, v, [v["seed"]], [classes[0]]) if w["from_view"] else
             latent.seed_latents(seeds[:1], model.z_dim, model.latent_dist))
        frames = export.class_morph(model, z, classes, w["frames"], w["method"], w["loop"], v["truncation"])
        w["classes"] = ", ".join(map(str, classes))
        return np.stack([export.fit_grid(f[None]) for f in frames]), {**v, **w}
    if len(seeds) + w["from_view"] < 2:
        raise ValueError("give at least two keyframes: two seeds, or one seed and the current view.")
    classes = generate.view_classes(model, v)
    plain = {**v, "mix": [], **{k: 0.0 for k in generate.COORDS + generate.DIRS}}   # seed keyframes: no edits
    per_class = []
    for i, c in enumerate(classes):
        keys = generate.view_codes(model, plain, seeds, [c])
        if w["from_view"]:
            keys = torch.cat([generate.view_codes(model, v, [v["seed"]], [c]), keys])
        path = latent.keyframe_path(keys, w["frames"], w["method"], w["loop"])
        step = (lambda done, total, i=i: callback(i * total + done, len(classes) * total)) if callback else None
        per_class.append(export.render_codes(model, path, None if c is None else [c] * len(path), v["truncation"],
                                             v["noise"], callback=step))
    frames = np.stack(per_class, axis=1)                                              # (T, classes, H, W, C)
    columns = generate.grid_columns(1, len(classes))
    return np.stack([export.fit_grid(f, columns) for f in frames]), {**v, **w}


def build_interpolate_tab(app: App, gen: generate.GenerateTab):
    """Create the tab's components in the current Blocks context and wire its events."""
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
                c["frames"] = gr.Slider(2, export.MAX_FRAMES, DEFAULTS["frames"], step=1, label="frames")
                c["fps"] = gr.Slider(1, 50, DEFAULTS["fps"], step=1, label="frames per second")
            c["loop"] = gr.Checkbox(DEFAULTS["loop"], label="loop back to the first keyframe")
            run_btn = gr.Button("Interpolate and export GIF", variant="primary")
        with gr.Column(scale=3):
            preview = gr.Image(label="preview", type="filepath", interactive=False, buttons=["download", "fullscreen"],
                               elem_id="walk-preview", elem_classes="crisp")
            gif_file = gr.File(label="download GIF", interactive=False, elem_id="walk-file")
            cap = gr.Markdown()
    with gr.Accordion("Settings (JSON): paste saved settings here and press restore", open=False):
        settings = gr.Code("", language="json", interactive=True, label="settings", elem_id="walk-settings")
        restore_btn = gr.Button("restore")
    outputs = [preview, gif_file, settings, cap]

    def export_gif(values: dict, progress: gr.Progress):
        progress(0, desc="rendering frames")
        frames, s = render_walk(app, values, callback=lambda done, total: progress((done, total),
                                                                                 desc="rendering frames"))
        progress(1.0, desc="writing the GIF")
        path = app.files.path(f"{s['model']}_walk", ".gif")
        export.save_gif(path, frames, s["fps"], s)
        note = (f"{len(frames)} frames of {frames.shape[2]}×{frames.shape[1]} px at {s['fps']:g} fps "
                f"({len(frames) / s['fps']:.1f} s), {path.stat().st_size / 1024:.0f} kB")
        return str(path), str(path), to_json(s), note

    @friendly
    def interpolate(progress=gr.Progress(), **values):
        return export_gif(values, progress)

    @friendly
    def restore(text: str, model: str, progress=gr.Progress()):
        values = parse_settings(text, KEYS)
        values.setdefault("model", model)
        updates = gen.model_controls(values)
        walk = check_walk(values)
        updates.update({c[k]: gr.update(value=walk[k]) for k in OWN_KEYS})
        return {**updates, **dict(zip(outputs, export_gif(values, progress)))}

    def options(model: str):
        try:
            return gr.update(visible=app.registry.get(model).label_embedding)
        except (ValueError, CheckpointError):
            return gr.update(visible=False)

    view = {k: gen.controls[k] for k in KEYS if k in gen.controls}
    run_btn.click(interpolate, inputs_kwargs={**view, **c}, outputs=outputs, api_name="interpolate",
                  concurrency_id="export", concurrency_limit=1)
    restore_btn.click(restore, [settings, gen.controls["model"]],
                      list(dict.fromkeys([*gen.all_outputs, *c.values(), *outputs])), api_name="restore_interpolation",
                      concurrency_id="export", concurrency_limit=1)
    gen.controls["model"].change(options, gen.controls["model"], class_group, api_name="interpolate_options")
