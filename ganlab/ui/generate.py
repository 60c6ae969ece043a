"""The Generate tab: seeds, a grid, class, truncation, latent sliders and (StyleGAN) style mixing and noise.

Every control is one named parameter of the ``generate`` endpoint, and the settings JSON under the image is
exactly those parameters, so ``client.predict(**settings, api_name="/generate")`` redraws the same image.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from .. import latent, views
from ..models import CheckpointError
from ..views import COORD_RANGE, COORDS, DIR_RANGE, DIRS, MAX_CUTOFF, MIX_GROUPS
from .common import (UNPROCESSED, App, bind, friendly, from_page, model_choices, nearest_in_range,
                     opened_settings, parse_settings, refuse, to_json)
from .serve import session_of_page

KEYS, DEFAULTS = views.VIEW_KEYS, views.VIEW_DEFAULTS
SLIDERS = ["n", "truncation", "cutoff", *COORDS, *DIRS]
BOXES = {"seed": "seed", "mix_seed": "style-mixing seed"}                        # number boxes: key → name
KEPT = ["seed", "n", "truncation"]              # what switching models keeps (the style settings, between StyleGANs)
STYLE_KEPT = ["cutoff", "noise", "mix_seed", "mix"]
PRIORS = {"normal": "z ~ N(0, I), a standard normal vector of {d} numbers",
          "uniform": "z ~ U(−1, 1){power}: {d} numbers drawn uniformly between −1 and 1"}
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")   # U(−1, 1)⁹⁶: Markdown has no superscript
NOISE_CHOICES = [("random", "random"), ("fixed", "const"), ("off", "none")]

INTRO = """\
### Generate: what a trained generator G draws from noise
Each **seed** picks a latent vector z from the model's prior (stated just below; seeds s, s+1, … fill the grid);
G turns it into an image.
Conditional models also take a **class**; *all classes* shows one row per seed, one column per class, so you
see one latent (the "style") written as every class. **Truncation ψ** pulls latents towards the average
(ψ = 0 gives the average image, ψ < 1 trades variety for quality). The **z sliders** shift single latent
coordinates; the **PC sliders** move along the principal directions of the latent space (for StyleGAN, of
the intermediate space W, as GANSpace does), so you can watch what one direction changes while you drag.
A value typed into a slider's box outside its range is set to the nearest end of the range.
"""
SETTLE_MS = 700             # the page asks for the full image this long after a slider's last change or preview
SETTLE_SOON_JS = """(...args) => {
    clearTimeout(window.ganlabSettle);
    window.ganlabSettle = setTimeout(() => {
        const el = document.querySelector('#settle-view');
        (el && el.tagName !== 'BUTTON' ? el.querySelector('button') : el)?.click();
    }, %d);
    return args;
}""" % SETTLE_MS

STYLE_HELP = """\
**StyleGAN.** z is mapped to w, which sets the styles of every layer. ψ applies to the first *cutoff*
layers. **Style mixing** copies the styles of the chosen layer ranges from a second seed: coarse layers set
shape and pose, middle ones features, fine ones texture and contrast. **Noise** adds per-pixel detail:
*random* differs on every draw, *fixed* is the same each time, *off* shows what the noise contributes.
"""


@dataclass(frozen=True)
class GenerateTab:
    """The tab's components, made by build_generate_tab and passed to its handlers."""
    controls: dict              # parameter name → component (including "model": the picker)
    style_group: gr.Group       # the StyleGAN settings, shown for style-based models
    prior: gr.Markdown          # the model's latent prior, in words
    image: gr.Image
    settings: gr.Code
    caption: gr.Markdown

    @property
    def outputs(self) -> list:
        """What a drawn view updates."""
        return [self.image, self.settings, self.caption]

    @property
    def all_outputs(self) -> list:
        """Every component a model change or a restore updates."""
        c = self.controls
        return list(dict.fromkeys([c["model"], self.style_group, *c.values(), *self.outputs, self.prior]))


@dataclass(frozen=True)
class GenerateView:
    """What the other tabs take from the Generate tab (build_generate_tab returns it): its view's controls, and
    handlers that set them up for a model."""
    controls: dict              # parameter name → component (including "model": the picker)
    all_outputs: list           # every component select_model, model_controls and page_load update
    select_model: Callable      # select_model(model=name, **view) → updates: the model's controls and image
    model_controls: Callable    # model_controls(values) → updates: the controls set to ``values``
    page_load: Callable         # page_load(model) → updates: the models rescanned, the picked one shown


def render_view(app: App, values: dict, preview: bool = False, progress=None):
    """(model, image uint8 (H, W, C), settings) of the Generate tab's view: the registry's model, through views.
    ``preview``: views' fast preview where the model has one; ``progress`` (a gr.Progress): shown for big models."""
    model = app.registry.get(values.get("model"))
    step = None
    if progress is not None and views.is_big(model):
        what = f"rendering {model.image_size}-px images"
        progress(0, desc=what)
        step = lambda done, total: progress((done, total), desc=what, unit="images")   # noqa: E731
    return (model, *views.render_view(model, values, preview=preview, callback=step))


def caption(model, v: dict, size: tuple[int, int]) -> str:
    seeds = f"seed {v['seed']}" if v["n"] == 1 else f"seeds {v['seed']}–{v['seed'] + v['n'] - 1}"
    what = {None: "", views.ALL: " · every class" + (" (one per column)" if v["n"] > 1 else ""),
            views.SEEDED: " · the class each seed draws"}.get(v["label"])
    if what is None:
        what = f" · class {v['label']} ({model.class_names[int(v['label'])]})"
    if v.get("mix"):
        what += f" · style mixing: the {', '.join(v['mix'])} layers from seed {v['mix_seed']}"
    side = model.image_size
    return (f"{seeds}{what} · ψ = {v['truncation']:g} · {side}×{side} px images drawn at "
            f"{size[0]}×{size[1]} px and scaled to the panel (nearest neighbour: the pixels stay crisp)")


def prior_text(model) -> str:
    """The model's latent prior in words (models draw from different ones: the MLP-GAN's is uniform)."""
    prior = PRIORS.get(model.latent_dist, "z ~ " + model.latent_dist + " ({d} numbers)").format(
        d=model.z_dim, power=str(model.z_dim).translate(SUPERSCRIPT))
    name = model.info.get("name", "this model")
    return f"**{name}** draws {prior}" + (", mapped to w by its mapping network." if model.style_based else ".")


def grid_limit(model, label) -> int:
    """The largest grid size n of the view: the all-classes view shows n × classes images in one grid, and large
    images fill a grid sooner (views.max_images)."""
    most = views.max_images(model)
    return max(1, most // model.num_classes) if model.num_classes and label == views.ALL else most


def grid_info(model) -> str:
    """The grid slider's note: its range, and for large images what bounds it (said before anything runs)."""
    if views.max_images(model) < views.MAX_GRID:
        return (f"1 – {views.max_images(model)}: {model.image_size}-px images, at most "
                f"{views.MAX_VIEW_PIXELS / 2**20:g} megapixels in one view")
    return f"1 – {views.MAX_GRID}; with all classes, as many rows as fit {views.MAX_GRID} images"


# -- the handlers: (app, tab) first, bound by build_generate_tab (common.bind) ------------------------------------
def render(app: App, values: dict, preview: bool = False, progress=None):
    """(image path, settings JSON, caption) of the view ``values`` through the app's view server (rendered once
    for everyone asking, heavy renders in turn; ``serving.Superseded`` when this page asked for something newer
    meanwhile). The image is the PNG carrying its settings, or for a large image on the page a JPEG with a link
    to that PNG."""
    model = app.registry.get(values.get("model"))
    shown = app.server.render(model, values, preview, page=from_page(), owner=session_of_page(), progress=progress)
    v = shown.settings
    note = (f" · **preview at {shown.preview} px**: the full {model.image_size}-px image follows when you release "
            "the slider" if shown.preview else "")
    if shown.png is not None and shown.png != shown.display:          # a large image, shown as JPEG
        note = f" · shown as JPEG; [download the exact PNG](gradio_api/file={shown.png}) (these settings inside)"
    return str(app.files.alias(shown.display)), to_json(v), caption(model, v, shown.size) + note


def model_controls(app: App, tab: GenerateTab, values: dict) -> dict:
    """Controls set up for the model (class names, grid limit, StyleGAN layers, latent size) with ``values``."""
    c = tab.controls
    model = app.registry.get(values.get("model"))
    v = views.check_view(model, values)
    names = model.class_names
    labels = [("all classes", views.ALL), ("the class each seed draws", views.SEEDED)] + \
        [(str(i) if n == str(i) else f"{i} · {n}", str(i)) for i, n in enumerate(names)]
    num_ws = model.num_ws if model.style_based else 0
    groups = model.layer_groups() if num_ws else {}
    mix = [(f"{g} (layers {r.start}–{r.stop - 1})", g) for g, r in groups.items()] or [(g, g) for g in MIX_GROUPS]
    out = {c["model"]: gr.update(value=v["model"]),
           c["label"]: gr.update(choices=labels, value=v["label"] or views.ALL, visible=bool(model.num_classes)),
           c["n"]: gr.update(maximum=grid_limit(model, v["label"]), value=v["n"], info=grid_info(model)),
           tab.style_group: gr.update(visible=bool(num_ws)),
           c["cutoff"]: gr.update(maximum=num_ws or MAX_CUTOFF, value=min(v["cutoff"], num_ws or MAX_CUTOFF)),
           c["mix"]: gr.update(choices=mix, value=v["mix"]),
           c["noise"]: gr.update(choices=[(label, m) for label, m in NOISE_CHOICES
                                          if m in (model.noise_modes or views.NOISE_MODES)], value=v["noise"]),
           tab.prior: prior_text(model)}
    for i, k in enumerate(COORDS):
        out[c[k]] = gr.update(value=v[k], visible=i < model.z_dim)
    for k in ("seed", "truncation", "mix_seed", *DIRS):
        out[c[k]] = gr.update(value=v[k])
    return out


def in_range(app: App, tab: GenerateTab, values: dict) -> dict:
    """The sliders' values typed outside their range at its nearest end; the grid size's range is smaller
    for the all-classes view (see grid_limit)."""
    v = nearest_in_range(values, tab.controls)
    if isinstance(v.get("n"), (int, float)) and v.get("label") is not None:
        try:
            v["n"] = min(v["n"], grid_limit(app.registry.get(v.get("model")), str(v["label"]).lower()))
        except (ValueError, CheckpointError):
            pass                                        # the view's check says what is wrong
    return v


def shown(app: App, tab: GenerateTab, values: dict) -> dict:
    path, text, cap_text = render(app, values)
    return {tab.image: path, tab.settings: text, tab.caption: cap_text}


@friendly
def generate(app: App, tab: GenerateTab, progress=gr.Progress(), **values):
    return gr.skip() if keep_page(values) else render(app, in_range(app, tab, values), progress=progress)


@friendly
def drag(app: App, tab: GenerateTab, **values):
    """A slider moving: views' fast preview for big models that have one (the full image otherwise)."""
    return gr.skip() if keep_page(values) else render(app, in_range(app, tab, values), preview=True)


@friendly
def release(app: App, tab: GenerateTab, progress=gr.Progress(), **values):
    """A slider let go: the full image where the drag showed a preview (else the drag's image stands)."""
    if keep_page(values) or views.preview_resolution(app.registry.get(values.get("model"))) is None:
        return gr.skip()
    return render(app, in_range(app, tab, values), progress=progress)


@friendly
def randomize(app: App, tab: GenerateTab, **values):
    values["seed"] = secrets.randbelow(10**6)
    return gr.skip() if keep_page(values) else (values["seed"], *render(app, in_range(app, tab, values)))


@friendly
def reset_sliders(app: App, tab: GenerateTab, **values):
    values.update({k: 0.0 for k in COORDS + DIRS})
    return gr.skip() if keep_page(values) else (*[0.0] * len(COORDS + DIRS), *render(app, in_range(app, tab, values)))


@friendly
def set_class(app: App, tab: GenerateTab, **values):
    """Another class: the grid size is capped when the all-classes view would exceed the grid's limit."""
    if keep_page(values):
        return gr.skip()
    values = in_range(app, tab, values)
    limit = grid_limit(app.registry.get(values.get("model")), str(values.get("label")).lower())
    values["n"] = min(views.whole(values["n"], "the grid size n", 1, views.MAX_GRID), limit)
    return (gr.update(maximum=limit, value=values["n"]), *render(app, values))


@friendly
def select_model(app: App, tab: GenerateTab, **values):
    """Another model: the seed, grid size and ψ stay (and the class and StyleGAN settings where they apply);
    the latent sliders go back to zero, since another model's latent space has other directions."""
    values = switched_view(app.registry.get(values.get("model")), in_range(app, tab, values))
    return {**model_controls(app, tab, values), **shown(app, tab, values)}


@friendly
def pick_model(app: App, tab: GenerateTab, **values):
    """The picker: select_model, once per pick (the dropdown's second event for one mouse pick, the same model
    again at once from the same page, changes nothing)."""
    if app.server.repeated(session_of_page(), ("pick", values.get("model"))):
        return gr.skip()
    return select_model(app, tab, **values)


@friendly
def restore(app: App, tab: GenerateTab, text: str, model: str):
    values = parse_settings(text, KEYS)
    values.setdefault("model", model)
    return {**model_controls(app, tab, values), **shown(app, tab, values)}


@friendly
def restore_file(app: App, tab: GenerateTab, path: str, model: str):
    """A PNG opened or dropped in the page: the view its settings describe."""
    return restore(app, tab, opened_settings(path, walk=False), model)


def shown_n(app: App, tab: GenerateTab, **values):
    """The grid size box after a typed value the view had to cap (with all classes, as many rows as fit): the
    box says what is drawn."""
    n = in_range(app, tab, values).get("n")
    return gr.skip() if keep_page(values) or n == values.get("n") else gr.update(value=n)


@friendly
def page_load(app: App, tab: GenerateTab, model: str | None):
    """On each page load: rescan the checkpoints (models finish training while the app runs) and show the
    picked model (the first one by default)."""
    picker = tab.controls["model"]
    names = app.registry.available()
    choices = model_choices(app.registry)
    if not names:
        return {picker: gr.update(choices=[], value=None),
                tab.caption: "No trained model is available yet: see the **Models** tab."}
    out = select_model(app, tab, model=model if model in names else names[0])
    out[picker] = gr.update(choices=choices, value=out[picker]["value"])
    return out


# -- the tab ---------------------------------------------------------------------------------------------------
def build_generate_tab(app: App, picker: gr.Dropdown) -> GenerateView:
    """Create the tab's components in the current Blocks context and wire its events; returns what the other
    tabs use (GenerateView)."""
    c: dict = {"model": picker}
    gr.Markdown(INTRO)
    prior = gr.Markdown(elem_id="prior")
    with gr.Row():
        with gr.Column(scale=2):
            with gr.Row():
                # no precision / minimum / maximum here: views.check_view states and applies the one rule
                # (Gradio would round 1.5 to 2, and refuse on Enter what it clamps on Generate)
                c["seed"] = gr.Number(DEFAULTS["seed"], label=f"seed (0 – {latent.MAX_SEED:,})", scale=3,
                                      elem_id="seed")
                randomize_btn = gr.Button("random seed", scale=1)
            c["n"] = gr.Slider(1, views.MAX_GRID, DEFAULTS["n"], step=1, label="grid: number of samples",
                               elem_id="grid-n", info=f"1 – {views.MAX_GRID}; with all classes, as many rows as "
                               f"fit {views.MAX_GRID} images")
            c["label"] = gr.Dropdown([("all classes", "all")], value="all", label="class", visible=False,
                                     elem_id="class", allow_custom_value=False)
            c["truncation"] = gr.Slider(0, 1.5, DEFAULTS["truncation"], step=0.05, label="truncation ψ",
                                        elem_id="psi", info="1 = off, 0 = the average image")
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
            # the sliders beside the image they move (below it, they were never on screen together at 1280x800)
            with gr.Accordion("Latent sliders (drag: the image follows)", open=True):
                gr.Markdown(f"**z[0] … z[7]** add −{COORD_RANGE:g} … {COORD_RANGE:g} to those coordinates of every "
                            f"sample's latent; **PC 1 … PC 8** move every sample −{DIR_RANGE:g} … {DIR_RANGE:g} "
                            "standard deviations along the principal directions. You can also type a value into a "
                            "slider's box (outside the range it is set to the nearest end).")
                with gr.Row():
                    for group in (COORDS, DIRS):
                        with gr.Column(min_width=160):
                            for k in group:
                                if k in COORDS:
                                    c[k] = gr.Slider(-COORD_RANGE, COORD_RANGE, 0.0, step=0.05,
                                                     label=f"z[{k[1:]}]", elem_id=k)
                                else:
                                    c[k] = gr.Slider(-DIR_RANGE, DIR_RANGE, 0.0, step=0.1,
                                                     label=f"PC {int(k[2:]) + 1}", elem_id=k)
                reset_btn = gr.Button("reset sliders")
        with gr.Column(scale=3, elem_id="image-column"):
            image = gr.Image(label="generated", type="filepath", format="png", interactive=False,
                             buttons=["download", "fullscreen"], elem_id="generated", elem_classes="crisp")
            cap = gr.Markdown()
    with gr.Accordion("Settings (JSON): paste saved settings here and press restore, or open a PNG made by ganlab",
                      open=False):
        opened = gr.File(label="open or drop a PNG made by ganlab (an image's download, or the CLI's generate): "
                         "its view comes back", file_types=[".png", ".gif"], type="filepath",
                         elem_id="generate-open")
        settings = gr.Code("", language="json", interactive=True, label="settings", elem_id="generate-settings")
        restore_btn = gr.Button("restore")
    tab = GenerateTab(c, style_group, prior, image, settings, cap)

    # -- the wiring: every event takes its inputs unprocessed (views checks them) -------------------------------
    sliders = [c[k] for k in COORDS + DIRS]
    view_inputs = {k: c[k] for k in KEYS}
    live = dict(trigger_mode="always_last", show_progress="minimal", **UNPROCESSED)
    dragged = [c["n"], c["truncation"], c["cutoff"], *sliders]      # input: a preview; release: the full image
    shown_progress = {**live, "show_progress": "full"}              # a big model's render shows its progress
    gr.on([generate_btn.click, c["seed"].submit, c["mix_seed"].submit, *[c[k].input for k in ("noise", "mix")]],
          bind(generate, app, tab), inputs_kwargs=view_inputs, outputs=tab.outputs, api_name="generate",
          **shown_progress)
    # a slider moved by the mouse, by typing into its box or by arrow keys ends with the full image: release
    # (pointer up, or the box losing focus) asks for it, and so does the page itself SETTLE_MS after the last
    # change or preview (a hidden button: typing and arrow keys send no release)
    settle_btn = gr.Button("full image", visible="hidden", elem_id="settle-view")
    gr.on([s.input for s in dragged], bind(drag, app, tab), inputs_kwargs=view_inputs, outputs=tab.outputs,
          api_visibility="private", js=SETTLE_SOON_JS, **live).then(None, js=SETTLE_SOON_JS)
    gr.on([*[s.release for s in dragged], settle_btn.click], bind(release, app, tab), inputs_kwargs=view_inputs,
          outputs=tab.outputs, api_visibility="private", **shown_progress)
    c["label"].input(bind(set_class, app, tab), inputs_kwargs=view_inputs, outputs=[c["n"], *tab.outputs],
                     api_name="set_class", **live)
    randomize_btn.click(bind(randomize, app, tab), inputs_kwargs=view_inputs, outputs=[c["seed"], *tab.outputs],
                        api_name="randomize", **UNPROCESSED)
    reset_btn.click(bind(reset_sliders, app, tab), inputs_kwargs=view_inputs, outputs=[*sliders, *tab.outputs],
                    api_name="reset_sliders", **UNPROCESSED)
    # the dropdown sends `input` once for a pick with the keyboard and twice with the mouse (on choosing and on
    # losing focus; `select` only for the mouse): pick_model serves a page's repeat of the same pick once
    picker.input(bind(pick_model, app, tab), inputs_kwargs=view_inputs, outputs=tab.all_outputs,
                 api_name="select_model", **UNPROCESSED)
    restore_btn.click(bind(restore, app, tab), [settings, picker], tab.all_outputs, api_name="restore",
                      **UNPROCESSED)
    opened.upload(bind(restore_file, app, tab), [opened, picker], tab.all_outputs, api_visibility="private").then(
        lambda: None, None, opened, api_visibility="private", queue=False)   # emptied: the next file can be dropped
    gr.on([c["n"].input, c["n"].release], bind(shown_n, app, tab), inputs_kwargs=view_inputs, outputs=c["n"],
          api_visibility="private", trigger_mode="always_last", show_progress="hidden", **UNPROCESSED)
    return GenerateView(c, tab.all_outputs, bind(select_model, app, tab), bind(model_controls, app, tab),
                        bind(page_load, app, tab))


def keep_page(values: dict) -> bool:
    """Whether an event from the page must change nothing: a slider's box emptied while typing sends None (the
    view stays as it is, silently: the user is typing); an emptied number box is refused with its rule."""
    if not from_page():
        return False
    if any(values.get(k) is None for k in SLIDERS):
        return True
    for k, name in BOXES.items():
        if values.get(k) is None:
            refuse(f"the {name} box is empty: type a whole number from 0 to {latent.MAX_SEED:,}.")
            return True
    return False


def switched_view(model, values: dict) -> dict:
    """The view ``values`` (of another model) becomes on ``model``: seed, grid size and ψ kept, the class kept if
    ``model`` has it, the StyleGAN settings kept for a style-based model, the sliders at zero; the grid size capped
    to what the view can show. A kept value that ``model`` refuses falls back to the default."""
    fresh = {**{k: DEFAULTS[k] for k in KEYS if k != "model"}, "model": values.get("model")}
    kept = KEPT + (["label"] if model.num_classes else []) + (STYLE_KEPT if model.style_based else [])
    v = {**fresh, **{k: values[k] for k in kept if values.get(k) is not None}}
    try:
        label = views.check_view(model, {**v, "n": 1})["label"]
        v["n"] = min(views.whole(v["n"], "n", 1, views.MAX_GRID), grid_limit(model, label))
        views.check_view(model, v)
    except ValueError:
        return fresh
    return v
