"""The "Live training" tab: watch the lectures' 2-D toy GAN learn, in the browser.

Every browser session has a :class:`Session` (its run, a ganlab.toy.runs.ToyRun held in a worker process of a
RunPool) in a registry keyed by Gradio's session hash. Training only happens inside the Start event, a
generator: each ``tick`` of the run trains for a short time budget and renders a frame, which the event
yields, about 12 times a second until Pause, a cap, or the page closing (Gradio cancels a closed page's events
and the unload event drops its session). Streaming from one event avoids a request round trip per frame.

One writer while training: Reset, a restarting setting, a preset or new data swap the session's run between
two ticks (under the session's lock) and the stream goes on with the new run; while a stream runs they draw
nothing themselves. So a frame of an old run can never land after the new run's (Gradio re-sends a stream's
last frame when the stream ends, after any other event's output).

Every control comes from the settings table ganlab.toy.config.FIELDS (type, range, default, live or restart,
label), and the events take the controls' values unprocessed: the table checks each one (one rule). A refused
input (an empty drawing, a bad CSV, a value out of range) changes no control: its message is shown once, as a
warning (ganlab.ui.common.warn) and in the status line, and logged as one line.

The handlers are module-level functions taking the session registry first (bound by build_live_tab with
ganlab.ui.common.bind) and the controls' values as keyword arguments named after the settings.
"""
from __future__ import annotations

import base64
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np

from ganlab import toy
from ganlab.toy import presets, render
from ganlab.toy.runs import WORKER_ERRORS, RunPool, WorkerGone

from .common import UNPROCESSED, Refused, bind, refuse, warn
from .drawing import CANVAS_SIZE, drawing_canvas

log = logging.getLogger("ganlab.live")

MAX_RUNNING = 4             # runs that may train at once on this server
WORKERS = min(MAX_RUNNING, os.cpu_count() or 1)   # worker processes the runs are spread over
MAX_RUN_SECONDS = 300.0     # a run pauses itself after this much training since its last Start
MAX_RUN_ITERATIONS = 1_000_000  # ... or this many iterations since its last Start
STALE_SECONDS = 20.0        # a "running" session that has not produced a frame for this long no longer counts
IDLE_DROP_SECONDS = 3600.0  # sessions untouched for this long are dropped (pages that never unloaded)
WORKER_GONE = ("The training worker stopped (the server may be short of memory), and this run with it: "
               "press Reset or Start for a new run.")
HEADLINE = ("dataset", "loss", "seed")   # the controls in the top row; the others go by live / restart
GROUPS = (("Training (applies immediately)", True), ("Networks, optimizer (a change starts a new run)", False))
PRESET_WIDTH = 300                       # px: a preset's name stays readable (a phone gives it a row of its own)
MIN_PANEL_WIDTH = 300                    # px: the picture's panels (plane, curves) stack rather than get narrower
PANEL_ALT = ("live GAN training: the data plane", "live GAN training: loss, mean D and distance curves")
PAUSE = "‖ Pause"                        # ‖: a glyph every font has (⏸ showed as an empty box)
CSV_TYPES = [".csv", ".txt"]             # what the CSV upload takes

INTRO = """\
### Toy GAN: a GAN on points in the plane
Pick a dataset and press **Start**. The generator G turns random noise into **purple** points; the real data
is **green**. The background is the discriminator D: green where D says "real", purple where it says "fake".
The faint purple lines are G's *manifold* (the image of a line or grid of latents), and the small arrows
show where G's loss pushes each fake point, which is up the slope of D. Tick **naive generator** to train,
alongside, the lecture's first attempt (**orange squares**, drawn on top): the same network pulled towards its
nearest real point, which lands on the data but in a narrow range, since nothing in its loss asks for variety.
"""

EXPLAIN = """\
**Reading the curves.** *loss*: D's and G's losses per iteration. *mean D*: the average D(real) and D(fake);
at the equilibrium of the original GAN both tend to 0.5 (for LSGAN, WGAN-GP and hinge, D is a raw score).
*distance*: the grid Jensen–Shannon divergence in bits (0 = same histogram, 1 = no overlap) on a 30×30 grid
over the real data's bounding box, and the sliced Wasserstein distance.

**Experiments.** Each entry of *experiment* sets every control for one effect and starts a fresh run; its note
says what to look for. Training settings apply immediately; Reset, the network settings, the dataset, the
seed and the optimizer start a new run (training goes on if it was running). A run pauses itself after
5 minutes of training; press Start to continue.
"""


@dataclass
class Session:
    """One browser session's run and what the tab keeps about it."""
    remote: object                      # a ganlab.toy.runs.ToyRun, or a proxy to one in a worker process
    config: toy.ToyConfig               # the run's settings, as last applied
    info: dict = field(default_factory=dict)   # the run's status (ToyRun.status) at its last frame
    generation: int = 0                 # how many runs this session has had: +1 at every restart
    running: bool = False
    gone: bool = False                  # its worker process died: the run is lost
    started_at_seconds: float = 0.0     # info["train_seconds"] at the last Start
    started_at_iteration: int = 0       # info["iteration"] at the last Start
    last_tick: float = field(default_factory=time.monotonic)   # when the run last produced a frame
    stream: int = 0                     # id of the Start event currently streaming this session
    last_seen: float = field(default_factory=time.monotonic)
    message: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, method: str, *args, **kwargs):
        """The run's ``method`` (in its worker); a dead worker marks the run gone and raises Refused."""
        try:
            return getattr(self.remote, method)(*args, **kwargs)
        except WORKER_ERRORS:
            self.running, self.gone = False, True
            log.warning("live: a training worker stopped; the session's run is lost")
            raise Refused(WORKER_GONE) from None

    def show(self, method: str, *args, **kwargs) -> str:
        """Call a method returning ((plane JPEG, curves JPEG), status), keep the status, return the frame as HTML."""
        panels, self.info = self.call(method, *args, **kwargs)
        return _frame_html(panels, self.generation)


class LiveSessions:
    """Sessions keyed by session hash, with a cap on how many train at once; the runs live in ``pool``."""

    def __init__(self, max_running: int = MAX_RUNNING, workers: int = WORKERS):
        self.max_running = max_running
        self.pool = RunPool(workers)
        self.runs: dict[str, Session] = {}
        self.points: dict[str, np.ndarray] = {}  # each session's own data, once drawn or uploaded
        self.lock = threading.Lock()
        self.tmp: Path | None = None  # created on the first export

    def get(self, key: str) -> Session | None:
        run = self.runs.get(key)
        if run is not None:
            run.last_seen = time.monotonic()
        return run

    def put(self, key: str, run: Session) -> None:
        with self.lock:
            now = time.monotonic()
            for k in [k for k, r in self.runs.items() if now - r.last_seen > IDLE_DROP_SECONDS]:
                self.drop(k, locked=True)
            self.runs[key] = run

    def running_count(self, exclude: str | None = None) -> int:
        now = time.monotonic()
        count = 0
        for k, r in list(self.runs.items()):
            if r.running and now - r.last_tick > STALE_SECONDS:
                r.running = False  # its page stopped asking: count it as paused
            count += r.running and k != exclude
        return count

    def try_start(self, key: str, run: Session) -> bool:
        with self.lock:
            if not run.running and self.running_count(exclude=key) >= self.max_running:
                return False
            if not run.running:
                run.started_at_seconds = run.info.get("train_seconds", 0.0)
                run.started_at_iteration = run.info.get("iteration", 0)
            run.running, run.last_tick = True, time.monotonic()
            return True

    def drop(self, key: str, locked: bool = False) -> None:
        if locked:
            run = self.runs.pop(key, None)
            if run is not None:
                run.running = False  # its Start generator, if any, ends at its next frame
            self.points.pop(key, None)
        else:
            with self.lock:
                self.drop(key, locked=True)
        if self.tmp is not None:
            shutil.rmtree(self.tmp / _safe(key), ignore_errors=True)

    def session_dir(self, key: str) -> Path:
        if self.tmp is None:
            self.tmp = Path(tempfile.mkdtemp(prefix="ganlab-live-"))
        folder = self.tmp / _safe(key)
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _safe(key: str) -> str:
    return "".join(c for c in key if c.isalnum() or c in "-_")[:64] or "session"


def _start_workers(pool: RunPool) -> None:
    """Start the workers in the background, best effort: if that fails (the app is exiting), the first run
    starts its worker instead."""
    try:
        pool.start()
    except WORKER_ERRORS:
        pass


def _key(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


def _grouped(live: bool) -> list[toy.Field]:
    """The settings of one accordion (live or restarting), less the top row's."""
    return [f for f in toy.FIELDS if f.live == live and f.name not in HEADLINE]


NAMES = [*HEADLINE, *(f.name for _, live in GROUPS for f in _grouped(live))]   # the controls, in the page's order


def config_of(values: dict) -> toy.ToyConfig:
    """The config the controls describe (their values keyed by field name); Refused naming a bad field."""
    try:
        return toy.from_dict({k: values[k] for k in toy.BY_NAME if k in values})
    except (ValueError, TypeError) as e:
        raise Refused(str(e)) from None


def control(f: toy.Field, value) -> gr.components.Component:
    """The control of one settings field: a checkbox, radio buttons or a dropdown of its choices, a slider over
    its range, or a number box. Its events take it unprocessed: the table checks every value (one rule), so a
    refused value is one message in the status line, never an error badge on the outputs or a traceback in the
    log, and a number box's 1.5 is refused rather than silently rounded."""
    if f.type is bool:
        return gr.Checkbox(value, label=f.help)
    if f.type is str:
        return (gr.Radio if len(f.range) <= 3 else gr.Dropdown)(list(f.range), value=value, label=f.help)
    if f.step is not None:
        return gr.Slider(f.range[0], f.range[1], value, step=f.step, label=f.help)
    lo, hi = (f"{v:,}" if f.type is int else f"{v:g}" for v in f.range)
    return gr.Number(value, label=f"{f.help} ({lo} to {hi})")


def control_rows(fields: list, defaults: dict, per_row: int = 4) -> dict:
    """The controls of ``fields`` (settings-table fields), ``per_row`` to a row, at ``defaults``: name → control."""
    out = {}
    for i in range(0, len(fields), per_row):
        with gr.Row():
            for f in fields[i:i + per_row]:
                out[f.name] = control(f, defaults[f.name])
    return out


def refused(error: Exception, what: str, run: Session | None) -> str:
    """The status line after a refused input, shown once (common.warn: a warning toast and one log line)."""
    message = "⚠ " + warn(error, what, log)
    if run is None:
        return message
    run.message = message
    return _status(run)


def _frame_html(panels: tuple[bytes, bytes], generation: int = 0) -> str:
    """The frame's two panels as JPEG-in-HTML (no files: ten frames a second must not fill Gradio's cache): side by
    side at their own size where they fit, narrower in proportion down to MIN_PANEL_WIDTH each, else stacked
    (a phone), each as wide as the window (the row is a flex box: common.CSS)."""
    return "".join(
        f'<img src="data:image/jpeg;base64,{base64.b64encode(jpeg).decode("ascii")}" alt="{alt}" '
        f'data-run="{generation}" class="live-panel" style="flex:{width} 1 0;max-width:{width}px;'
        f'min-width:min({MIN_PANEL_WIDTH}px,100%)"/>'
        for jpeg, width, alt in zip(panels, (render.PLANE_SIZE, render.CURVES_WIDTH), PANEL_ALT))


def _status(run: Session | None) -> str:
    if run is None:
        return "No run yet: press **Start** or **Reset**."
    if run.gone:
        return WORKER_GONE
    i = run.info
    state = "training" if run.running else "paused"
    text = (f"**{state}** · run {run.generation + 1} · iteration **{i['iteration']:,}** · "
            f"**{i['its_per_second']:,.0f} it/s** · grid JS {i['js']:.3f} bits · sliced W {i['sw']:.3f}")
    if i["naive_js"] is not None:
        text += f" · naive G JS {i['naive_js']:.3f} bits"
    return text + (f"  \n{run.message}" if run.message else "")


# -- the handlers: the sessions first, bound by build_live_tab (common.bind) ----------------------------------------
def new_run(pool, *args, **kwargs):
    """``pool.create(*args, **kwargs)``: a run in a worker; Refused with the reason for a refused config, or
    saying that the worker stopped."""
    try:
        return pool.create(*args, **kwargs)
    except ValueError as e:
        raise Refused(str(e)) from None
    except (WorkerGone, *WORKER_ERRORS):
        raise Refused(WORKER_GONE) from None


def restart(sessions: LiveSessions, values: dict, key: str, message: str = "") -> Session:
    """A new run from the controls, swapped into the session between two frames (Refused if refused)."""
    cfg = config_of(values)
    points = sessions.points.get(key) if cfg.dataset == "points" else None
    if cfg.dataset == "points" and points is None:
        raise Refused('dataset "points" needs your data: draw on the canvas or upload a CSV first.')
    remote = new_run(sessions.pool, cfg, points=points)
    old = sessions.get(key)
    if old is None or old.gone:
        run = Session(remote, cfg, generation=0 if old is None else old.generation + 1, message=message)
        run.info = run.call("status")
        sessions.put(key, run)
        return run
    with old.lock:                 # between two ticks of a running stream, which goes on with the new run
        old.remote, old.config, old.message = remote, cfg, message
        old.info = old.call("status")
        old.generation += 1
        old.started_at_seconds = old.started_at_iteration = 0
    return old


def shown(run: Session) -> tuple:
    """(frame, status) after a restart: a running stream draws the new run itself (one writer)."""
    if run.running:
        return gr.skip(), _status(run)
    with run.lock:
        return run.show("frame", record=True), _status(run)


def ensure(sessions: LiveSessions, values: dict, key: str) -> Session:
    run = sessions.get(key)
    return run if run is not None and not run.gone else restart(sessions, values, key)


def on_reset(sessions: LiveSessions, request: gr.Request, **values):
    key = _key(request)
    try:
        return shown(restart(sessions, values, key))
    except Refused as e:
        return gr.skip(), refused(e, "reset", sessions.get(key))


def on_rebuild(sessions: LiveSessions, request: gr.Request, **values):
    key = _key(request)
    old = sessions.get(key)
    try:
        first = next(iter(presets.PRESETS.values())).config                    # no run yet: the page's start
        before = toy.to_dict(old.config if old is not None else first)
        changed = [n for n in toy.RESTART_FIELDS if values.get(n) != before[n]]
        if not changed and old is not None and not old.gone:
            return gr.skip(), _status(old)       # an event that changes no network setting keeps the run
        what = ", ".join(toy.BY_NAME[n].help for n in changed)
        message = f"New run: {what} changed, and that starts a new run." if what else "New run."
        return shown(restart(sessions, values, key, message))
    except Refused as e:
        return gr.skip(), refused(e, "setting", old)


def on_start(sessions: LiveSessions, request: gr.Request, **values):
    """Train and stream frames until paused, capped or disconnected; restarts swap the run underneath."""
    key = _key(request)
    try:
        run = ensure(sessions, values, key)
    except Refused as e:
        yield gr.skip(), refused(e, "start", sessions.get(key))
        return
    if not sessions.try_start(key, run):
        run.message = (f"The server is busy: {sessions.max_running} runs are training right now. "
                       "Try again in a minute.")
        gr.Warning(run.message)
        yield gr.skip(), _status(run)
        return
    run.message = ""
    run.stream += 1  # a second Start (e.g. after a dropped connection) takes over from the first stream
    stream = run.stream
    while run.running and run.stream == stream and sessions.runs.get(key) is run:
        with run.lock:
            left_seconds = MAX_RUN_SECONDS - (run.info["train_seconds"] - run.started_at_seconds)
            left_steps = MAX_RUN_ITERATIONS - (run.info["iteration"] - run.started_at_iteration)
            if left_seconds <= 0 or left_steps <= 0:
                run.running = False
                run.message = ("Paused: a run trains at most 5 minutes or 1,000,000 iterations per "
                               "Start. Press Start to continue.")
                break
            try:
                html = run.show("tick", max_seconds=left_seconds, max_steps=left_steps)
            except Refused:
                break
        run.last_tick = time.monotonic()
        yield html, _status(run)
    if sessions.runs.get(key) is not run or run.stream != stream:
        return  # the page closed, or another Start took over
    with run.lock:               # the last frame is the session's current run, whatever happened meanwhile
        html = gr.skip() if run.gone else run.show("frame")
    yield html, _status(run)


def on_pause(sessions: LiveSessions, request: gr.Request):
    run = sessions.get(_key(request))
    if run is not None:
        run.running = False
    return _status(run)


def on_step(sessions: LiveSessions, request: gr.Request, **values):
    key = _key(request)
    try:
        run = ensure(sessions, values, key)
        with run.lock:
            return run.show("step", 1), _status(run)
    except Refused as e:
        return gr.skip(), refused(e, "step", sessions.get(key))


def on_frame(sessions: LiveSessions, request: gr.Request):
    """The current frame, without training (for API clients that poll)."""
    run = sessions.get(_key(request))
    if run is None or run.gone:
        return gr.skip(), _status(run)
    with run.lock:
        try:
            return run.show("frame"), _status(run)
        except Refused:
            return gr.skip(), _status(run)


def on_live_change(sessions: LiveSessions, request: gr.Request, **values):
    run = sessions.get(_key(request))
    if run is None or run.gone:
        return _status(run)
    try:
        cfg = config_of(values)
        changes = {k: getattr(cfg, k) for k in toy.LIVE_FIELDS if getattr(cfg, k) != getattr(run.config, k)}
        if changes:
            with run.lock:
                run.info = run.call("update", **changes)
                run.config = run.call("config")
                run.message = ""
    except ValueError as e:                  # Refused, or the run's own check of the new values
        return refused(e, "setting", run)
    return _status(run)


def on_preset(name: str):
    """An experiment picked: every control set to its settings, and its note."""
    if name not in presets.PRESETS:
        return refuse(f"unknown experiment {str(name)[:40]!r}.", "experiment", log)
    values = toy.to_dict(presets.PRESETS[name].config)
    return [gr.update(value=values[n]) for n in NAMES] + [presets.PRESETS[name].note]


def on_preset_reset(sessions: LiveSessions, request: gr.Request, **values):
    key = _key(request)
    try:
        return shown(restart(sessions, values, key, "New run with the experiment's settings."))
    except Refused as e:
        return gr.skip(), refused(e, "experiment", sessions.get(key))


def use_points(sessions: LiveSessions, points_fn, source, values: dict, request: gr.Request, what: str) -> tuple:
    """(frame, status, dataset): a new run on the user's points, or the refusal."""
    key = _key(request)
    try:
        if source is None:
            raise Refused("Choose a CSV file first." if what == "csv" else
                          "The drawing is empty: draw a few strokes first.")
        try:
            points = points_fn(source)
        except ValueError as e:          # the parsers' messages name the line or the problem
            raise Refused(str(e)) from None
        sessions.points[key] = points
        run = restart(sessions, values | {"dataset": "points"}, key, f"Training on your {len(points):,} points.")
    except Refused as e:
        return gr.skip(), refused(e, what, sessions.get(key)), gr.skip()
    return (*shown(run), gr.update(value="points"))


def on_drawing(sessions: LiveSessions, request: gr.Request, drawing, **values):
    return use_points(sessions, lambda s: toy.points_from_strokes(s, size=CANVAS_SIZE), drawing or "", values,
                      request, "drawing")


def csv_points(upload: dict) -> np.ndarray:
    """The points of an uploaded CSV, as Gradio hands the upload over unprocessed (its FileData: a file Gradio
    has checked into its cache). The suffix rule is the one the upload control offers (CSV_TYPES)."""
    path = Path(upload["path"])
    if path.suffix.lower() not in CSV_TYPES:
        raise ValueError(f"Choose a CSV file ({' or '.join(CSV_TYPES)}), not a {path.suffix or 'suffix-less'} file.")
    return toy.points_from_csv(path)


def on_csv(sessions: LiveSessions, request: gr.Request, csv_file, **values):
    return use_points(sessions, csv_points, csv_file or None, values, request, "csv")


def on_export_gif(sessions: LiveSessions, request: gr.Request):
    key = _key(request)
    run = sessions.get(key)
    try:
        if run is None or run.gone or not run.info.get("gif_frames"):
            raise Refused("Nothing to export yet: start training first.")
        return run.call("save_gif", str(sessions.session_dir(key) / f"ganlab-live-{run.info['iteration']}.gif"))
    except ValueError as e:                  # Refused, or the run's own refusal
        refused(e, "GIF export", run)
        return gr.skip()


def on_export_checkpoint(sessions: LiveSessions, request: gr.Request):
    key = _key(request)
    run = sessions.get(key)
    try:
        if run is None or run.gone:
            raise Refused("Nothing to export yet: start training first.")
        with run.lock:
            return run.call("save_checkpoint", str(sessions.session_dir(key) / f"toy2d-{run.info['iteration']}.zip"))
    except Refused as e:
        refused(e, "checkpoint export", run)
        return gr.skip()


def on_unload(sessions: LiveSessions, request: gr.Request):
    sessions.drop(_key(request))


# -- the tab ---------------------------------------------------------------------------------------------------
def build_live_tab(max_running: int = MAX_RUNNING, workers: int | None = None) -> LiveSessions:
    """Create the tab's components in the current Blocks/Tab context and wire its events. The runs train in
    ``workers`` processes (default: one per core, up to max_running; 0 trains in this process).

    Returns the session registry (tests and benchmarks can inspect it).
    """
    sessions = LiveSessions(max_running, min(max_running, WORKERS) if workers is None else workers)
    threading.Thread(target=_start_workers, args=(sessions.pool,), daemon=True, name="ganlab-live-workers").start()
    first = next(iter(presets.PRESETS.values()))
    defaults = toy.to_dict(first.config)
    c: dict[str, gr.components.Component] = {}

    gr.Markdown(INTRO)
    with gr.Row():
        preset = gr.Dropdown(list(presets.PRESETS), value=next(iter(presets.PRESETS)), label="experiment",
                             min_width=PRESET_WIDTH)
        for name in HEADLINE:
            c[name] = control(toy.BY_NAME[name], defaults[name])
    note = gr.Markdown(first.note, elem_id="live-note")
    for title, live in GROUPS:
        with gr.Accordion(title, open=False):
            c.update(control_rows(_grouped(live), defaults))
    with gr.Accordion("Your own data", open=False):
        with gr.Row():
            # a plain 2-D canvas that runs code only while the pointer draws (Gradio's Sketchpad, a WebGL editor,
            # kept ~100 % of a core busy in the browser while training, and Pause took seconds to register)
            sketch = drawing_canvas(elem_id="live-canvas")
            with gr.Column():
                use_drawing = gr.Button("train on my drawing", variant="primary")
                csv_file = gr.File(label=f"or a CSV of x,y rows (≤ {toy.MAX_POINTS:,})", file_types=CSV_TYPES,
                                   type="filepath")
                use_csv = gr.Button("train on my CSV")
    with gr.Row():
        start = gr.Button("▶ Start", variant="primary")
        pause = gr.Button(PAUSE)
        step = gr.Button("Step (1 iteration)")
        reset = gr.Button("↺ Reset")
        refresh = gr.Button("refresh", visible=False)  # API only: /live_frame renders without training
    frame = gr.HTML("<p>Press <b>Start</b>.</p>", label="training", elem_id="live-frame")
    status = gr.Markdown(_status(None), elem_id="live-status")
    with gr.Row():
        export_gif = gr.Button("export GIF")
        export_ckpt = gr.Button("export checkpoint (safetensors + JSON, zipped)")
        export_file = gr.File(label="download", interactive=False)
    gr.Markdown(EXPLAIN)

    # -- the wiring: the controls go in by name (the API's parameters), unprocessed (the table checks them) ------
    controls = {**UNPROCESSED, "inputs_kwargs": c}
    train_events = dict(concurrency_id="live_train", concurrency_limit=max_running + 2, **controls)
    reset.click(bind(on_reset, sessions), None, [frame, status], api_name="live_reset", **train_events)
    start.click(bind(on_start, sessions), None, [frame, status], api_name="live_start", show_progress="hidden",
                concurrency_id="live_stream", concurrency_limit=max_running + 1, **controls)
    pause.click(bind(on_pause, sessions), None, status, api_name="live_pause", show_progress="hidden")
    step.click(bind(on_step, sessions), None, [frame, status], api_name="live_step", **train_events)
    refresh.click(bind(on_frame, sessions), None, [frame, status], api_name="live_frame", show_progress="hidden")
    gr.on([c[n].input for n in NAMES if n in toy.LIVE_FIELDS], bind(on_live_change, sessions), None, status,
          api_name="live_update", show_progress="hidden", **controls)
    gr.on([c[n].input for n in NAMES if n in toy.RESTART_FIELDS], bind(on_rebuild, sessions), None,
          [frame, status], api_name="live_rebuild", **train_events)
    preset.input(on_preset, preset, [*c.values(), note], api_name="live_preset", **UNPROCESSED).then(
        bind(on_preset_reset, sessions), None, [frame, status], api_name="live_preset_reset", **train_events)
    use_drawing.click(bind(on_drawing, sessions), None, [frame, status, c["dataset"]], api_name="live_use_drawing",
                      **{**train_events, "inputs_kwargs": {"drawing": sketch, **c}})
    use_csv.click(bind(on_csv, sessions), None, [frame, status, c["dataset"]], api_name="live_use_csv",
                  **{**train_events, "inputs_kwargs": {"csv_file": csv_file, **c}})
    export_gif.click(bind(on_export_gif, sessions), None, export_file, api_name="live_export_gif")
    export_ckpt.click(bind(on_export_checkpoint, sessions), None, export_file, api_name="live_export_checkpoint")
    root = gr.context.Context.root_block
    if root is not None:
        root.unload(bind(on_unload, sessions))
    return sessions


if __name__ == "__main__":
    with gr.Blocks(title="ganlab: live training") as demo, gr.Tab("Live training"):
        build_live_tab()
    demo.launch()
