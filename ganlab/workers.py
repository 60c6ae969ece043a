"""Worker processes that host the Live training tab's runs: a :class:`WorkerPool` of ``multiprocessing``
managers, each run a proxy whose method calls go to its worker. The toy's pool (:class:`ganlab.toy.runs.RunPool`)
and the image GAN's (:class:`ganlab.imagelive.runs.ImageRunPool`) are both one.

The workers run at a slightly lower CPU priority than the server (``nice``), so a busy server answers its
requests first and the runs train on what is left (bench/load.py measures the trade-off), and they exit when
the process that started them goes away. Only ganlab's own processes exchange pickles here (over an
authenticated local socket). No torch, no numpy: the toy's workers import neither torch nor Gradio.
"""
from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import sys
import threading
import time
import weakref
from multiprocessing.managers import BaseManager

WORKER_NICE = 2             # how much lower the workers' CPU priority is than the server's (Unix nice)
WORKER_ERRORS = (EOFError, ConnectionError, BrokenPipeError, FileNotFoundError)   # a proxy whose worker is gone


class WorkerGone(RuntimeError):
    """The worker process holding a run has exited (killed, or out of memory)."""


def context(preload: list[str]):
    """forkserver where there is one (a clean, single-threaded parent to fork from: the web server has many
    threads), preloading the modules ``preload`` (not __main__: the app's own module need not load in workers);
    else spawn (Windows)."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(preload)
    return ctx


@contextlib.contextmanager
def without_main_script():
    """While starting a worker, hide the ``__main__`` script's path from multiprocessing, which would otherwise
    make the worker import it (to find functions pickled from it; nothing of the workers lives there). Imported
    in a worker, app.py loads Gradio for nothing, and a script that builds the app without an
    ``if __name__ == "__main__"`` guard would run again, app and all, inside each worker."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def worker_init(nice: int, parent: int) -> None:
    """Lower the worker's priority, and exit if the process that started the pool goes away (even SIGKILLed)."""
    lower = getattr(os, "nice", None)      # POSIX only
    if nice and lower is not None:
        lower(nice)

    def watch():
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass

    threading.Thread(target=watch, daemon=True, name="ganlab-parent-watch").start()


class WorkerPool:
    """Runs of one kind in ``workers`` worker processes, started on first use and restarted if one dies; each
    new run goes to the worker holding the fewest. A subclass names its manager class (a BaseManager with the
    run's class registered as ``run_type``) and the modules a worker preloads, and its ``create`` calls
    :meth:`remote` (or makes the run in this process when ``workers`` is 0)."""

    manager: type[BaseManager]          # the manager class serving the runs
    run_type: str                       # the name the run's class is registered under
    preload: tuple[str, ...] = ()       # modules a forkserver imports once, before it forks the workers

    def __init__(self, workers: int = 2, nice: int = WORKER_NICE):
        self.workers, self.nice = workers, nice
        self._managers: list[BaseManager | None] = [None] * workers
        self._runs = [weakref.WeakSet() for _ in range(workers)]
        self._lock = threading.Lock()
        atexit.register(self._kill)

    def _kill(self) -> None:
        """At exit: end the workers at once. multiprocessing's own exit hook waits for its child processes, and
        the managers' shutdown left them running, so Ctrl-C on the app hung. A run is nothing to save."""
        for m in self._managers:
            if m is not None and m._process.is_alive():
                m._process.kill()
                m._process.join(5)

    def remote(self, *args):
        """A new run in the worker holding the fewest, set up by its ``new(*args)`` (whose ValueError reaches
        the caller as it is, where an error in a remote constructor would arrive as a bare RemoteError);
        WorkerGone if the worker cannot be reached."""
        with self._lock:
            i = min(range(self.workers), key=lambda k: len(self._runs[k]))
            manager = self._worker(i)
        try:
            run = getattr(manager, self.run_type)()
        except WORKER_ERRORS as e:
            raise WorkerGone("the training worker process stopped; press Reset to start a new run.") from e
        run.new(*args)
        self._runs[i].add(run)
        return run

    def start(self) -> None:
        """Start every worker now, which the first visitor to press Start would otherwise wait for. The app
        calls this in the background."""
        for i in range(self.workers):
            with self._lock:
                self._worker(i)

    def initializer(self) -> tuple:
        """(function, args) a new worker runs first (a module-level function: it is sent to the worker)."""
        return worker_init, (self.nice, os.getpid())

    def _worker(self, i: int) -> BaseManager:
        """Worker i, started or restarted if it is not running (call with the lock held)."""
        manager = self._managers[i]
        if manager is None or not manager._process.is_alive():
            manager = self._managers[i] = self.manager(ctx=context(list(self.preload)))
            with without_main_script():
                manager.start(*self.initializer())
        return manager

    def pids(self) -> list[int]:
        """Process ids of the running workers (for monitoring: the load benchmark adds their memory)."""
        return [m._process.pid for m in self._managers if m is not None and m._process.is_alive()]

    def close(self) -> None:
        """Stop the workers (they also stop when this process exits)."""
        with self._lock:
            for m in self._managers:
                if m is not None:
                    m.shutdown()
            self._managers = [None] * self.workers
