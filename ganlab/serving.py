"""Serving many visitors from one process: the same view rendered once, heavy work sized and taken in turn.

The app (``ganlab.ui``) renders every view through :mod:`ganlab.views`; this module decides *how* a request is
served, not what its pixels are:

- :class:`RenderCache`: results of recent views, bounded in bytes (least recently used dropped first), keyed by
  the validated view (``views.check_view``), so ``seed: 7`` typed, dragged or restored is one entry; and single
  flight: a request for a view that is being rendered waits for that render instead of starting another.
  :meth:`RenderCache.drop` forgets a model's entries (the registry calls it when a model is loaded again,
  replaced or dropped).
- :class:`Lane`: heavy renders (see :func:`is_heavy`) in arrival order within a budget of torch threads: alone,
  a render takes every core (:func:`torch_threads`); with a queue, one thread each, side by side, and the one
  left running alone takes every core from its model's next layer on (:meth:`Lane.widen`); a visitor's
  waiting request is dropped when a newer one of theirs arrives (only their newest slider position is rendered). Small renders do not take the lane: they run side by side, one torch thread each,
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
import sys
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import torch

CACHE_MB = 256             # rendered views kept (a 1024-px image with its files is a few MB)
HEAVY_PIXELS = 512 * 512   # a request rendering at least this many pixels takes the lane with every core
BUSY_PREVIEW = 4           # every this many renders under way, a drag preview gets cheaper (ui.serve.PREVIEW_SIDES)
CORES = os.cpu_count() or 1
BACKGROUND_NICE = 10       # how many nice levels lower a background thread runs: a small share of a core that
                           # renders at the normal priority want, all of one they leave idle


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

    def __init__(self, max_bytes: int = CACHE_MB << 20, on_evict=None):
        self.max_bytes = int(max_bytes)
        self.on_evict = on_evict                        # called with each value dropped (e.g. to delete its files)
        self._items: OrderedDict[tuple, tuple[object, int]] = OrderedDict()   # key → (value, bytes), LRU first
        self._flights: dict[tuple, _Flight] = {}
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = self.shared = self.renders = 0      # served from the cache / from another's render / rendered

    def get(self, key: tuple, render, size=None):
        while True:
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
            if leader:
                break
            flight.done.wait()
            if isinstance(flight.error, Superseded):   # the render was its visitor's and they moved on: ours
                continue
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
        dropped = []
        with self._lock:
            if nbytes > self.max_bytes:
                dropped.append(value)
            else:
                if key in self._items:
                    dropped.append(self._items[key][0])
                    self.bytes -= self._items.pop(key)[1]
                self._items[key] = (value, nbytes)
                self.bytes += nbytes
                while self.bytes > self.max_bytes:
                    _, (old, n) = self._items.popitem(last=False)
                    self.bytes -= n
                    dropped.append(old)
        self._evicted(dropped)

    def _evicted(self, values) -> None:
        if self.on_evict:
            for v in values:
                self.on_evict(v)

    def drop(self, name: str) -> int:
        """Forget every entry of model ``name`` (keys starting with it); returns how many."""
        with self._lock:
            keys = [k for k in self._items if k and k[0] == name]
            dropped = [self._items[k][0] for k in keys]
            for k in keys:
                self.bytes -= self._items.pop(k)[1]
        self._evicted(dropped)
        return len(keys)

    def clear(self) -> None:
        with self._lock:
            dropped = [v for v, _ in self._items.values()]
            self._items.clear()
            self.bytes = 0
        self._evicted(dropped)

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


def lower_priority(by: int = BACKGROUND_NICE) -> bool:
    """Lower the calling thread's CPU priority by ``by`` nice levels (Linux keeps a nice value per thread), so that
    its work (e.g. writing the exact PNG of an image already shown) takes the CPU time that renders leave instead
    of slowing the next render down. Returns whether it was lowered (False elsewhere, or when not permitted)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + by))
        return True
    except OSError:
        return False


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
    """A request dropped because the same visitor sent a newer one meanwhile."""


class Cancelled(Superseded):
    """A request its visitor stopped (e.g. a long export's stop button)."""


class Tickets:
    """Each visitor's newest request: ``take(owner)`` numbers a request, ``newest(owner, ticket)`` says whether
    it is still their newest (owner None: an API call, always its own newest)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._newest: dict[object, int] = {}
        self._count = itertools.count(1)

    def take(self, owner) -> int:
        ticket = next(self._count)
        if owner is not None:
            with self._lock:
                self._newest[owner] = ticket
        return ticket

    def newest(self, owner, ticket: int) -> bool:
        if owner is None:
            return True
        with self._lock:
            return self._newest.get(owner) == ticket

    def done(self, owner, ticket: int) -> None:
        """Forget ``owner`` once their newest request is served (the table stays as small as the requests)."""
        if owner is not None:
            with self._lock:
                if self._newest.get(owner) == ticket:
                    del self._newest[owner]


class Lane:
    """Heavy work in arrival order within a budget of ``threads`` torch threads (default: every core).

    A turn that starts with nobody else running or waiting takes the whole budget (one visitor's 1024-px image
    uses every core); while others wait, turns take one thread each and run side by side, which keeps a busy
    queue moving at the same rate without OpenMP threads waiting on each other (or on other processes); a turn
    left alone of those takes the whole budget at its model's next layer (:meth:`widen`), so that a queue does not
    end on one core while the others idle.
    ``with lane.turn(owner, ticket):`` waits for its turn; a waiting turn that is no longer its owner's newest
    request (:class:`Tickets`) raises :class:`Superseded` instead. ``on_wait(ahead, eta_s)`` is called while
    waiting, when the number of turns ahead changes (the page shows it)."""

    def __init__(self, threads: int = CORES, tickets: Tickets | None = None):
        self.threads = max(1, threads)
        self.tickets = tickets or Tickets()
        self._cond = threading.Condition()
        self._queue: deque[int] = deque()             # waiting tickets, oldest first
        self._running = 0
        self._used = 0                                # threads of the running turns
        self.dropped = 0
        self.seconds = 1.0                            # a turn's typical duration (moving average), for estimates

    @property
    def depth(self) -> int:
        """Turns waiting or running."""
        with self._cond:
            return len(self._queue) + self._running

    def wake(self) -> None:
        """Let waiting turns look again whether they were superseded (after a visitor's new request)."""
        with self._cond:
            self._cond.notify_all()

    @contextlib.contextmanager
    def turn(self, owner=None, ticket: int | None = None, on_wait=None):
        if ticket is None:
            ticket = self.tickets.take(owner)
        with self._cond:
            self._queue.append(ticket)
            self._cond.notify_all()                   # an older turn of the same owner may now drop out
            told = None
            while True:
                if not self.tickets.newest(owner, ticket):
                    self._queue.remove(ticket)
                    self.dropped += 1
                    self._cond.notify_all()
                    raise Superseded
                if self._used < self.threads and self._queue[0] == ticket:
                    self._queue.popleft()
                    alone = self._running == 0 and not self._queue
                    threads = self.threads if alone else 1
                    self._running += 1
                    self._used += threads
                    self._cond.notify_all()           # the next in line may start beside this one
                    break
                ahead = self._queue.index(ticket) + self._running
                if on_wait and ahead != told:
                    told = ahead
                    on_wait(ahead, ahead * self.seconds / self.threads)
                self._cond.wait(0.5)
        start = time.perf_counter()
        mine = _Turn(self, threads)
        try:
            with torch_threads(threads), _widening(mine):
                yield
        finally:
            with self._cond:
                self._running -= 1
                self._used -= mine.threads
                self.seconds = 0.7 * self.seconds + 0.3 * (time.perf_counter() - start)
                self._cond.notify_all()

    def widen(self, turn: _Turn) -> bool:
        """Give the running ``turn`` (started with fewer threads while others ran or waited) the whole budget if
        it is now alone: nobody else running or waiting. Called in the turn's own thread (torch's thread count is
        per thread), between two of its model's layers (see :func:`_widening`); returns whether it widened."""
        with self._cond:
            if turn.threads >= self.threads or self._running != 1 or self._queue:
                return False
            self._used += self.threads - turn.threads
            turn.threads = self.threads
        torch.set_num_threads(self.threads)
        return True


@dataclass
class _Turn:
    lane: Lane
    threads: int


_local = threading.local()          # the narrowed turn the current thread runs, if any
_narrowed = 0                       # narrowed turns running (in every lane): while any, the layer hook is on
_hook = None
_hook_lock = threading.Lock()


def _widen_at_layer(module, args) -> None:
    """A module forward pre-hook: a narrowed turn of this thread takes every core once it runs alone, so the last
    render of a queue does not finish on one core while the others idle."""
    turn = getattr(_local, "turn", None)
    if turn is not None and turn.lane.widen(turn):
        _local.turn = None


@contextlib.contextmanager
def _widening(turn: _Turn):
    """While a turn that started narrow (fewer threads than its lane's budget) runs, its thread checks between
    layers whether it may widen (``Lane.widen``); the hook is on only while such turns run."""
    global _narrowed, _hook
    if turn.threads >= turn.lane.threads:
        yield
        return
    with _hook_lock:
        _narrowed += 1
        if _hook is None:
            _hook = torch.nn.modules.module.register_module_forward_pre_hook(_widen_at_layer)
    _local.turn = turn
    try:
        yield
    finally:
        _local.turn = None
        with _hook_lock:
            _narrowed -= 1
            if _narrowed == 0 and _hook is not None:
                _hook.remove()
                _hook = None


@contextlib.contextmanager
def sized(pixels: int, lane: Lane, owner=None, ticket: int | None = None, on_wait=None):
    """Serve a render of ``pixels`` output pixels: heavy ones take ``lane`` (every core, in turn, superseded
    turns dropped), small ones run at once with one torch thread; both count as :func:`busy`."""
    with counted():
        if is_heavy(pixels):
            with lane.turn(owner, ticket, on_wait):
                yield
        else:
            with torch_threads(1):
                yield
