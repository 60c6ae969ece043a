"""Live toy-GAN runs, trained and drawn in worker processes: what the Live training tab streams.

A :class:`ToyRun` is one run (a :class:`ganlab.toy.trainer.ToyTrainer`) plus what streaming it needs: the frame
cadence (the plane every frame, the curve panels and the distances less often), the frames as two JPEGs (the
plane and the curves, which the page lays out side by side or, on a phone, stacked) and the frames kept for the
GIF. ``tick`` trains for a slice of a frame's time, renders and returns the frame in one call.

A :class:`RunPool` hosts the runs in a few worker processes (a :class:`ganlab.workers.WorkerPool`: each run is a
proxy whose method calls go to its worker). Training is a tight numpy loop; in the web server's own process it
held the GIL that every visitor's request needs, and two live runs doubled the p95 latency of everyone's
image requests (bench/load.py). In workers, the runs compute in parallel with the server, at a slightly lower
CPU priority (``nice`` 2), so a busy server answers its requests first and the runs train on what is left
(bench/load.py measures the trade-off). A worker imports numpy and Pillow only, never torch or Gradio.

Only ganlab's own processes exchange pickles here (over an authenticated local socket): the points a visitor
draws or uploads are parsed into a numpy array by the server before they reach a worker.
"""
from __future__ import annotations

import io
import threading
import time
from multiprocessing.managers import BaseManager

import numpy as np
from PIL import Image

from ..workers import WORKER_ERRORS, WORKER_NICE, WorkerGone, WorkerPool  # noqa: F401  (the Live tab's names)
from .config import ToyConfig
from .gif import GIF_FRAMES, pick, save_gif
from .render import render_curve_panels, render_panels, side_by_side
from .trainer import ToyTrainer

FRAME_SECONDS = 0.08        # target time between frames while training (render + train budget)
MIN_TRAIN_BUDGET = 0.01     # seconds of training per frame, at least, however slow rendering is
METRICS_SECONDS = 1.0       # the distances (JS, sliced W) are re-measured at most this often
CURVES_SECONDS = 0.3        # the curve panels are redrawn at most this often (the plane every frame)
MAX_GIF_FRAMES = 2 * GIF_FRAMES   # frames kept for the GIF; when full, every other one is dropped
JPEG_QUALITY = 85


class ToyRun:
    """One live run: its trainer, frame cadence and GIF frames. Methods are safe to call from several threads
    (one lock), return plain data, and are the whole interface a worker process exposes."""

    def __init__(self, config: ToyConfig | None = None, points: np.ndarray | None = None):
        self._lock = threading.Lock()
        self.trainer = None
        if config is not None:
            self.new(config, points)

    def new(self, config: ToyConfig, points: np.ndarray | None = None) -> dict:
        """Start afresh with this config (ValueError if it is not valid; a worker passes that on, whereas an
        error in a remote constructor would arrive as a bare RemoteError). Returns the status."""
        trainer = ToyTrainer(config, points=points)
        with self._lock:
            self.trainer = trainer
            self._curves, self._curves_jpeg, self._last_curves, self._last_metrics = None, b"", 0.0, 0.0
            self._render_seconds = 0.03
            self._gif: list[tuple[bytes, bytes]] = []      # the frames' panels, JPEG bytes
            self._gif_every, self._frames = 1, 0
            return self._status()

    # -- streaming ------------------------------------------------------------------------------------------
    def tick(self, max_seconds: float = float("inf"), max_steps: int | None = None,
             frame_seconds: float = FRAME_SECONDS) -> tuple[tuple[bytes, bytes], dict]:
        """Train for what is left of ``frame_seconds`` after rendering (at least MIN_TRAIN_BUDGET, at most
        ``max_seconds`` and ``max_steps``), then render: ((plane JPEG, curves JPEG), status)."""
        with self._lock:
            budget = min(max(frame_seconds - self._render_seconds, MIN_TRAIN_BUDGET), max_seconds)
            if budget > 0 and (max_steps is None or max_steps > 0):
                self.trainer.train_for(budget, max_steps=max_steps)
            started = time.monotonic()
            panels = self._render(record=True)
            self._render_seconds = time.monotonic() - started
            return panels, self._status()

    def step(self, n: int = 1) -> tuple[tuple[bytes, bytes], dict]:
        """Train exactly n iterations and render: ((plane JPEG, curves JPEG), status)."""
        with self._lock:
            self.trainer.step(n)
            return self._render(record=True), self._status()

    def frame(self, record: bool = False) -> tuple[tuple[bytes, bytes], dict]:
        """Render without training: ((plane JPEG, curves JPEG), status)."""
        with self._lock:
            return self._render(record=record), self._status()

    def status(self) -> dict:
        with self._lock:
            return self._status()

    # -- settings and export --------------------------------------------------------------------------------
    def config(self) -> ToyConfig:
        return self.trainer.config

    def update(self, **changes) -> dict:
        """Change live settings (config.LIVE_FIELDS) without a reset; ValueError otherwise. Returns status."""
        with self._lock:
            self.trainer.update(**changes)
            return self._status()

    def save_gif(self, path: str) -> str:
        """Write the recorded frames (at most GIF_FRAMES of them, evenly spaced) as a GIF at ``path``, with the
        run's settings in its comment; ValueError if none were recorded."""
        with self._lock:
            frames = [self._gif[i] for i in pick(len(self._gif), GIF_FRAMES)]
            settings = {"kind": "toy2d live run", **self.trainer.settings()}
        return str(save_gif([side_by_side(*(Image.open(io.BytesIO(b)) for b in panels)) for panels in frames], path,
                            settings))

    def save_checkpoint(self, path: str) -> str:
        """Write the run's zip (config.json + model.safetensors) at ``path``."""
        with self._lock:
            return str(self.trainer.save_checkpoint(path))

    # -- internals ------------------------------------------------------------------------------------------
    def _render(self, record: bool) -> tuple[bytes, bytes]:
        """The frame as two JPEGs, (plane, curves): the plane every time; the distances and the curve panels
        less often."""
        now = time.monotonic()
        refresh = now - self._last_metrics >= METRICS_SECONDS
        if refresh:
            self._last_metrics = now
            self.trainer.metrics()
        if self._curves is None or refresh or now - self._last_curves >= CURVES_SECONDS:
            self._curves, self._last_curves = render_curve_panels(self.trainer.history()), now
            self._curves_jpeg = _jpeg(self._curves)
        plane, _ = render_panels(self.trainer, refresh_metrics=False, curves=self._curves)
        panels = _jpeg(plane), self._curves_jpeg
        self._frames += 1
        if record and self._frames % self._gif_every == 0:
            self._gif.append(panels)
            if len(self._gif) >= MAX_GIF_FRAMES:
                self._gif, self._gif_every = self._gif[::2], self._gif_every * 2
        return panels

    def _status(self) -> dict:
        t, log = self.trainer, self.trainer.metric_log
        last = (lambda k: log.last(k)) if log.n else (lambda k: float("nan"))
        return {"iteration": t.iteration, "its_per_second": t.last_its_per_second, "train_seconds": t.train_seconds,
                "js": last("js"), "sw": last("sw"), "naive_js": last("naive_js") if t.naive_G is not None else None,
                "gif_frames": len(self._gif)}


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


class _Manager(BaseManager):
    """A worker process serving ToyRun objects."""


_Manager.register("ToyRun", ToyRun)


class RunPool(WorkerPool):
    """Creates ToyRuns in ``workers`` worker processes (started on first use, restarted if one dies); each new
    run goes to the worker holding the fewest runs. ``workers=0`` keeps runs in this process. A worker imports
    numpy and Pillow (this module), which :meth:`start` does before the first visitor presses Start."""

    manager, run_type, preload = _Manager, "ToyRun", (__name__,)

    def create(self, config: ToyConfig, points: np.ndarray | None = None):
        """A new run (a ToyRun, or a proxy to one in a worker). ValueError for a bad config, as ToyRun raises."""
        if not self.workers:
            return ToyRun(config, points)
        return self.remote(config, points)
