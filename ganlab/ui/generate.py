"""The Generate tab: seeds, a grid, class, truncation, latent sliders and (StyleGAN) style mixing and noise.

Every control is one named parameter of the ``generate`` endpoint, and the settings JSON under the image is
exactly those parameters, so ``client.predict(**settings, api_name="/generate")`` redraws the same image.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import gradio as gr

from .. import export, latent, views
from ..views import COORD_RANGE, COORDS, DIR_RANGE, DIRS, MAX_CUTOFF, MIX_GROUPS
from .common import App, friendly, model_choices, parse_settings, to_json

KEYS, DEFAULTS = views.VIEW_KEYS, views.VIEW_DEFAULTS
NOISE_CHOICES = [("random", "random"), ("fixed", "const"), ("off", "none")]

INTRO = """\
### Generate: what a trained generator G draws from noise
Each **seed** picks a latent vector z ~ N(0, I) (seeds s, s+1, … fill the grid); G turns it into an image.
Conditional models also take a **class**; *all classes* shows one row per seed, one column per class, so you
see one latent (the "style") written as every class. **Truncation ψ** pulls latents towards the average
(ψ = 0 gives the average image, ψ < 1 trades variety for quality). The **z sliders** shift single latent
coordinates; the **PC sliders** move along the principal directions of the latent space (for StyleGAN, of
the intermediate space W, as GANSpace does), so you can watch what one direction changes while you drag.
"""
STYLE_HELP = """\
**StyleGAN.** z is mapped to w, which sets the styles of every layer. ψ applies to the first *cutoff*
layers. **Style mixing** copies the styles of the chosen layer ranges from a second seed: coarse layers set
shape and pose, middle ones features, fine ones texture and contrast. **Noise** adds per-pixel detail:
*random* differs on every draw, *fixed* is the same each time, *off* shows what the noise contributes.
"""


@dataclass
class GenerateTab:
    controls: dict              # parameter name → component (including "model")
    image: gr.Image
    settings: gr.Code
    caption: gr.Markdown
    all_outputs: list = None            # every component a model change or a restore updates
    select_model: object = None         # select_model(name) → updates: the model's controls and a fresh image
    model_controls: object = None       # model_controls(values) → updates: the controls set to ``values``

    @property
    def outputs(self):
        return [self.image, self.settings, self.caption]


def render_view(app: App, values: dict):
    """(model, image uint8 (H, W, C), settings) of the Generate tab's view: the registry's model, through views."""
    model = app.registry.get(values.get("model"))
    return (model, *views.render_view(model, values))


def caption(model, v: dict, image) -> str:
    seeds = f"seed {v['seed']}" if v["n"] == 1 else f"seeds {v['seed']}–{v['seed'] + v['n'] - 1}"
    what = {None: "", views.ALL: " · every class" + (" (one per column)" if v["n"] > 1 else ""),
            views.SEEDED: " · the class each seed draws"}.get(v["label"])
    if what is None:
        what = f" · class {v['label']} ({model.class_names[int(v['label'])]})"
    side = model.image_size
    return (f"{seeds}{what} · ψ = {v['truncation']:g} · {side}×{side} px images shown at "
            f"{image.shape[1]}×{image.shape[0]} px (nearest-neighbour upscaling keeps the pixels crisp)")


# -- the tab ---------------------------------------------------------------------------------------------------
def build_generate_tab(app: App, picker: gr.Dropdown) -> GenerateTab:
    """Create the tab's components in the current Blocks context and wire its events."""
    c: dict = {"model": picker}
    gr.Markdown(INTRO)
    with gr.Row():
        with gr.Column(scale=2):
            with gr.Row():
                # no precision / minimum / maximum here: views.check_view states and applies the one rule
                # (Gradio would round 1.5 to 2, and refuse on Enter what it clamps on Generate)
                c["seed"] = gr.Number(DEFAULTS["seed"], label=f"seed (0 – {latent.MAX_SEED:,})", scale=3)
                randomize_btn = gr.Button("random seed", scale=1)
            c["n"] = gr.Slider(1, views.MAX_GRID, DEFAULTS["n"], step=1, label="grid: number of samples")
            c["label"] = gr.Dropdown([("all classes", "all")], value="all", label="class", visible=False,
                                     allow_custom_value=True)
            c["truncation"] = gr.Slider(0, 1.5, DEFAULTS["truncation"], step=0.05, label="truncation ψ",
                                        info="1 = off, 0 = the average image")
            with gr.Group(visible=False) as style_group:
                gr.Markdown(STYLE_HELP)
                c["cutoff"] = gr.Slider(0, MAX_CUTOFF, MAX_CUTOFF, step=1, label="ψ cutoff: truncate the first N "
                                        "style layers (more than the model has = all)")
                c["noise"] = gr.Radio(NOISE_CHOICES, value=DEFAULTS["noise"], label="noise")
                with gr.Row():
                    c["mix_seed"] = gr.Number(DEFAULTS["mix_seed"], label="style-mixing seed")
                    c["mix"] = gr.CheckboxGroup([(g, g) for g in MIX_GROUPS], value=[],
                                                label="take these layers from the mixing seed")
            generate_btn = gr.Button("Generate", variant="primary")
        with gr.Column(scale=3):
            image = gr.Image(label="generated", type="filepath", format="png", interactive=False,
                             buttons=["download", "fullscreen"], elem_id="generated", elem_classes="crisp")
            cap = gr.Markdown()
    with gr.Accordion("Latent sliders (drag: the image follows)", open=True):
        gr.Markdown("**z[0] … z[7]** are added to those coordinates of every sample's latent; **PC 1 … PC 8** "
                    "move every sample along the principal directions, in standard deviations.")
        with gr.Row():
            for group in (COORDS[:4], COORDS[4:], DIRS[:4], DIRS[4:]):
                with gr.Column(min_width=160):
                    for k in group:
                        if k in COORDS:
                            c[k] = gr.Slider(-COORD_RANGE, COORD_RANGE, 0.0, step=0.05, label=f"z[{k[1:]}]",
                                             elem_id=k)
                        else:
                            c[k] = gr.Slider(-DIR_RANGE, DIR_RANGE, 0.0, step=0.1, label=f"PC {int(k[2:]) + 1}",
                                             elem_id=k)
        reset_btn = gr.Button("reset sliders")
    with gr.Accordion("Settings (JSON): paste saved settings here and press restore", open=False):
        settings = gr.Code("", language="json", interactive=True, label="settings", elem_id="generate-settings")
        restore_btn = gr.Button("restore")
    tab = GenerateTab(c, image, settings, cap)
    sliders = [c[k] for k in COORDS + DIRS]

    # -- callbacks -------------------------------------------------------------------------------------------
    def render(values: dict):
        model, img, v = render_view(app, values)
        stem = f"{v['model']}_seed{v['seed']}" + (f"-{v['seed'] + v['n'] - 1}" if v["n"] > 1 else "")
        path = export.save_png(app.files.path(stem, ".png"), img, v)
        return str(path), to_json(v), caption(model, v, img)

    def model_controls(values: dict) -> dict:
        """Controls set up for the model (class names, StyleGAN layers, latent size) with ``values``."""
        model = app.registry.get(values.get("model"))
        v = views.check_view(model, values)
        names = model.class_names
        labels = [("all classes", views.ALL), ("the class each seed draws", views.SEEDED)] + \
            [(str(i) if n == str(i) else f"{i} · {n}", str(i)) for i, n in enumerate(names)]
        num_ws = model.num_ws if model.style_based else 0
        groups = model.layer_groups() if num_ws else {}
        mix = [(f"{g} (layers {r.start}–{r.stop - 1})", g) for g, r in groups.items()] or [(g, g) for g in MIX_GROUPS]
        out = {picker: gr.update(value=v["model"]),
               c["label"]: gr.update(choices=labels, value=v["label"] or views.ALL, visible=bool(model.num_classes)),
               style_group: gr.update(visible=bool(num_ws)),
               c["cutoff"]: gr.update(maximum=num_ws or MAX_CUTOFF, value=min(v["cutoff"], num_ws or MAX_CUTOFF)),
               c["mix"]: gr.update(choices=mix, value=v["mix"])}
        for i, k in enumerate(COORDS):
            out[c[k]] = gr.update(value=v[k], visible=i < model.z_dim)
        for k in ("seed", "n", "truncation", "noise", "mix_seed", *DIRS):
            out[c[k]] = gr.update(value=v[k])
        return out

    def shown(values: dict) -> dict:
        path, text, cap_text = render(values)
        return {image: path, settings: text, cap: cap_text}

    @friendly
    def generate(**values):
        return render(values)

    @friendly
    def randomize(**values):
        values["seed"] = secrets.randbelow(10**6)
        return (values["seed"], *render(values))

    @friendly
    def reset_sliders(**values):
        values.update({k: 0.0 for k in COORDS + DIRS})
        return (*[0.0] * len(sliders), *render(values))

    @friendly
    def select_model(model: str):
        """A fresh view of another model, at the default settings: its class list, its layers, sliders at zero."""
        values = {k: DEFAULTS[k] for k in KEYS if k != "model"}
        values["model"] = model
        return {**model_controls(values), **shown(values)}

    @friendly
    def restore(text: str, model: str):
        values = parse_settings(text, KEYS)
        values.setdefault("model", model)
        return {**model_controls(values), **shown(values)}

    all_outputs = [picker, style_group, *c.values(), *tab.outputs]
    all_outputs = list(dict.fromkeys(all_outputs))
    view_inputs = {k: c[k] for k in KEYS}
    live = dict(trigger_mode="always_last", show_progress="minimal")
    gr.on([generate_btn.click, c["seed"].submit, c["mix_seed"].submit,
           *[c[k].input for k in ("n", "label", "truncation", "cutoff", "noise", "mix")], *[s.input for s in sliders]],
          generate, inputs_kwargs=view_inputs, outputs=tab.outputs, api_name="generate", **live)
    randomize_btn.click(randomize, inputs_kwargs=view_inputs, outputs=[c["seed"], *tab.outputs], api_name="randomize")
    reset_btn.click(reset_sliders, inputs_kwargs=view_inputs, outputs=[*sliders, *tab.outputs],
                    api_name="reset_sliders")
    picker.input(select_model, picker, all_outputs, api_name="select_model")
    restore_btn.click(restore, [settings, picker], all_outputs, api_name="restore")
    tab.all_outputs, tab.select_model, tab.model_controls = all_outputs, select_model, model_controls
    return tab


def page_load_handler(app: App, tab: GenerateTab):
    """On each page load: rescan the checkpoints (models finish training while the app runs) and show the
    picked model (the first one by default)."""

    @friendly
    def page_load(model: str | None):
        names = app.registry.available()
        choices = model_choices(app.registry)
        if not names:
            return {tab.controls["model"]: gr.update(choices=[], value=None),
                    tab.caption: "No trained model is available yet: see the **Models** tab."}
        out = tab.select_model(model if model in names else names[0])
        out[tab.controls["model"]] = gr.update(choices=choices, value=out[tab.controls["model"]]["value"])
        return out

    return page_load
