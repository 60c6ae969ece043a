"""Live image-GAN runs in worker processes, and the line of visitors waiting for a free core.

A :class:`LiveImageRun` is one run (an :class:`~ganlab.imagelive.engine.ImageRun`) behind a lock, with the
frame cadence the tab streams at: ``tick`` trains for what is left of a frame's time after drawing, then
returns the snapshot. :class:`ImageRunPool` hosts the runs in worker processes, as the toy's
:class:`ganlab.toy.runs.RunPool` does (the same manager processes, lowered priority, exit with the server), with
one torch thread per worker: a run trains on one core, and the server's own requests keep theirs.

:class:`Line` bounds how many runs train at once (default: one per core). A visitor beyond that waits in line,
first come first served, and is told their place; a visitor whose page stops asking leaves the line.
"""
from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from multiprocessing.managers import BaseManager

from ..toy import runs as toy_runs
from ..toy.runs import WORKER_ERRORS, WORKER_NICE, WorkerGone  # noqa: F401  (re-exported for the tab)
from .config import from_dict, to_dict
from . import data
from .engine import ImageRun

FRAME_SECONDS = 0.9         # time between two frames while training (the page refreshes at least once a second)
MIN_TRAIN_SECONDS = 0.2     # training per frame, at least, however slow drawing is
WORKER_THREADS = 1          # torch threads per worker: one core per training run
STALE_SECONDS = 20.0        # a visitor in line (or training) who has not asked for this long leaves the line


class LiveImageRun:
    """One live run, safe to call from several threads; its methods return plain data and are the whole
    interface a worker process exposes. ``new`` builds the run (ValueError for a bad config or missing data,
    which a worker passes on as it is)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.run: ImageRun | None = None
        self._draw_seconds = 0.05

    def new(self, config: dict, data_dir: str | None = None) -> dict:
        run = ImageRun(from_dict(config), data_dir=data_dir)
        with self._lock:
            self.run = run
            return self._status()

    @staticmethod
    def warm(dataset: str, data_dir: str | None = None) -> None:
        """Load ``dataset`` and its classifier's test statistics into this process (what a first run would
        wait for; ValueError if the data cannot be found or downloaded)."""
        from .. import evaluate
        data.test_statistics(data.load(dataset, data_dir), evaluate.load_classifier(dataset))

    def tick(self, frame_seconds: float = FRAME_SECONDS, max_steps: int | None = None) -> dict:
        """Train for what is left of ``frame_seconds`` after drawing (at least MIN_TRAIN_SECONDS, at most
        ``max_steps`` steps), then the snapshot (recorded in the timeline)."""
        with self._lock:
            budget = max(frame_seconds - self._draw_seconds, MIN_TRAIN_SECONDS)
            if max_steps is None or max_steps > 0:
                self.run.train_for(budget, max_steps=max_steps)
            started = time.perf_counter()
            snap = self.run.snapshot(record=True)
            self._draw_seconds = 0.5 * self._draw_seconds + 0.5 * (time.perf_counter() - started)
            return snap

    def train(self, seconds: float) -> dict:
        """Train for ``seconds`` without drawing anything (the bench's headless reference): its status."""
        with self._lock:
            self.run.train_for(seconds)
            return self._status()

    def snapshot(self, record: bool = False) -> dict:
        with self._lock:
            return self.run.snapshot(record=record)

    def step(self, n: int = 1) -> dict:
        with self._lock:
            self.run.step(n)
            return self.run.snapshot(record=True)

    def status(self) -> dict:
        with self._lock:
            return self._status()

    def update(self, **changes) -> dict:
        """Change live settings; ValueError (nothing changed) otherwise. Returns the config as a dict."""
        with self._lock:
            return to_dict(self.run.update(**changes))

    def timeline_frame(self, i: int) -> tuple[int, float, bytes]:
        with self._lock:
            return self.run.timeline_frame(i)

    def save_gif(self, path: str, **options) -> str:
        with self._lock:
            return self.run.save_gif(path, **options)

    def save_checkpoint(self, folder: str) -> str:
        with self._lock:
            return self.run.save_checkpoint(folder)

    def _status(self) -> dict:
        r = self.run
        return {"step": r.step_count, "train_seconds": r.train_seconds, "config": to_dict(r.config),
                "timeline_frames": len(r.timeline)}


class _Manager(BaseManager):
    """A worker process serving LiveImageRun objects."""


_Manager.register("LiveImageRun", LiveImageRun)


def _worker_init(nice: int, parent: int, threads: int) -> None:
    import torch

    toy_runs._worker_init(nice, parent)
    torch.set_num_threads(threads)


def _context():
    """The toy's worker context (forkserver where there is one), preloading this module (torch) as well."""
    ctx = toy_runs._context()
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload([toy_runs.__name__, __name__])
    return ctx


class ImageRunPool(toy_runs.RunPool):
    """Creates LiveImageRuns in ``workers`` worker processes (started on first use, restarted if one dies), each
    new run in the worker holding the fewest; ``workers=0`` keeps runs in this process."""

    def __init__(self, workers: int = 2, nice: int = WORKER_NICE, threads: int = WORKER_THREADS):
        super().__init__(workers, nice)
        self.threads = threads

    def create(self, config, data_dir: str | None = None):
        """A new run of ``config`` (an ImageConfig or a dict); ValueError for a bad config or missing data."""
        values = config if isinstance(config, dict) else to_dict(config)
        if not self.workers:
            run = LiveImageRun()
            run.new(values, data_dir)
            return run
        with self._lock:
            i = min(range(self.workers), key=lambda k: len(self._runs[k]))
            manager = self._worker(i)
        try:
            run = manager.LiveImageRun()
        except WORKER_ERRORS as e:
            raise WorkerGone("the training worker process stopped; press Reset to start a new run.") from e
        run.new(values, None if data_dir is None else str(data_dir))
        self._runs[i].add(run)
        return run

    def warm(self, dataset: str = "mnist", data_dir: str | None = None) -> None:
        """Start every worker and load ``dataset`` into each (the app does this in the background, so that the
        first visitor's Start does not wait for it)."""
        for i in range(self.workers):
            with self._lock:
                manager = self._worker(i)
            manager.LiveImageRun().warm(dataset, None if data_dir is None else str(data_dir))

    def _worker(self, i: int) -> _Manager:
        manager = self._managers[i]
        if manager is None or not manager._process.is_alive():
            manager = self._managers[i] = _Manager(ctx=_context())
            with toy_runs._without_main_script():
                manager.start(_worker_init, (self.nice, os.getpid(), self.threads))
        return manager


class Line:
    """At most ``slots`` keys hold a slot (train) at once; the others wait in arrival order. ``ask(key)`` is 0
    when ``key`` holds a slot (taking a free one if it is first in line), else its place in line (1 = next).
    A key that has not asked for ``stale`` seconds loses its slot or place (its page closed)."""

    def __init__(self, slots: int | None = None, stale: float = STALE_SECONDS, clock=time.monotonic):
        self.slots = max(1, slots or os.cpu_count() or 1)
        self.stale, self.clock = stale, clock
        self.holding: dict[str, float] = {}                    # key → last time it asked
        self.waiting: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def ask(self, key: str) -> int:
        with self._lock:
            now = self.clock()
            self._drop_stale(now)
            if key in self.holding:
                self.holding[key] = now
                return 0
            self.waiting[key] = now                             # joins at the end, or keeps its place
            while len(self.holding) < self.slots and self.waiting:
                first, _ = self.waiting.popitem(last=False)
                self.holding[first] = now
            return 0 if key in self.holding else list(self.waiting).index(key) + 1

    def leave(self, key: str) -> None:
        with self._lock:
            self.holding.pop(key, None)
            self.waiting.pop(key, None)

    def training(self) -> int:
        with self._lock:
            self._drop_stale(self.clock())
            return len(self.holding)

    def _drop_stale(self, now: float) -> None:
        for table in (self.holding, self.waiting):
            for k in [k for k, t in table.items() if now - t > self.stale]:
                del table[k]
