"""How the app serves views to a class at once (``ganlab.serving`` applied to the Generate tab's renders).

One :class:`ViewServer` per app: every view the page or an API client asks for goes through
:meth:`ViewServer.render`, which

- renders each distinct view once (the key is the validated view from ``views.check_view`` reduced to what
  decides its pixels, :func:`pixel_view`, with the model and the preview side) and keeps its files in a cache
  bounded in bytes (``serving.RenderCache``), dropped when the registry loads, replaces or drops that model;
- sizes the compute: a heavy render (a 1024-px image, a big grid) waits its turn in one lane and then uses every
  core; small ones run at once with one torch thread each; the page is told its place in line while it waits;
- drops a page's request that its own newer request superseded (only the newest slider position is drawn);
- encodes what the page shows quickly: large images (``views.is_big``) as JPEG, measured in
  ``bench/classroom.py``, with the exact PNG carrying the settings written beside it for the download link;
  everything else (and everything an API client gets) as the exact PNG, as before.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from .. import device, export, serving, views

REPEAT_S = 1.5               # a page's same action again within this long is the same user action
WALK_GPU_SECONDS = 120       # the longest a walk may hold a ZeroGPU GPU (spaces.GPU's duration)
PREVIEW_SIDES = (views.PREVIEW_SIZE, views.SMALL_PREVIEW, views.SMALL_PREVIEW // 2)   # quiet, busy, very busy
PNG_LEVEL = 1                # zlib level of the exact PNGs of large images (fast; the pixels are exact anyway)


@device.gpu
def render_view(model, values: dict, preview=False, callback=None):
    """views.render_view, inside ``spaces.GPU`` on a ZeroGPU Space (a no-op elsewhere)."""
    return views.render_view(model, values, preview=preview, callback=callback)


@device.gpu(duration=WALK_GPU_SECONDS)
def render_walk(model, values: dict, callback=None):
    """views.render_walk, inside ``spaces.GPU`` on a ZeroGPU Space (a no-op elsewhere)."""
    return views.render_walk(model, values, callback=callback)


def progress_steps(progress, what: str, unit: str = "steps"):
    """(step(done, total), on_wait(ahead, eta_s)) callbacks that show a heavy job on a gr.Progress: its place in
    line while it waits in a lane, then its progress."""
    def step(done, total):
        progress((done, total), desc=what, unit=unit)

    def on_wait(ahead, eta):
        progress(0, desc=f"{what}: in line, {ahead} ahead (about {eta:.0f} s)")
    return step, on_wait


@dataclass
class Rendered:
    """One rendered view: its files (owned by the cache: deleted when it is dropped) and settings."""
    display: Path            # what the page shows: a JPEG for large images, else the PNG itself
    png: Path | None         # the exact PNG with the ``ganlab`` settings chunk (None for a preview)
    written: Future          # done when ``png`` is on disk (large images: written in the background)
    settings: dict
    size: tuple[int, int]    # (width, height) of the grid in pixels
    nbytes: int = 0
    preview: int | None = None   # the side a preview was drawn at (None: the full image)


def pixel_view(model, v: dict) -> dict:
    """The validated view ``v`` without the settings that cannot change its pixels (as ``views.view_codes`` reads
    them), so that equivalent views are one cache entry and one render: the ψ cutoff counts at most the model's
    layers (more means all of them) and not at all at ψ = 1 (nothing is truncated); the mixing seed only with
    layers to mix; neither for a model without styles. E.g. the picker sets a StyleGAN's cutoff to its
    layer count while a fresh page or an API client sends the slider's maximum: the same image."""
    v = dict(v)
    styled = model.style_based
    v["cutoff"] = min(v["cutoff"], model.num_ws) if styled and v["truncation"] != 1.0 else None
    v["mix_seed"] = v["mix_seed"] if styled and v["mix"] else None
    return v


def session_of_page() -> str | None:
    """The page session the running event came from (None for API clients: each call expects its answer)."""
    from gradio.context import LocalContext

    from .common import from_page
    request = LocalContext.request.get(None)
    return getattr(request, "session_hash", None) if from_page() else None


class ViewServer:
    def __init__(self, registry, max_bytes: int = serving.CACHE_MB << 20):
        self.dir = Path(tempfile.mkdtemp(prefix="ganlab-views-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.dir), True)
        self.cache = serving.RenderCache(max_bytes, on_evict=self._delete)
        self.tickets = serving.Tickets()
        self.lane = serving.Lane(tickets=self.tickets)
        # long exports (a walk of a large model): one at a time with every core, in a lane of their own so that
        # short exports (a small model's GIF) and the views do not wait for them
        self.export_lane = serving.Lane()
        # the exact PNGs behind the download links of images already shown, written at a lower CPU priority: they
        # take what the renders leave (between requests, or a core a lone one-thread render does not use)
        self._png_writer = ThreadPoolExecutor(1, thread_name_prefix="ganlab-png", initializer=serving.lower_priority)
        self._count = 0
        self._recent: dict = {}                     # page → (its latest action, when): repeats of one action
        self._stopped: set = set()                  # pages that pressed stop during their export
        self._lock = threading.Lock()
        registry.on_change.append(self.cache.drop)

    def repeated(self, owner, action, within: float = REPEAT_S) -> bool:
        """Whether page ``owner``'s previous action, less than ``within`` seconds ago, was this same ``action``
        (then it is a repeat of one user action, e.g. a dropdown's two events for one mouse pick); records it
        as the page's latest action. API calls (owner None) are never repeats."""
        if owner is None:
            return False
        now = time.monotonic()
        with self._lock:
            self._recent = {k: at for k, at in self._recent.items() if now - at[1] < within}
            last = self._recent.get(owner)
            self._recent[owner] = (action, now)
        return last is not None and last[0] == action

    def start(self, owner) -> None:
        """A page's long job (an export) begins: a stop pressed before it no longer counts."""
        with self._lock:
            self._stopped.discard(owner)

    def stop(self, owner) -> None:
        """The page ``owner`` pressed stop: its running job ends at its next frame (:meth:`check`)."""
        if owner is not None:
            with self._lock:
                self._stopped.add(owner)

    def check(self, owner) -> None:
        """Raise ``serving.Cancelled`` if page ``owner`` pressed stop since its job began."""
        with self._lock:
            if owner in self._stopped:
                self._stopped.discard(owner)
                raise serving.Cancelled

    def render(self, model, values: dict, preview: bool = False, page: bool = False, owner=None,
               progress=None) -> Rendered:
        """The view ``values`` of ``model`` (registry-loaded: ``model.info['name']``) as files; ``page``: for the
        page (a large image shown as JPEG); ``owner``: the page session (None: never superseded);
        ``progress``: a gr.Progress for a heavy render's wait and progress. Raises ``serving.Superseded`` when
        ``owner`` asked for something newer meanwhile, ValueError for a view that breaks a rule."""
        v = views.check_view(model, values)
        side = PREVIEW_SIDES[min(serving.busy() // serving.BUSY_PREVIEW, len(PREVIEW_SIDES) - 1)]
        res = views.preview_resolution(model, side) if preview else None
        jpeg = page and views.is_big(model)
        key = (v["model"], id(model), json.dumps(pixel_view(model, v), sort_keys=True), res, jpeg)
        ticket = self.tickets.take(owner)
        self.lane.wake()
        try:
            pixels = v["n"] * (res or model.image_size) ** 2

            def render():
                return self._render(model, v, res, jpeg, pixels, owner, ticket, progress)
            out = self.cache.get(key, render, size=lambda r: r.nbytes)
            if not self.tickets.newest(owner, ticket):
                raise serving.Superseded
            # an equivalent view rendered for someone else: the same files, this request's own settings shown
            return out if out.settings == v else replace(out, settings=v)
        finally:
            self.tickets.done(owner, ticket)

    def _render(self, model, v: dict, res, jpeg: bool, pixels: int, owner, ticket, progress) -> Rendered:
        step = on_wait = None
        if progress is not None and serving.is_heavy(pixels):
            step, on_wait = progress_steps(progress, f"rendering {model.image_size}-px images", "images")
        with serving.sized(pixels, self.lane, owner, ticket, on_wait):
            img, v = render_view(model, v, preview=res or False, callback=step)
        stem = self._stem(v)
        written = Future()
        if jpeg:
            display = export.save_jpeg(self.dir / f"{stem}.jpg", img)
            png = None if res else self.dir / f"{stem}.png"     # a preview has no download of its own
            if png is None:
                written.set_result(None)
            else:
                written = self._png_writer.submit(export.save_png, png, img, v, PNG_LEVEL)
        else:
            png = display = export.save_png(self.dir / f"{stem}.png", img, v,
                                            PNG_LEVEL if views.is_big(model) else None)
            written.set_result(png)
        nbytes = display.stat().st_size + (img.nbytes if png != display else 0)   # a PNG is at most its pixels
        return Rendered(display, png, written, v, (img.shape[1], img.shape[0]), nbytes, res)

    def _stem(self, v: dict) -> str:
        with self._lock:
            self._count += 1
            n = self._count
        seeds = f"{v['seed']}" + (f"-{v['seed'] + v['n'] - 1}" if v["n"] > 1 else "")
        return f"{v['model']}_seed{seeds}_{n}"

    @staticmethod
    def _delete(r: Rendered) -> None:
        r.display.unlink(missing_ok=True)
        if r.png is not None:
            r.written.add_done_callback(lambda _: r.png.unlink(missing_ok=True))

    def close(self) -> None:
        self._png_writer.shutdown(wait=True)
        self._finalizer()
