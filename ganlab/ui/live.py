"""The "Live training" tab: watch the lectures' 2-D toy GAN learn, in the browser.

Every browser session has its own run (a ganlab.toyrun.ToyRun, held in a worker process of a RunPool) in a
registry keyed by Gradio's session hash. Training only happens inside the Start event, a generator: each
``tick`` of the run trains for a short time budget and renders a frame, which the event yields, about 12 times
a second until Pause, Reset, a cap, or the page closing (Gradio cancels a closed page's events and the unload
event drops its run). Streaming from one event avoids a request round trip per frame, which on a busy 2-core
server costs 0.2 s or more: a gr.Timer at 0.1 s could not keep 10 frames/s there. The workers keep the
training off the server's GIL (see ganlab.toyrun). This module only wires; the maths lives in ganlab.toy.
"""
from __future__ import annotations

import base64
import dataclasses
import inspect
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
from ganlab.models.toy import ACTIVATIONS, ToyConfig
from ganlab.toyrun import WORKER_ERRORS, RunPool, WorkerGone

MAX_RUNNING = 4             # runs that may train at once on this server
WORKERS = min(MAX_RUNNING, os.cpu_count() or 1)   # worker processes the runs are spread over
MAX_RUN_SECONDS = 300.0     # a run pauses itself after this much training since its last Start
MAX_RUN_ITERATIONS = 1_000_000  # ... or this many iterations since its last Start
STALE_SECONDS = 20.0        # a "running" run that has not produced a frame for this long no longer counts
IDLE_DROP_SECONDS = 3600.0  # runs untouched for this long are dropped (pages that never unloaded)
WORKER_GONE = ("The training worker stopped (the server may be short of memory), and this run with it: "
               "press Reset or Start for a new run.")
PRESETS = {"recommended (fast)": toy.default_config, "lecture (parabola)": toy.lecture_config}

INTRO = """\
### Live training: a GAN on points in the plane
Pick a dataset and press **Start**. The generator G turns random noise into **purple** points; the real data
is **green**. The background is the discriminator D: green where D says "real", purple where it says "fake".
The faint purple lines are G's *manifold* (the image of a line or grid of latents), and the small arrows
show where G's loss pushes each fake point, which is up the slope of D. Tick **naive generator** to train,
alongside, the lecture's first attempt (orange): the same network pulled towards its nearest real point,
which lands on the data but in a narrow range, since nothing in its loss asks for variety.
"""

EXPLAIN = """\
**Reading the curves.** *loss*: D's and G's losses per iteration. *mean D*: the average D(real) and D(fake);
at the equilibrium of the original GAN both tend to 0.5 (for LSGAN, WGAN-GP and hinge, D is a raw score).
*distance*: the grid Jensen–Shannon divergence in bits (0 = same histogram, 1 = no overlap) on a 30×30 grid
over the real data's bounding box, and the sliced Wasserstein distance.

**Things to try.** Switch the loss to *minimax* and watch G stall when D wins; set D steps to 5; use latent
dimension 1 (G can only draw a curve); lower β1 to 0.5 or raise it to 0.9; draw your own data.
Training, loss and learning-rate settings apply immediately; network changes start a new run.
A run pauses itself after 5 minutes of training; press Start to continue.
"""

LIVE_CONTROLS = ("loss", "lr_g", "lr_d", "beta1_g", "beta2_g", "beta1_d", "beta2_d", "d_steps", "batch_size",
                 "label_smoothing", "top_k", "top_k_anneal_steps", "gp_weight", "ema_decay", "naive")
NET_CONTROLS = ("dataset", "latent_dim", "noise", "g_depth", "g_width", "g_activation", "d_depth", "d_width",
                "d_activation", "optimizer", "seed")
MODEL_FIELDS = {f.name for f in dataclasses.fields(ToyConfig)}
FLOAT_CONTROLS = ("lr_g", "lr_d", "beta1_g", "beta2_g", "beta1_d", "beta2_d", "label_smoothing", "top_k",
                  "gp_weight", "ema_decay")
STR_CONTROLS = ("dataset", "loss", "noise", "g_activation", "d_activation", "optimizer")


@dataclass
class LiveRun:
    """One session's run and what the tab keeps about it."""
    remote: object                      # a ganlab.toyrun.ToyRun, or a proxy to one in a worker process
    config: toy.ToyTrainConfig          # the run's settings, as last applied
    info: dict = field(default_factory=dict)   # the run's status (ToyRun.status) at its last frame
    running: bool = False
    gone: bool = False                  # its worker process died: the run is lost
    started_at_seconds: float = 0.0     # info["train_seconds"] at the last Start
    started_at_iteration: int = 0       # info["iteration"] at the last Start
    last_tick: float = field(default_factory=time.monotonic)   # when the run last produced a frame
    stream: int = 0                     # id of the Start event currently streaming this run
    last_seen: float = field(default_factory=time.monotonic)
    message: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, method: str, *args, **kwargs):
        """The run's ``method`` (in its worker); a dead worker marks the run gone and raises gr.Error."""
        try:
            return getattr(self.remote, method)(*args, **kwargs)
        except WORKER_ERRORS:
            self.running, self.gone = False, True
            raise gr.Error(WORKER_GONE) from None

    def show(self, method: str, *args, **kwargs) -> str:
        """Call a method returning (JPEG, status), keep the status, return the frame as HTML."""
        jpeg, self.info = self.call(method, *args, **kwargs)
        return _frame_html(jpeg)


class LiveSessions:
    """Runs keyed by session hash, with a cap on how many train at once; the runs live in ``pool``."""

    def __init__(self, max_running: int = MAX_RUNNING, workers: int = WORKERS):
        self.max_running = max_running
        self.pool = RunPool(workers)
        self.runs: dict[str, LiveRun] = {}
        self.points: dict[str, np.ndarray] = {}  # each session's own data, once drawn or uploaded
        self.lock = threading.Lock()
        self.tmp: Path | None = None  # created on the first export

    def get(self, key: str) -> LiveRun | None:
        run = self.runs.get(key)
        if run is not None:
            run.last_seen = time.monotonic()
        return run

    def put(self, key: str, run: LiveRun) -> None:
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

    def try_start(self, key: str, run: LiveRun) -> bool:
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


def _named_inputs(fn, names: list[str]):
    """Wrap fn(values: dict, request) as fn(<one parameter per name>, request: gr.Request), so Gradio injects
    the request and its API names each parameter after its control (/live_start takes dataset=..., lr_g=...)."""
    if inspect.isgeneratorfunction(fn):
        def wrapper(*args):
            yield from fn(dict(zip(names, args[:-1])), args[-1])
    else:
        def wrapper(*args):
            return fn(dict(zip(names, args[:-1])), args[-1])
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    wrapper.__signature__ = inspect.Signature(
        [inspect.Parameter(n, kind) for n in names] + [inspect.Parameter("request", kind, annotation=gr.Request)])
    wrapper.__annotations__ = {"request": gr.Request}
    wrapper.__name__ = wrapper.__qualname__ = fn.__name__
    return wrapper


def _config_from_controls(values: dict) -> tuple[toy.ToyTrainConfig, int]:
    """Build (config, seed) from the controls' values (a dict keyed by field name); ValueError if one is empty."""
    empty = [k for k, v in values.items() if v is None or v == ""]
    if empty:
        raise ValueError(f"please fill in: {', '.join(empty)}.")
    ints = ("latent_dim", "g_depth", "g_width", "d_depth", "d_width", "d_steps", "batch_size", "top_k_anneal_steps",
            "seed")
    values = dict(values)
    for k, v in values.items():      # API clients can send anything: wrong types, NaN, inf, huge numbers
        if k in ints or k in FLOAT_CONTROLS:
            try:
                f = float(v)
                values[k] = int(f) if k in ints else f
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"{k} must be a finite number, got {str(v)[:40]!r}.") from None
            if k in ints and f != int(f):
                raise ValueError(f"{k} must be a whole number, got {v!r}.")
        elif k in STR_CONTROLS and not isinstance(v, str):
            raise ValueError(f"{k} must be one of the listed choices, got {str(v)[:40]!r}.")
    if not 0 <= values["seed"] <= 2**32 - 1:
        raise ValueError(f"seed must be between 0 and {2**32 - 1}, got {values['seed']}.")
    model = ToyConfig(**{k: v for k, v in values.items() if k in MODEL_FIELDS})
    train = {k: v for k, v in values.items() if k not in MODEL_FIELDS and k != "seed"}
    return toy.ToyTrainConfig(model=model, **train), values["seed"]


def _controls_from_config(cfg: toy.ToyTrainConfig, seed: int) -> dict:
    values = dataclasses.asdict(cfg)
    values |= values.pop("model")
    values["seed"] = seed
    return values


def _frame_html(jpeg: bytes) -> str:
    """The frame as JPEG-in-HTML (no files: ten frames a second must not fill Gradio's cache)."""
    data = base64.b64encode(jpeg).decode("ascii")
    return (f'<img src="data:image/jpeg;base64,{data}" alt="live GAN training frame" '
            'style="width:100%;max-width:760px;height:auto;display:block;margin:auto"/>')


def _status(run: LiveRun | None) -> str:
    if run is None:
        return "No run yet: press **Start** or **Reset**."
    if run.gone:
        return WORKER_GONE
    i = run.info
    state = "training" if run.running else "paused"
    text = (f"**{state}** · iteration **{i['iteration']:,}** · **{i['its_per_second']:,.0f} it/s** · "
            f"grid JS {i['js']:.3f} bits · sliced W {i['sw']:.3f}")
    if i["naive_js"] is not None:
        text += f" · naive G JS {i['naive_js']:.3f} bits"
    return text + (f"  \n{run.message}" if run.message else "")


def build_live_tab(max_running: int = MAX_RUNNING, workers: int | None = None) -> LiveSessions:
    """Create the tab's components in the current Blocks/Tab context and wire its events. The runs train in
    ``workers`` processes (default: one per core, up to max_running; 0 trains in this process).

    Returns the session registry (tests and benchmarks can inspect it).
    """
    sessions = LiveSessions(max_running, min(max_running, WORKERS) if workers is None else workers)
    threading.Thread(target=_start_workers, args=(sessions.pool,), daemon=True, name="ganlab-live-workers").start()
    defaults = _controls_from_config(toy.default_config(), 0)
    c: dict[str, gr.components.Component] = {}

    gr.Markdown(INTRO)
    with gr.Row():
        preset = gr.Dropdown(list(PRESETS), value=next(iter(PRESETS)), label="preset")
        c["dataset"] = gr.Dropdown(list(toy.DATASETS), value=defaults["dataset"], label="dataset",
                                   info='"points": your drawing or CSV (below)')
        c["loss"] = gr.Dropdown(list(toy.LOSSES), value=defaults["loss"], label="loss")
        c["seed"] = gr.Number(value=0, precision=0, label="seed", minimum=0)
    with gr.Accordion("Training (applies immediately)", open=False):
        with gr.Row():
            c["lr_g"] = gr.Number(defaults["lr_g"], label="G learning rate", minimum=1e-6, maximum=1)
            c["lr_d"] = gr.Number(defaults["lr_d"], label="D learning rate", minimum=1e-6, maximum=1)
            c["d_steps"] = gr.Slider(1, 10, defaults["d_steps"], step=1, label="D steps per G step")
            c["batch_size"] = gr.Slider(8, 512, defaults["batch_size"], step=8, label="batch size")
        with gr.Row():
            c["beta1_g"] = gr.Slider(0, 0.99, defaults["beta1_g"], step=0.01, label="G β1 (Adam; SGD momentum)")
            c["beta2_g"] = gr.Slider(0.5, 0.999, defaults["beta2_g"], step=0.001, label="G β2 (Adam; RMSprop α)")
            c["beta1_d"] = gr.Slider(0, 0.99, defaults["beta1_d"], step=0.01, label="D β1")
            c["beta2_d"] = gr.Slider(0.5, 0.999, defaults["beta2_d"], step=0.001, label="D β2")
        with gr.Row():
            c["label_smoothing"] = gr.Slider(0, 0.5, defaults["label_smoothing"], step=0.05,
                                             label="one-sided label smoothing")
            c["top_k"] = gr.Slider(0.1, 1, defaults["top_k"], step=0.05, label="top-k fraction for G")
            c["top_k_anneal_steps"] = gr.Slider(0, 5000, defaults["top_k_anneal_steps"], step=100,
                                                label="top-k anneal iterations")
            c["gp_weight"] = gr.Slider(0, 50, defaults["gp_weight"], step=1, label="WGAN-GP λ")
        with gr.Row():
            c["ema_decay"] = gr.Slider(0, 0.999, defaults["ema_decay"], step=0.001, label="EMA of G (0 = off)")
            c["naive"] = gr.Checkbox(defaults["naive"], label="naive generator (nearest-real-point loss)")
    with gr.Accordion("Networks (a change starts a new run)", open=False):
        with gr.Row():
            c["latent_dim"] = gr.Slider(1, 16, defaults["latent_dim"], step=1, label="latent dimension")
            c["noise"] = gr.Radio(["normal", "uniform"], value=defaults["noise"], label="noise")
            c["optimizer"] = gr.Dropdown(list(toy.OPTIMIZERS), value=defaults["optimizer"], label="optimizer")
        with gr.Row():
            c["g_depth"] = gr.Slider(0, 6, defaults["g_depth"], step=1, label="G hidden layers")
            c["g_width"] = gr.Slider(4, 256, defaults["g_width"], step=2, label="G width")
            c["g_activation"] = gr.Dropdown(list(ACTIVATIONS), value=defaults["g_activation"], label="G activation")
        with gr.Row():
            c["d_depth"] = gr.Slider(0, 6, defaults["d_depth"], step=1, label="D hidden layers")
            c["d_width"] = gr.Slider(4, 256, defaults["d_width"], step=2, label="D width")
            c["d_activation"] = gr.Dropdown(list(ACTIVATIONS), value=defaults["d_activation"], label="D activation")
    with gr.Accordion("Your own data", open=False):
        with gr.Row():
            sketch = gr.Sketchpad(label="draw a distribution", type="numpy", image_mode="RGBA",
                                  canvas_size=(400, 400))
            with gr.Column():
                csv_file = gr.File(label="or upload a CSV of x,y rows (≤ 10,000)", file_types=[".csv", ".txt"],
                                   type="filepath")
                use_drawing = gr.Button("train on my drawing")
                use_csv = gr.Button("train on my CSV")
    with gr.Row():
        start = gr.Button("▶ Start", variant="primary")
        pause = gr.Button("⏸ Pause")
        step = gr.Button("Step (1 iteration)")
        reset = gr.Button("↺ Reset")
        refresh = gr.Button("refresh", visible=False)  # API only: /live_frame renders without training
    frame = gr.HTML("<p>Press <b>Start</b>.</p>", label="training", elem_id="live-frame")
    status = gr.Markdown(_status(None))
    with gr.Row():
        export_gif = gr.Button("export GIF")
        export_ckpt = gr.Button("export checkpoint (safetensors + JSON, zipped)")
        export_file = gr.File(label="download", interactive=False)
    gr.Markdown(EXPLAIN)

    names = list(c)
    inputs = [c[n] for n in names]

    def named(values: dict) -> dict:
        return {n: values[n] for n in names}

    def new_run(values: dict, key: str) -> LiveRun:
        try:
            cfg, seed = _config_from_controls(values)
            points = sessions.points.get(key) if cfg.dataset == "points" else None
            if cfg.dataset == "points" and points is None:
                raise ValueError('dataset "points" needs your data: draw on the canvas or upload a CSV first.')
            remote = sessions.pool.create(cfg, seed=seed, points=points)
        except ValueError as e:
            raise gr.Error(str(e)) from None
        except (WorkerGone, *WORKER_ERRORS):
            raise gr.Error(WORKER_GONE) from None
        run = LiveRun(remote, cfg)
        run.info = run.call("status")
        sessions.put(key, run)
        return run

    def ensure_run(values: dict, key: str) -> LiveRun:
        run = sessions.get(key)
        return run if run is not None and not run.gone else new_run(values, key)

    def on_reset(values: dict, request: gr.Request):
        key = _key(request)
        old = sessions.get(key)
        if old is not None:
            old.running = False
        run = new_run(named(values), key)
        return run.show("frame", record=True), _status(run)

    def on_start(values: dict, request: gr.Request):
        """Train and stream frames until paused, reset, capped or disconnected."""
        key = _key(request)
        run = ensure_run(named(values), key)
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
                html = run.show("tick", max_seconds=left_seconds, max_steps=left_steps)
            run.last_tick = time.monotonic()
            yield html, _status(run)
        if sessions.runs.get(key) is not run or run.stream != stream:
            return  # reset, or another Start took over: its frames must not be overwritten by this one's
        with run.lock:
            html = run.show("frame")
        yield html, _status(run)

    def on_pause(request: gr.Request):
        run = sessions.get(_key(request))
        if run is not None:
            run.running = False
        return _status(run)

    def on_step(values: dict, request: gr.Request):
        run = ensure_run(named(values), _key(request))
        with run.lock:
            html = run.show("step", 1)
        return html, _status(run)

    def on_frame(request: gr.Request):
        """The current frame, without training (for API clients that poll)."""
        run = sessions.get(_key(request))
        if run is None or run.gone:
            return gr.skip(), _status(run)
        with run.lock:
            html = run.show("frame")
        return html, _status(run)

    def on_live_change(values: dict, request: gr.Request):
        run = sessions.get(_key(request))
        if run is None or run.gone:
            return _status(run)
        try:
            cfg, _ = _config_from_controls(named(values))
            changes = {k: getattr(cfg, k) for k in LIVE_CONTROLS if getattr(cfg, k) != getattr(run.config, k)}
            if changes:
                with run.lock:
                    run.info = run.call("update", **changes)
                    run.config = run.call("config")
        except ValueError as e:
            raise gr.Error(str(e)) from None
        return _status(run)

    def on_preset(name: str, request: gr.Request):
        values = _controls_from_config(PRESETS[name](), 0)
        return [gr.update(value=values[n]) for n in names]

    def use_points(points_fn, source, values: dict, request: gr.Request):
        key = _key(request)
        try:
            points = points_fn(source)
        except ValueError as e:
            raise gr.Error(str(e)) from None
        sessions.points[key] = points
        values = named(values) | {"dataset": "points"}
        old = sessions.get(key)
        if old is not None:
            old.running = False
        run = new_run(values, key)
        run.message = f"Training on your {len(points):,} points."
        return run.show("frame", record=True), _status(run), gr.update(value="points")

    def on_drawing(values: dict, request: gr.Request):
        drawing = values.get("drawing")
        image = drawing.get("composite") if isinstance(drawing, dict) else drawing
        return use_points(toy.points_from_drawing, image, values, request)

    def on_csv(values: dict, request: gr.Request):
        path = values.get("csv_file")
        if not path:
            raise gr.Error("Choose a CSV file first.")
        return use_points(toy.points_from_csv, Path(path), values, request)

    def on_export_gif(request: gr.Request):
        key = _key(request)
        run = sessions.get(key)
        if run is None or run.gone or not run.info.get("gif_frames"):
            raise gr.Error("Nothing to export yet: start training first.")
        return run.call("save_gif", str(sessions.session_dir(key) / f"ganlab-live-{run.info['iteration']}.gif"))

    def on_export_checkpoint(request: gr.Request):
        key = _key(request)
        run = sessions.get(key)
        if run is None or run.gone:
            raise gr.Error("Nothing to export yet: start training first.")
        with run.lock:
            return run.call("save_checkpoint", str(sessions.session_dir(key) / f"toy2d-{run.info['iteration']}.zip"))

    def on_unload(request: gr.Request):
        sessions.drop(_key(request))

    with_controls = lambda fn, extra=(): _named_inputs(fn, [*extra, *names])  # noqa: E731
    train_events = dict(concurrency_id="live_train", concurrency_limit=max_running + 2)
    reset.click(with_controls(on_reset), inputs, [frame, status], api_name="live_reset", **train_events)
    start.click(with_controls(on_start), inputs, [frame, status], api_name="live_start", show_progress="hidden",
                concurrency_id="live_stream", concurrency_limit=max_running + 1)
    pause.click(on_pause, None, status, api_name="live_pause")
    step.click(with_controls(on_step), inputs, [frame, status], api_name="live_step", **train_events)
    refresh.click(on_frame, None, [frame, status], api_name="live_frame", show_progress="hidden")
    gr.on([c[n].input for n in LIVE_CONTROLS], with_controls(on_live_change), inputs, status,
          api_name="live_update", show_progress="hidden")
    gr.on([c[n].input for n in NET_CONTROLS], with_controls(on_reset), inputs, [frame, status],
          api_name="live_rebuild", **train_events)
    preset.input(on_preset, preset, inputs, api_name="live_preset").then(
        with_controls(on_reset), inputs, [frame, status], api_name="live_preset_reset", **train_events)
    use_drawing.click(with_controls(on_drawing, ["drawing"]), [sketch, *inputs], [frame, status, c["dataset"]],
                      api_name="live_use_drawing", **train_events)
    use_csv.click(with_controls(on_csv, ["csv_file"]), [csv_file, *inputs], [frame, status, c["dataset"]],
                  api_name="live_use_csv", **train_events)
    export_gif.click(on_export_gif, None, export_file, api_name="live_export_gif")
    export_ckpt.click(on_export_checkpoint, None, export_file, api_name="live_export_checkpoint")
    root = gr.context.Context.root_block
    if root is not None:
        root.unload(on_unload)
    return sessions


if __name__ == "__main__":
    with gr.Blocks(title="ganlab: live training") as demo:
        with gr.Tab("Live training"):
            build_live_tab()
    demo.launch()
