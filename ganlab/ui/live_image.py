"""The image GAN of the "Live training" tab: watch the lectures' MNIST / Fashion-MNIST GANs learn, in the browser.

Every browser session has a :class:`Session`: its run (a ganlab.imagelive.runs.LiveImageRun in a worker process
of an ImageRunPool) in a registry keyed by Gradio's session hash. Training happens only inside the Start event,
a generator: each ``tick`` trains for about a second and returns a snapshot (the fixed grid, losses, mean D,
the classifier's histogram, the FD curve), which the event yields, until Pause, a cap, or the page closing. At
most ``Line.slots`` runs train at once (one per core); a visitor beyond that sees their place in line until a
run pauses or its page closes.

Every control comes from the settings table ganlab.imagelive.config.FIELDS (type, range, default, live or
restart, label); the controls are the Live training tab's (``live.control``). A refused input changes nothing:
its message is shown once, as a warning and in the status line. "Export model" writes the generator as a
ganlab checkpoint into a folder the app's registry reads, and adds it to this visitor's model picker, so the
Generate and Interpolate tabs work on it; the folder goes when the session ends.
"""
from __future__ import annotations

import base64
import functools
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import pandas as pd

from ..imagelive import config as image_config
from ..imagelive import data as image_data
from ..imagelive import presets
from ..imagelive.config import ARCH_NAMES, BY_NAME, LIVE_FIELDS, RESTART_FIELDS, ImageConfig
from ..imagelive.runs import FRAME_SECONDS, WORKER_ERRORS, ImageRunPool, Line
from ..models import display_name
from . import live
from .common import UNPROCESSED, App, Refused, bind, model_choices, offer_to_visitors, warn
from .live import WORKER_GONE, _key, control, control_rows

log = logging.getLogger("ganlab.live_image")

MAX_RUN_SECONDS = 600.0     # a run pauses itself after this much training since its last Start
HEADLINE = ("arch", "dataset", "seed")   # the controls in the top row; the others go by live / restart
GROUPS = (("Training (applies immediately)", True), ("Networks (a change starts a new run)", False))
LINE_POLL_SECONDS = 1.0     # how often a visitor waiting in line hears their place
DOWNLOAD_POLL_SECONDS = 0.5     # how often a visitor waiting for the data set's download hears how far it got

INTRO = """\
### Image GAN: watch a GAN learn to draw digits
Pick an architecture preset and press **Start**. The grid shows what G draws from the same latents for the
whole run (a row per class for the conditional GAN), so you see digits come out of noise. Beside it, the
bundled classifier's view of 256 fixed samples: which classes G draws (a missing class is mode collapse, in
plain sight) and how sure it is. Below: the losses, mean D(real) and D(fake), and the quality curve (FD against
the test set in the classifier's feature space, lower is better). Scrub the timeline to go back in the run.
"""

EXPLAIN = """\
**Controls.** Training settings apply at once; the architecture, data set, seed, latent size and
distribution, and EMA start a new run (training goes on if it was running). Each *preset* sets every control
and starts a fresh run; its note says what to look for. A run pauses itself after 10 minutes of training; press Start to go on.
**Export**: the timeline as a GIF (its settings in the GIF comment), or the generator as a ganlab checkpoint
that joins your model picker: open the Generate or Interpolate tab to explore it.
"""


@dataclass
class Session(live.Session):
    """One browser session's run (the Live training tab's Session: remote, config, generation, running, gone,
    stream, message, lock, ``call``) with the run's last snapshot, its place in line and its exported models."""
    snap: dict | None = None            # the run's last snapshot (ImageRun.snapshot)
    place: int = 0                      # place in line while waiting for a slot (0: not waiting)
    models: dict = field(default_factory=dict)     # the models this session exported: name → family


class ImageSessions(live.LiveSessions):
    """The Live training tab's session registry (get, put, session_dir, idle sessions dropped) with the line of
    runs waiting for a core, a pool of image-GAN workers, and the folder of exported models (a root of the app's
    registry, unlisted)."""

    def __init__(self, models_root: Path, slots: int | None = None, workers: int | None = None,
                 data_dir: str | None = None):
        self.line = Line(slots)
        super().__init__(max_running=self.line.slots, workers=0)
        self.pool = ImageRunPool(self.line.slots if workers is None else workers)
        self.models_root = Path(models_root)
        self.data_dir = data_dir
        self.warming: threading.Thread | None = None     # the workers' warm-up (on_tab_open)

    def drop(self, key: str, locked: bool = False) -> None:
        """Forget the session: its place in line, its run, its exports and its exported models."""
        run = self.runs.get(key)
        super().drop(key, locked)
        self.line.leave(key)
        for name in getattr(run, "models", ()):
            shutil.rmtree(self.models_root / name, ignore_errors=True)


def _safe(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())[:16] or "session"


def _grouped(applies_live: bool) -> list:
    return [f for f in image_config.FIELDS if f.live == applies_live and f.name not in HEADLINE]


NAMES = [*HEADLINE, *(f.name for _, applies_live in GROUPS for f in _grouped(applies_live))]


def config_of(values: dict) -> ImageConfig:
    try:
        return image_config.from_dict({k: values[k] for k in BY_NAME if k in values})
    except (ValueError, TypeError) as e:
        raise Refused(str(e)) from None


# -- what a frame shows -------------------------------------------------------------------------------------
def _png_html(png: bytes, alt: str, elem: str = "live-image-grid", step: int = 0) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<img class="{elem}" src="data:image/png;base64,{data}" alt="{alt}" data-step="{step}" '
            'style="width:100%;max-width:420px;image-rendering:pixelated;display:block;margin:auto"/>')


def _status(run: Session | None, slots: int = 1) -> str:
    if run is None:
        return "No run yet: pick a preset and press **Start**."
    if run.gone:
        return WORKER_GONE
    if run.place:
        text = (f"**waiting**: you are number **{run.place}** in line; at most {slots} run{'s' * (slots > 1)} "
                "train at once on this server. Yours starts when one pauses or its page closes.")
        return text + (f"  \n{run.message}" if run.message else "")
    s = run.snap
    state = "training" if run.running else "paused"
    if s is None:
        return f"**{state}** · {ARCH_NAMES[run.config.arch]} · step 0" + (f"  \n{run.message}" if run.message else "")
    q = s["quality"]
    text = (f"**{state}** · {ARCH_NAMES[run.config.arch]} · step **{s['step']:,}** (epoch {s['epoch']:.2f}) · "
            f"**{s['steps_per_second']:.1f} steps/s** · D loss {s['d_loss']:.3f} · G loss {s['g_loss']:.3f} · "
            f"D(real) {s['d_real']:.2f} · D(fake) {s['d_fake']:.2f} · classes **{q['classes_covered']}/"
            f"{len(q['histogram'])}** · top-1 {q['top1']:.2f} · FD {s['fd'][-1][2]:.1f}")
    if q["class_accuracy"] is not None:
        text += f" · requested class recognised {q['class_accuracy']:.0%}"
    return text + (f"  \n{run.message}" if run.message else "")


def _plots(s: dict | None) -> tuple:
    """DataFrames of the histogram, the losses, mean D and the FD curve."""
    if s is None:
        return (None,) * 4
    q, c = s["quality"], s["curves"]
    names = [n if n == str(i) else f"{i} {n}" for i, n in enumerate(q["class_names"])]   # sorted as labelled
    hist = pd.DataFrame({"class": names, "samples": q["histogram"]})
    losses = pd.DataFrame({"step": c["step"] * 2, "value": c["d_loss"] + c["g_loss"],
                           "curve": ["D loss"] * len(c["step"]) + ["G loss"] * len(c["step"])})
    means = pd.DataFrame({"step": c["step"] * 2, "value": c["d_real"] + c["d_fake"],
                          "curve": ["D(real)"] * len(c["step"]) + ["D(fake)"] * len(c["step"])})
    fd = pd.DataFrame({"step": [p[0] for p in s["fd"]], "FD": [p[2] for p in s["fd"]]})
    return hist, losses, means, fd


def frame(run: Session, slots: int) -> tuple:
    """The outputs of a frame: grid, status, the four plots, the timeline slider's range."""
    s = run.snap
    grid = _png_html(s["grid"], "samples from the fixed latents", step=s["step"]) if s else gr.skip()
    n = s["timeline_frames"] if s else 0
    slider = gr.update(maximum=max(n - 1, 1), value=max(n - 1, 0)) if n else gr.skip()
    return (grid, _status(run, slots), *_plots(s), slider)


# -- handlers ------------------------------------------------------------------------------------------------
def downloading(sessions: ImageSessions, dataset: str):
    """Nothing when ``dataset`` is in the app's data folder; else, while it downloads there (in this process,
    one download however many visitors wait for it), its Download every DOWNLOAD_POLL_SECONDS, first at once.
    Refused with the one-line reason if it cannot be downloaded."""
    download = image_data.fetch(dataset, sessions.data_dir)
    if download is None:
        return
    yield download
    while not download.wait(DOWNLOAD_POLL_SECONDS):
        yield download
    if download.error is not None:
        raise Refused(str(download.error))


def restart(sessions: ImageSessions, values: dict, key: str, message: str = "", progress=None) -> Session:
    """A new run from the controls, swapped into the session between two frames (Refused if refused). If its
    data set must be downloaded first, ``progress`` (a gr.Progress) shows how far that got."""
    cfg = config_of(values)
    for download in downloading(sessions, cfg.dataset):
        if progress is not None:
            fetched, total, _ = download.progress()
            progress((fetched, total), desc=download.describe(), unit="files")
    remote = live.new_run(sessions.pool, cfg, data_dir=sessions.data_dir)
    old = sessions.get(key)
    if old is None or old.gone:
        run = Session(remote, cfg, generation=0 if old is None else old.generation + 1, message=message,
                      models={} if old is None else old.models)
        run.snap = run.call("snapshot", True)
        sessions.put(key, run)
        return run
    with old.lock:                 # between two ticks of a running stream, which goes on with the new run
        old.remote, old.config, old.message = remote, cfg, message
        old.snap = old.call("snapshot", True)
        old.generation += 1
        old.started_at_seconds = 0.0
    return old


def status_only(text: str) -> tuple:
    """The frame's outputs with only the status line changed (the pictures stay as they are)."""
    return (gr.skip(), text, *(gr.skip(),) * 5)


def shown(sessions: ImageSessions, run: Session) -> tuple:
    """A frame after a restart; a running stream draws the new run itself (one writer)."""
    if run.running:
        return status_only(_status(run, sessions.line.slots))
    return frame(run, sessions.line.slots)


def refused(sessions: ImageSessions, error: Exception, what: str, run: Session | None) -> tuple:
    text = warn(str(error), what, log)
    if run is not None:
        run.message = f"⚠ {text}"
    return status_only(_status(run, sessions.line.slots) if run else f"⚠ {text}")


def on_reset(sessions: ImageSessions, request: gr.Request, progress=gr.Progress(), **values):
    key = _key(request)
    try:
        return shown(sessions, restart(sessions, values, key, progress=progress))
    except Refused as e:
        return refused(sessions, e, "reset", sessions.get(key))


def on_rebuild(sessions: ImageSessions, request: gr.Request, progress=gr.Progress(), **values):
    key = _key(request)
    old = sessions.get(key)
    try:
        changed = [n for n in RESTART_FIELDS if old is not None and values.get(n) != getattr(old.config, n)]
        if not changed and old is not None and not old.gone:     # an event that changes no network setting
            return status_only(_status(old, sessions.line.slots))           # keeps the run
        what = ", ".join(BY_NAME[n].help for n in changed) or "a network setting"
        return shown(sessions, restart(sessions, values, key, f"New run: {what} changed, and that starts a new run.",
                                       progress))
    except Refused as e:
        return refused(sessions, e, "setting", old)


def on_start(sessions: ImageSessions, request: gr.Request, **values):
    """Download the data set if it is missing (showing how far that got), wait for a slot (showing the place
    in line), then train and stream frames until paused, capped or disconnected; restarts swap the run
    underneath."""
    key = _key(request)
    try:
        run = sessions.get(key)
        if run is None or run.gone:
            for download in downloading(sessions, config_of(values).dataset):
                yield status_only(f"**{download.describe()}**")
            run = restart(sessions, values, key)
    except Refused as e:
        yield refused(sessions, e, "start", sessions.get(key))
        return
    run.stream += 1             # a second Start (e.g. after a dropped connection) takes over from the first
    stream = run.stream
    run.running, run.message = True, ""
    alive = lambda: run.running and run.stream == stream and sessions.runs.get(key) is run  # noqa: E731
    try:
        while alive() and (place := sessions.line.ask(key)):
            run.place = place
            yield status_only(_status(run, sessions.line.slots))
            time.sleep(LINE_POLL_SECONDS)
        run.place = 0
        started = run.snap["train_seconds"] if run.snap else 0.0
        while alive():
            with run.lock:
                if run.snap and run.snap["train_seconds"] - started >= MAX_RUN_SECONDS:
                    run.running = False
                    run.message = "Paused: a run trains at most 10 minutes per Start. Press Start to go on."
                    break
                try:
                    run.snap = run.call("tick", FRAME_SECONDS)
                except Refused:
                    break
            sessions.line.ask(key)                   # still here: keep the slot
            yield frame(run, sessions.line.slots)
    finally:                                         # paused, capped, or the page went away mid-stream
        if run.stream == stream:
            sessions.line.leave(key)
            run.running, run.place = False, 0
    if sessions.runs.get(key) is run and run.stream == stream:
        yield frame(run, sessions.line.slots)       # the last frame, with "paused"


def on_pause(sessions: ImageSessions, request: gr.Request):
    run = sessions.get(_key(request))
    if run is not None:
        run.running = False
        sessions.line.leave(_key(request))
    return _status(run, sessions.line.slots)


def on_live_change(sessions: ImageSessions, request: gr.Request, **values):
    run = sessions.get(_key(request))
    if run is None or run.gone:
        return _status(run)
    try:
        cfg = config_of(values)
        changes = {k: getattr(cfg, k) for k in LIVE_FIELDS if getattr(cfg, k) != getattr(run.config, k)}
        if changes:
            with run.lock:
                run.call("update", **changes)
                run.config, run.message = cfg, ""
    except (Refused, ValueError) as e:
        return refused(sessions, e, "setting", run)[1]
    return _status(run, sessions.line.slots)


def on_preset(name: str):
    if name not in presets.PRESETS:
        warn(f"unknown preset {str(name)[:60]!r}.", "preset", log)
        return [gr.skip()] * (len(NAMES) + 1)
    values = image_config.to_dict(presets.PRESETS[name].config)
    return [gr.update(value=values[n]) for n in NAMES] + [presets.PRESETS[name].note]


def on_preset_reset(sessions: ImageSessions, request: gr.Request, progress=gr.Progress(), **values):
    key = _key(request)
    try:
        return shown(sessions, restart(sessions, values, key, "New run with the preset's settings.", progress))
    except Refused as e:
        return refused(sessions, e, "preset", sessions.get(key))


def trained(sessions: ImageSessions, key: str) -> Session:
    """The session's run, which has drawn at least one frame; Refused otherwise."""
    run = sessions.get(key)
    if run is None or run.gone or not run.snap:
        raise Refused("Nothing recorded yet: start training first.")
    return run


def on_scrub(sessions: ImageSessions, request: gr.Request, index):
    """The timeline's grid number ``index`` and its step."""
    try:
        run = trained(sessions, _key(request))
        step, seconds, png = run.call("timeline_frame", int(float(index)))
    except (Refused, ValueError, TypeError, IndexError) as e:
        warn(str(e), "timeline", log)
        return gr.skip(), gr.skip()
    return _png_html(png, f"the grid at step {step}", "live-image-past", step), \
        f"step **{step:,}** · {seconds:.0f} s of training"


def on_export_gif(sessions: ImageSessions, request: gr.Request):
    key = _key(request)
    try:
        run = trained(sessions, key)
        with run.lock:
            step = run.snap["step"]
            return run.call("save_gif", str(sessions.session_dir(key) / f"ganlab-{run.config.arch}-{step}.gif"))
    except (Refused, ValueError) as e:
        warn(str(e), "GIF export", log)
        return gr.skip()


def on_export_model(sessions: ImageSessions, app: App, request: gr.Request):
    """The run's generator as a checkpoint in the registry's live-models folder, added to this visitor's
    picker and picked: (the picker's update, the status line, the model's name for ``show_exported``)."""
    key = _key(request)
    try:
        run = trained(sessions, key)
        with run.lock:
            step, arch = run.snap["step"], run.config.arch
            name = f"live-{arch}-{run.config.dataset}-{_safe(key)[:8]}-{step}"
            run.call("save_checkpoint", str(sessions.models_root / name))
    except (Refused, ValueError, OSError) as e:
        warn(str(e), "model export", log)
        return gr.skip(), gr.skip(), None
    run.models[name] = arch
    run.message = (f"Exported **{name}** (step {step:,}): it is in the model picker now; open the Generate or "
                   "Interpolate tab to explore it.")
    return gr.update(choices=model_choices(app.registry), value=name), _status(run, sessions.line.slots), name


def exported_choices(sessions: ImageSessions, key: str) -> list[tuple[str, str]]:
    """The model picker's choices of the models the visitor ``key`` exported (common.model_choices adds them to
    every refresh of that visitor's picker)."""
    run = sessions.runs.get(key)
    return [(f"{display_name(arch)} (yours, live) · {name}", name)
            for name, arch in getattr(run, "models", {}).items()]


def show_exported(gen, name: str | None):
    """The exported model drawn in the Generate tab at once (its controls, its image), as a pick in the picker
    would; nothing when the export was refused."""
    return gr.skip() if name is None else gen.select_model(model=name)


def on_unload(sessions: ImageSessions, request: gr.Request):
    sessions.drop(_key(request))


def _start_workers(sessions: ImageSessions) -> None:
    """Start the workers with MNIST loaded, best effort: if that fails (no data, or the app is exiting), the
    first run does it and says why."""
    try:
        for _ in downloading(sessions, "mnist"):      # here, where the visitors' pages can show its progress
            pass
        sessions.pool.warm("mnist", sessions.data_dir)
    except (ValueError, *WORKER_ERRORS) as e:
        log.warning("live image: workers not warmed up: %s", str(e).splitlines()[0][:200] if str(e) else e)


def on_tab_open(sessions: ImageSessions) -> None:
    """The first time a visitor opens the tab: start the workers and load MNIST into them in the background
    (a torch process and the data set each, which an app whose visitors never train should not pay for)."""
    with sessions.lock:
        if sessions.warming is not None:
            return
        sessions.warming = threading.Thread(target=_start_workers, args=(sessions,), daemon=True,
                                            name="ganlab-image-workers")
    sessions.warming.start()


def build_live_image_tab(app: App, gen, sessions: ImageSessions, tab: gr.Tab | None = None) -> ImageSessions:
    """Create the tab's components in the current Blocks/Tab context and wire its events. ``gen``: what the
    Generate tab gives the others (a ``generate.GenerateView``): an exported model joins its picker and is drawn
    there at once (a bare model picker, gr.Dropdown, only gets the model). Opening ``tab`` warms the workers up
    (without a tab: now). Returns ``sessions`` (tests and benchmarks inspect it)."""
    picker = gen if isinstance(gen, gr.Dropdown) else gen.controls["model"]
    offer_to_visitors(app.registry, functools.partial(exported_choices, sessions))
    if tab is None:
        on_tab_open(sessions)
    else:
        tab.select(bind(on_tab_open, sessions), None, None, queue=False, api_visibility="private")
    first_name = presets.LECTURE_MLP
    first = presets.PRESETS[first_name]
    defaults = image_config.to_dict(first.config)
    c: dict[str, gr.components.Component] = {}

    gr.Markdown(INTRO)
    with gr.Row():
        preset = gr.Dropdown(list(presets.PRESETS), value=first_name, label="preset", elem_id="live-image-preset",
                             min_width=live.PRESET_WIDTH)
        for name in HEADLINE:
            c[name] = control(BY_NAME[name], defaults[name])
    note = gr.Markdown(first.note, elem_id="live-image-note")
    for title, applies_live in GROUPS:
        with gr.Accordion(title, open=False):
            c.update(control_rows(_grouped(applies_live), defaults))
    with gr.Row():
        start = gr.Button("▶ Start", variant="primary", elem_id="live-image-start")
        pause = gr.Button(live.PAUSE, elem_id="live-image-pause")
        reset = gr.Button("↺ Reset", elem_id="live-image-reset")
    status = gr.Markdown(_status(None), elem_id="live-image-status")
    with gr.Row():
        with gr.Column():
            grid = gr.HTML("<p>Press <b>Start</b>.</p>", elem_id="live-image-grid")
        with gr.Column():
            hist = gr.BarPlot(x="class", y="samples", title="classes of 256 fixed samples", sort=None, height=260,
                              x_title="class, as the classifier sees it", elem_id="live-image-hist")   # titles
            fd = gr.LinePlot(x="step", y="FD", title="FD to the test set (lower is better)", height=220)  # fit a phone
    with gr.Row():
        losses = gr.LinePlot(x="step", y="value", color="curve", title="losses", height=220)
        means = gr.LinePlot(x="step", y="value", color="curve", title="mean D(real), D(fake)", height=220)
    with gr.Accordion("Timeline: scrub back through the run", open=True):
        with gr.Row():
            timeline = gr.Slider(0, 1, 0, step=1, label="grid number", elem_id="live-image-timeline")
            when = gr.Markdown("", elem_id="live-image-when")
        past = gr.HTML("", elem_id="live-image-past")
    with gr.Row():
        export_gif = gr.Button("export GIF", elem_id="live-image-export-gif")
        export_model = gr.Button("export model (joins your model picker)", elem_id="live-image-export-model")
        export_file = gr.File(label="download", interactive=False, elem_id="live-image-file")
    gr.Markdown(EXPLAIN)

    outputs = [grid, status, hist, losses, means, fd, timeline]
    controls = {**UNPROCESSED, "inputs_kwargs": c}
    train_events = dict(concurrency_id="live_image_train", concurrency_limit=2 * sessions.line.slots + 2, **controls)
    reset.click(bind(on_reset, sessions), None, outputs, api_name="live_image_reset", **train_events)
    start.click(bind(on_start, sessions), None, outputs, api_name="live_image_start", show_progress="hidden",
                concurrency_id="live_image_stream", concurrency_limit=None, **controls)
    pause.click(bind(on_pause, sessions), None, status, api_name="live_image_pause", show_progress="hidden")
    gr.on([c[n].input for n in NAMES if n in LIVE_FIELDS], bind(on_live_change, sessions), None, status,
          api_name="live_image_update", show_progress="hidden", **controls)
    gr.on([c[n].input for n in NAMES if n in RESTART_FIELDS], bind(on_rebuild, sessions), None, outputs,
          api_name="live_image_rebuild", **train_events)
    preset.input(on_preset, preset, [*(c[n] for n in NAMES), note], api_name="live_image_preset",
                 **UNPROCESSED).then(bind(on_preset_reset, sessions), None, outputs,
                                     api_name="live_image_preset_reset", **train_events)
    timeline.input(bind(on_scrub, sessions), timeline, [past, when], api_name="live_image_timeline",
                   show_progress="hidden", trigger_mode="always_last", **UNPROCESSED)
    export_gif.click(bind(on_export_gif, sessions), None, export_file, api_name="live_image_export_gif")
    exported = gr.State(None)           # the name of the model just exported (None: refused)
    exporting = export_model.click(bind(on_export_model, sessions, app), None, [picker, status, exported],
                                   api_name="live_image_export_model")
    if not isinstance(gen, gr.Dropdown):
        exporting.success(bind(show_exported, gen), exported, gen.all_outputs, api_visibility="private")
    root = gr.context.Context.root_block
    if root is not None:
        root.unload(bind(on_unload, sessions))
    return sessions


def models_root() -> Path:
    """A fresh folder for the models visitors export (one per app; removed at exit)."""
    folder = Path(tempfile.mkdtemp(prefix="ganlab-live-models-"))
    import atexit
    atexit.register(shutil.rmtree, folder, True)
    return folder


def new_sessions(data_dir: str | os.PathLike | None = None, slots: int | None = None,
                 workers: int | None = None) -> ImageSessions:
    """The tab's sessions: runs find their data in ``data_dir`` (default $GANLAB_DATA_DIR, else ``data``), at
    most ``slots`` train at once (default one per core), exported models go to a fresh folder."""
    return ImageSessions(models_root(), slots=slots, workers=workers,
                         data_dir=None if data_dir is None else str(data_dir))
