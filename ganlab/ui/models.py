"""The Models tab (every generator found, with its metrics and status) and the info panel under the picker.

Both read each checkpoint's config.json and metrics.json; nothing here loads weights (parameter counts come
from building the untrained network from its config on the CPU: see ``ModelRegistry.num_parameters``).
"""
from __future__ import annotations

import gradio as gr

from ..card import DATASETS, format_seconds, read_metrics
from ..models import FAMILIES, display_name
from ..registry import ModelRegistry, check_name
from .common import App, friendly
from .imports import source_lines

COLUMNS = ["model", "family", "dataset", "parameters", "steps", "train time", "FD (floor) ↓", "precision ↑",
           "recall ↑", "class acc ↑", "status"]
COLUMN_HELP = ("**parameters**: the generator's · **steps**: generator updates in training · **train time**: on a "
               "CPU · **FD (floor)**, **precision**, **recall**: see above (— where not evaluated, e.g. imported "
               "models) · **class acc**: how often a conditional model's image is recognised as the class asked "
               "for · **status**: available, loaded, or why the model cannot be used")

INTRO = """\
### Models
Every generator bundled with the app, grouped by family, with its training budget and scores. FD is the
Fréchet distance between features of generated and real test images (lower is better; the floor is the
distance between two sets of real images), measured with a small classifier instead of Inception, so it
compares ganlab models with each other. Precision ≈ how many samples look real, recall ≈ how much of the
data's variety the samples cover. A model that is still training, or whose files are broken, is listed with
the reason and the others keep working. Refresh after a training run finishes.
"""


def _num(x, spec=".2f"):
    return "—" if x is None else format(x, spec)


def model_rows(registry: ModelRegistry) -> list[list[str]]:
    rows = []
    for s in registry.status():
        cfg, m = s.config, (_metrics(registry, s.name) if s.family else {})
        training = cfg.get("training") or {}
        params = registry.num_parameters(s.name) if s.family else None
        fd = (f"{m['fd']:.2f} ({m['fd_floor_train_vs_test']:.2f})"
              if m.get("fd") is not None and m.get("fd_floor_train_vs_test") is not None else _num(m.get("fd")))
        rows.append([s.name, display_name(s.family),
                     DATASETS.get(cfg.get("dataset"), (cfg.get("dataset") or "—",))[0],
                     "—" if params is None else f"{params / 1e6:.2f} M",
                     "—" if training.get("steps") is None else f"{training['steps']:,}",
                     format_seconds(training.get("wall_seconds")) or "—", fd, _num(m.get("precision")),
                     _num(m.get("recall")), _num(m.get("class_accuracy"), ".1%"),
                     ("loaded" if s.loaded else "available") if s.available else f"unavailable: {s.reason}"])
    return rows


def _metrics(registry: ModelRegistry, name: str) -> dict:
    try:
        folder = registry.folder(name)
        return read_metrics(folder) if folder else {}
    except ValueError:
        return {}


def model_info(registry: ModelRegistry, name: str | None) -> str:
    """Markdown about one model: architecture, size, latent, classes, data, training and metrics."""
    if not name:
        return "No model selected."
    name = check_name(name)
    status = {s.name: s for s in registry.status()}.get(name)
    if status is None or not status.family:
        return f"**{name}**: unknown or unreadable checkpoint."
    cfg, family = status.config, status.family
    net = cfg.get("config") or {}
    doc = (FAMILIES[family].__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    unknown = (cfg.get("dataset") or "unknown",) + (None,) * 4
    data_name, _, _, licence, homepage = DATASETS.get(cfg.get("dataset"), unknown)
    params = registry.num_parameters(name)
    training = cfg.get("training") or {}
    classes = cfg.get("class_names") or []
    lines = [f"#### {name} · {display_name(family)}", "", doc, "",
             f"- **parameters** (generator): {params:,}" if params else "- **parameters**: —",
             f"- **latent**: {net.get('z_dim')}-d, {net.get('latent_dist', 'normal')}"
             + (f"; W {net.get('w_dim')}-d" if FAMILIES[family].Generator.style_based else ""),
             f"- **images**: {net.get('image_size')}×{net.get('image_size')}, "
             f"{'greyscale' if net.get('channels', 1) == 1 else 'colour'}",
             f"- **classes**: {', '.join(classes)}" + (" (the model is unconditional)" if not net.get("num_classes")
                                                         else " (conditional: pick one above)") if classes else "",
             f"- **training data**: [{data_name}]({homepage}) ({licence})" if homepage else
             f"- **training data**: {data_name}"]
    if training:
        lines.append(f"- **training**: {training.get('steps', '?'):,} steps, {training.get('images_seen', 0):,} "
                     f"images seen, {format_seconds(training.get('wall_seconds')) or '?'} on a CPU")
    m = _metrics(registry, name)
    if m:
        lines.append(f"- **metrics** (model card): FD {_num(m.get('fd'))} "
                     f"(floor {_num(m.get('fd_floor_train_vs_test'))}),"
                     f" precision {_num(m.get('precision'))}, recall {_num(m.get('recall'))}"
                     + (f", requested class recognised {_num(m.get('class_accuracy'), '.1%')}"
                        if m.get("class_accuracy") is not None else ""))
    else:
        lines.append("- **metrics**: not evaluated yet")
    lines += source_lines(cfg)                    # imported models: licence (non-commercial said) and origin
    if not status.available:
        lines.append(f"- **status**: unavailable: {status.reason}")
    return "\n".join(line for line in lines if line is not None)


def info_handler(app: App):
    """model name → the About panel's Markdown (a refused name changes nothing)."""
    @friendly
    def about(name: str | None):
        return model_info(app.registry, name)
    return about


def build_info_panel(app: App, picker: gr.Dropdown) -> gr.Markdown:
    """The "About this model" panel under the picker, filled on page load (build_app) and on every model change."""
    with gr.Accordion("About this model", open=False):
        info = gr.Markdown(elem_id="model-info")
    picker.change(info_handler(app), picker, info, api_name="model_info", preprocess=False)   # the registry checks
    return info


def build_models_tab(app: App) -> gr.Dataframe:
    gr.Markdown(INTRO)
    table = gr.Dataframe(model_rows(app.registry), headers=COLUMNS, interactive=False, wrap=True,
                         elem_id="models-table", max_height=4000)
    gr.Markdown(COLUMN_HELP, elem_classes="column-help")
    refresh = gr.Button("refresh")
    refresh.click(lambda: model_rows(app.registry), None, table, api_name="models")
    return table
