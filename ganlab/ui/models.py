"""The Models tab (every generator found, with its metrics and status) and the info panel under the picker.

Both read each checkpoint's config.json and metrics.json; nothing here loads weights (parameter counts come
from building the untrained network from its config on the CPU: see ``ModelRegistry.num_parameters``).
"""
from __future__ import annotations

import html

import gradio as gr

from .. import device
from ..card import describe, read_metrics, summary
from ..registry import ModelRegistry, check_name
from .common import UNPROCESSED, App, bind, friendly

COLUMNS = ["model", "family", "dataset", "parameters", "steps", "train time", "FD (floor) ↓", "precision ↑",
           "recall ↑", "class acc ↑", "status"]
COLUMN_HELP = ("**parameters**: the generator's · **steps**: generator updates in training · **train time**: on a "
               "CPU · **FD (floor)**, **precision**, **recall**: see above (— where not evaluated, e.g. imported "
               "models) · **class acc**: how often a conditional model's image is recognised as the class asked "
               "for · **status**: available, loaded, or why the model cannot be used")
SUMMARY_COLUMNS = ["family", "dataset", "params", "steps", "train time", "FD (floor)", "precision", "recall",
                   "class acc"]            # card.summary's names of the columns between model and status

INTRO = """\
### Models
Every generator bundled with the app, grouped by family, with its training budget and scores. FD is the
Fréchet distance between features of generated and real test images (lower is better; the floor is the
distance between two sets of real images), measured with a small classifier instead of Inception, so it
compares ganlab models with each other. Precision ≈ how many samples look real, recall ≈ how much of the
data's variety the samples cover. A model that is still training, or whose files are broken, is listed with
the reason and the others keep working. Refresh after a training run finishes.
"""


def model_rows(registry: ModelRegistry) -> list[list[str]]:
    rows = []
    for s in registry.status():
        row = summary(s.config, _metrics(registry, s.name) if s.family else {},
                      registry.num_parameters(s.name) if s.family else None)
        rows.append([s.name] + [row[c] for c in SUMMARY_COLUMNS] +
                    [("loaded" if s.loaded else "available") if s.available else f"unavailable: {s.reason}"])
    return rows


def model_cards(table) -> str:
    """The table's rows as one card per model, every column a labelled line: what a narrow window shows instead
    of the table, whose columns do not fit a phone (the CSS shows one or the other). ``table``: the Dataframe's
    value as the page sends it (its ``data``), or the rows themselves."""
    rows = table.get("data", []) if isinstance(table, dict) else table or []
    cards = []
    for row in rows:
        if not row:
            continue
        fields = "".join(f"<dt>{html.escape(label)}</dt><dd>{html.escape(str(value))}</dd>"
                         for label, value in zip(COLUMNS[1:], row[1:]))
        cards.append(f'<section class="model-card"><h4>{html.escape(str(row[0]))}</h4><dl>{fields}</dl></section>')
    return '<div class="model-cards">' + "".join(cards) + "</div>"


def _metrics(registry: ModelRegistry, name: str) -> dict:
    try:
        folder = registry.folder(name)
        return read_metrics(folder) if folder else {}
    except ValueError:
        return {}


def model_info(registry: ModelRegistry, name: str | None) -> str:
    """Markdown about one model (``ganlab.card.describe``): architecture, size, latent, classes, data, training
    and metrics."""
    if not name:
        return "No model selected."
    name = check_name(name)
    status = {s.name: s for s in registry.status()}.get(name)
    if status is None or not status.family:
        return f"**{name}**: unknown or unreadable checkpoint."
    about = describe(name, status.config, registry.num_parameters(name), _metrics(registry, name),
                     "" if status.available else status.reason)
    return about + f"\n- **runs on**: {device.describe(registry.device)} (`--device` / `GANLAB_DEVICE`)"


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
    picker.change(info_handler(app), picker, info, api_name="model_info", **UNPROCESSED)   # the registry checks
    return info


def build_models_tab(app: App) -> gr.Dataframe:
    gr.Markdown(INTRO)
    rows = model_rows(app.registry)
    with gr.Column(elem_id="models-list"):     # the CSS shows the table where it fits, else the cards
        table = gr.Dataframe(rows, headers=COLUMNS, interactive=False, wrap=True, elem_id="models-table",
                             max_height=4000)
        cards = gr.HTML(model_cards(rows), elem_id="models-cards")
    gr.Markdown(COLUMN_HELP, elem_classes="column-help")
    refresh = gr.Button("refresh")
    refresh.click(bind(model_rows, app.registry), None, table, api_name="models")
    table.change(model_cards, table, cards, queue=False, api_visibility="private", **UNPROCESSED)
    return table
