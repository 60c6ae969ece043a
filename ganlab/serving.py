"""Serving many visitors from one process: the same view rendered once, heavy work sized and taken in turn.

The app (``ganlab.ui``) renders every view through :mod:`ganlab.views`; this module decides *how* a request is
served, not what its pixels are:

- :class:`RenderCache`: results of recent views, bounded in bytes (least recently used dropped first), keyed by
  the validated view (``views.check_view``), so ``seed: 7`` typed, dragged or restored is one entry; and single
  flight: a request for a view that is being rendered waits for that render instead of starting another.
  :meth:`RenderCache.drop` forgets a model's entries (the registry calls it when a model is loaded again,
  replaced or dropped).
- :class:`Lane`: heavy renders (see :func:`is_heavy`) one at a time, each with every core (:func:`torch_threads`),
  in arrival order; a visitor's waiting request is dropped when a newer one of theirs arrives (only their newest
  slider position is rendered). Small renders do not take the lane: they run side by side, one torch thread each,
  so many of them interleave without OpenMP threads waiting on each other.
- :func:`busy`: how many renders are under way, which the app reads to make drag previews cheaper under load.

>>> from ganlab import serving
>>> cache = serving.RenderCache(max_bytes=64 << 20)
>>> cache.get(("dcgan-mnist", 0, '{"seed": 7}'), lambda: b"pixels", size=len)
b'pixels'
"""
from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import torch

CACHE_MB = 256             # rendered views kept (a 1024-px image with its files is a few MB)
HEAVY_PIXELS = 512 * 512   # a request rendering at least this many pixels takes the lane with every core
BUSY_PREVIEW = 4           # renders under way from which a drag preview gets cheaper (views.SMALL_PREVIEW)
CORES = os.cpu_count() or 1


# -- the same view rendered once --------------------------------------------------------------------------------
@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    value: object = None
    error: BaseException | None = None


class RenderCache:
    """A least-recently-used cache of render results bounded in bytes, with single flight per key.

    ``get(key, render, size)``: the cached value of ``key``; else, if another thread is rendering ``key``, its
    value once done (its exception if it failed); else ``render()``, kept if ``size(value)`` fits. Keys are
    tuples whose first item is the model's name (what :meth:`drop` matches)."""

    def __init__(self, max_bytes: int = CACHE_MB << 20):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[tuple, tuple[object, int]] = OrderedDict()   # key → (value, bytes), LRU first
        self._flights: dict[tuple, _Flight] = {}
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = self.shared = self.renders = 0      # served from the cache / from another's render / rendered

    def get(self, key: tuple, render, size=None):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key][0]
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
                self.renders += 1
            else:
                self.shared += 1
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            flight.value = render()
            self._put(key, flight.value, size(flight.value) if size else 0)
            return flight.value
        except BaseException as e:
            flight.error = e
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def _put(self, key: tuple, value, nbytes: int) -> None:
        if nbytes > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                self.bytes -= self._items.pop(key)[1]
            self._items[key] = (value, nbytes)
            self.bytes += nbytes
            while self.bytes > self.max_bytes:
                _, (_, old) = self._items.popitem(last=False)
                self.bytes -= old

    def drop(self, name: str) -> int:
        """Forget every entry of model ``name`` (keys starting with it); returns how many."""
        with self._lock:
            keys = [k for k in self._items if k and k[0] == name]
            for k in keys:
                self.bytes -= self._items.pop(k)[1]
        return len(keys)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)


# -- compute sized to the request -------------------------------------------------------------------------------
def is_heavy(pixels: int) -> bool:
    """Whether a request rendering ``pixels`` output pixels is worth every core (and the lane)."""
    return pixels >= HEAVY_PIXELS


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` torch intra-op threads in *this* thread (torch keeps the count per thread once a
    thread has used it; it is read first so that the thread takes the process's setting before being changed)."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


_busy_lock = threading.Lock()
_under_way = 0


def busy() -> int:
    """Renders under way in this process (waiting in a lane or rendering)."""
    return _under_way


@contextlib.contextmanager
def counted():
    """Count the block as a render under way (see :func:`busy`)."""
    global _under_way
    with _busy_lock:
        _under_way += 1
    try:
        yield
    finally:
        with _busy_lock:
            _under_way -= 1


class Superseded(Exception):
    """A request dropped because the same visitor sent a newer one while it waited."""


class Lane:
    """Heavy work ``slots`` at a time (each with every core), in arrival order.

    ``with lane.turn(owner):`` waits for a slot; a waiting turn whose ``owner`` (e.g. a page's session) has
    since asked for a newer turn raises :class:`Superseded` instead (owner None: never superseded, e.g. an API
    client's call, which always expects its answer)."""

    def __init__(self, slots: int = 1, threads: int = CORES):
        self.slots, self.threads = slots, threads
        self._cond = threading.Condition()
        self._queue: deque[int] = deque()             # waiting tickets, oldest first
        self._newest: dict[object, int] = {}          # owner → their newest ticket
        self._running = 0
        self._tickets = itertools.count(1)
        self.dropped = 0

    @property
    def depth(self) -> int:
        """Turns waiting or running."""
        with self._cond:
            return len(self._queue) + self._running

    @contextlib.contextmanager
    def turn(self, owner=None):
        with self._cond:
            ticket = next(self._tickets)
            if owner is not None:
                self._newest[owner] = ticket
            self._queue.append(ticket)
            self._cond.notify_all()                   # an older turn of the same owner may now drop out
            while True:
                if owner is not None and self._newest.get(owner) != ticket:
                    self._queue.remove(ticket)
                    self.dropped += 1
                    self._cond.notify_all()
                    raise Superseded
                if self._running < self.slots and self._queue[0] == ticket:
                    self._queue.popleft()
                    self._running += 1
                    break
                self._cond.wait()
        try:
            with torch_threads(self.threads):
                yield
        finally:
            with self._cond:
                self._running -= 1
                if owner is not None and self._newest.get(owner) == ticket:
                    del self._newest[owner]
                self._cond.notify_all()


@contextlib.contextmanager
def sized(pixels: int, lane: Lane, owner=None):
    """Serve a render of ``pixels`` output pixels: heavy ones take ``lane`` (every core, in turn, superseded
    turns dropped), small ones run at once with one torch thread; both count as :func:`busy`."""
    with counted():
        if is_heavy(pixels):
            with lane.turn(owner):
                yield
        else:
            with torch_threads(1):
                yield
