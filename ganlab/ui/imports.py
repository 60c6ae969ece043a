"""The Models tab's import section: ganlab's catalog of upstream GANs (resolution, download size, licence, with
the non-commercial ones marked) and each one's status, an Import button, and the background imports.

The page imports **catalog names only**: a visitor cannot make the server fetch a URL or read a file. URLs and
files on the server's disk are the operator's, through ``GANLAB_PRELOAD`` (see :mod:`ganlab.preload`). Imports
and preloads share one background worker (one conversion at a time) and one status list, which a ``gr.Timer``
polls while anything is pending; a model that becomes ready is added to the model picker without a restart.
"""
from __future__ import annotations

import html
import re
import time
from pathlib import Path

import gradio as gr

from .. import catalog, checkpoint, download, preload
from ..preload import Preloader
from ..registry import ModelRegistry, check_name
from .common import App, bind, from_page, log, model_choices, refuse

CATALOG_COLUMNS = ["name", "resolution", "download", "licence", "status"]
CATALOG_WIDTHS = ["19%", "15%", "11%", "38%", "17%"]   # every column on screen, the licence wrapping
CATALOG_HELP = ("**resolution**: the images' size in pixels · **download**: the file's size, where its authors "
                "publish it · **licence**: the weights' licence, then the training data's terms (NON-COMMERCIAL "
                "ones first) · **status**: not imported, imported, or the import's progress or the reason it failed")
IMPORT_COLUMNS = ["model", "source", "status"]
FULL_HEIGHT = 4000             # px: the tables show every row (Gradio's default height scrolled the last ones away)
PENDING = ("queued", "downloading", "converting")
POLL_SECONDS = 1.0             # the status tables' refresh while an import or preload is pending
WAIT_STEP = 0.25               # how often the Import button's progress bar looks at its item

INTRO = """\
### Import a pretrained GAN
The lecture's real generators, from their authors' releases: pick one and press **Import**. The file is
downloaded (with a size and hash check) and converted into a ganlab checkpoint, then the model appears in the
model list at the top, and stays there after a restart. Large models (1024 px) are hundreds of MB and render
in seconds per image on a CPU. **Several licences are non-commercial** (marked below): those weights are for
research and teaching only. The page imports only the models listed here.
"""


def new_preloader(out_root: Path | None = None) -> Preloader:
    """An idle worker for the page's imports, writing into the imported-models folder (``out_root``)."""
    return Preloader([], _lazy_import_fn, out_root=out_root or preload.models_dir())


def _lazy_import_fn(source, out_dir, progress=None, **options):
    return preload.default_import_fn()(source, out_dir, progress=progress, **options)


def roots_with(models_dir, out_root: Path) -> list[Path]:
    """The registry's roots: ``models_dir`` (a folder, a list, or None for checkpoint.roots()) and the folder
    the imports and preloads write into, so that they are listed as soon as they are ready."""
    roots = checkpoint.roots() if models_dir is None else \
        [models_dir] if isinstance(models_dir, (str, Path)) else list(models_dir)
    resolved = {Path(r).expanduser().resolve() for r in roots}
    return [*roots, out_root] if Path(out_root).expanduser().resolve() not in resolved else roots


# -- tables ----------------------------------------------------------------------------------------------------
def catalog_rows(preloader: Preloader, registry: ModelRegistry) -> list[list[str]]:
    """One row per catalog entry: name, resolution, download size, licence (non-commercial first), status."""
    items = {s["source"]: s for s in preloader.status()}
    present = set(registry.names())
    rows = []
    for e in catalog.ENTRIES:
        item = items.get(e.name)
        status = item["text"] if item else "imported" if e.name in present else "not imported"
        res = f"{e.resolution}×{e.resolution}" + (" colour" if e.channels == 3 else " grey") + \
            (f", {e.num_classes} classes" if e.num_classes else "")
        rows.append([e.name, res, e.size_text, catalog.licence_text(e), status])
    return rows


def import_rows(preloader: Preloader) -> list[list[str]]:
    """The background imports (the operator's preloads and the page's imports), each with its state."""
    return [[s["name"], _source_text(s["source"]), s["text"]] for s in preloader.status()] or \
        [["—", "nothing imported since the app started", "—"]]


def _source_text(source: str) -> str:
    if catalog.find(source):
        return "catalog"
    if source.lower().startswith(("http://", "https://")):
        return source
    return "server file " + Path(source).name          # the operator's path: its name only


def pending(preloader: Preloader) -> bool:
    return any(s["state"] in PENDING for s in preloader.status())


# -- the Import button -----------------------------------------------------------------------------------------
def failure_text(name, reason: str) -> str:
    """What the page says under the Import button when an import fails: the reason, and what a visitor can do
    (the command-line advice of ganlab.download does not apply to a page)."""
    reason = re.sub(r"\s*Downloading needs internet access:.*$", "", reason.strip(), flags=re.S)
    entry = catalog.find(name) if isinstance(name, str) else None
    if entry is None:
        return (f"**Not imported**: {html.escape(reason)}  \nThe page imports only the catalog's models: pick one "
                "from the list. Another file can be added by whoever runs this app (`GANLAB_PRELOAD`).")
    return (f"**Importing {entry.name} failed**: {html.escape(reason)}  \nWhat you can do: press Import again later "
            "(a download that failed is retried); if this server cannot reach the internet, ask whoever runs it to "
            f"preload the file (`GANLAB_PRELOAD`), or run ganlab on your own computer: `python -m ganlab import "
            f"{entry.name}`.")


def run_import(preloader: Preloader, name, progress=None, timeout: float | None = None) -> str:
    """Import catalog entry ``name`` on the shared worker and wait for it, reporting ``progress(fraction or None,
    desc)``; returns the model's name. ValueError with the reason when it is not a catalog name or fails."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("choose a model from the catalog.")
    try:
        item = preloader.add(name, catalog_only=True)
    except download.DownloadError as e:
        raise ValueError(str(e)) from None
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        s = next(s for s in preloader.status() if s["name"] == item.name)
        if s["state"] == "ready":
            return s["name"]
        if s["state"] == "failed":
            raise ValueError(f"importing {s['name']} failed: {s['error']}")
        if progress is not None:
            frac = s["done"] / s["total"] if s["state"] == "downloading" and s["total"] else None
            progress(frac, desc=f"{s['name']}: {s['text']}")
        if deadline is not None and time.monotonic() > deadline:
            raise ValueError(f"importing {s['name']} is still {s['text']}: it goes on in the background.")
        time.sleep(WAIT_STEP)


# -- the handlers: the app and the preloader first, bound by build_imports_section (common.bind) -------------------
def tables(app: App, preloader: Preloader):
    """The catalog's and the background imports' table rows."""
    return catalog_rows(preloader, app.registry), import_rows(preloader)


def do_import(app: App, preloader: Preloader, name: str, progress=gr.Progress()):
    """Import and select the model; a failure is said once, under the Import button (an API client gets it as
    an error)."""
    progress(0, desc="queued")
    try:
        model = run_import(preloader, name, progress)
    except ValueError as e:
        if not from_page():
            return refuse(str(e), "import")
        log.warning("refused import: %s", e)
        return failure_text(name, str(e)), *tables(app, preloader), gr.skip()
    return (f"**{model}** is ready: it is selected in the model list above (Generate and Interpolate use it).",
            *tables(app, preloader), gr.update(choices=model_choices(app.registry)))


def poll(app: App, preloader: Preloader, before: list):
    """The timer's tick: the tables, the picker's choices if models joined, and the timer off once idle."""
    busy = pending(preloader)       # before the names: an import that ends in between is shown at the next tick
    names = app.registry.available()
    picker_update = gr.update(choices=model_choices(app.registry)) if names != before else gr.update()
    return (*tables(app, preloader), picker_update, names, gr.Timer(active=busy))


def show(app: App, gen, name: str):
    """The imported model, shown in the Generate tab; nothing when the import did not make one (it said why)."""
    entry = catalog.find(name)
    if entry is None or entry.name not in app.registry.available():
        return gr.skip()
    return gen.select_model(model=check_name(entry.name))


def build_imports_section(app: App, preloader: Preloader, picker: gr.Dropdown, gen) -> gr.Timer:
    """The catalog table, the Import button and the background imports' status, in the current Blocks context.
    ``gen``: what the Generate tab gives the others (its ``select_model`` shows the imported model). Returns the
    poll timer, made with ``render=False``: the caller renders it outside the Tabs, because a tab's children (a
    timer too) do not exist in the page until the tab is first opened, and a visitor who stays on Generate must
    still see preloads join the picker."""
    gr.Markdown(INTRO)
    table = gr.Dataframe(lambda: catalog_rows(preloader, app.registry), headers=CATALOG_COLUMNS,
                         interactive=False, wrap=True, elem_id="catalog-table", column_widths=CATALOG_WIDTHS,
                         max_height=FULL_HEIGHT)
    gr.Markdown(CATALOG_HELP, elem_classes="column-help")
    with gr.Row():
        choice = gr.Dropdown(catalog.names(), value=None, label="catalog model", allow_custom_value=True,
                             elem_id="import-choice", scale=3,
                             info="the page imports only these; the operator can add others with GANLAB_PRELOAD")
        import_btn = gr.Button("Import", variant="primary", elem_id="import-button", scale=1)
    message = gr.Markdown(elem_id="import-message")
    gr.Markdown("#### Background imports (preloads and the imports above)")
    status = gr.Dataframe(lambda: import_rows(preloader), headers=IMPORT_COLUMNS, interactive=False, wrap=True,
                          elem_id="import-status", column_widths=["25%", "35%", "40%"], max_height=FULL_HEIGHT)
    refresh = gr.Button("refresh")
    timer = gr.Timer(POLL_SECONDS, active=True, render=False)   # the first tick switches it off when nothing is pending
    shown = gr.State([])                                # the model names the picker offered at the last poll

    import_btn.click(lambda: gr.Timer(active=True), None, timer, queue=False, api_visibility="private")
    import_btn.click(bind(do_import, app, preloader), choice, [message, table, status, picker],
                     api_name="import_model", concurrency_id="import", concurrency_limit=4
                     ).success(bind(show, app, gen), choice, gen.all_outputs, api_visibility="private")
    refresh.click(bind(tables, app, preloader), None, [table, status], api_name="import_status")
    timer.tick(bind(poll, app, preloader), shown, [table, status, picker, shown, timer], api_visibility="private",
               show_progress="hidden")
    return timer
