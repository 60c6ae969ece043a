"""Import upstream models in the background when the app starts (``GANLAB_PRELOAD``), for a Space. No Gradio.

    GANLAB_PRELOAD=stylegan2-ada-ffhq,progan-celebahq-512,https://host/w.pth,/srv/models/x.pkl python app.py

Each comma-separated item is a catalog name, an http(s) URL or a local file (the operator sets the variable, so
URLs and paths are allowed here, unlike in the app's page). At start-up :func:`start_from_env` queues them and
one background thread works through the queue, one model at a time (a free Space has 2 vCPUs and the
conversions are memory-heavy): download (``ganlab.download``, resumable, verified), then ``import_fn``. The page
is up at once; the Models tab polls :meth:`Preloader.status` for each item's state:

    queued → downloading x MB of y → converting → ready          (or: failed: reason)

Converted models go to :func:`models_dir`: ``/data/ganlab/models`` when the Space has persistent storage
(``/data`` exists and is writable), else ganlab's imported-models folder in the standard cache
(``GANLAB_MODELS_DIR`` wins over both). A conversion is written to a hidden folder and renamed into place, so a
half-converted model is never served. A marker (``.preload/<name>.json``: source, sha256) says where each model
came from; a restart finds it and neither downloads nor converts again, as long as the source is the same (and,
where a hash is known before downloading, the same file).

``import_fn(source_path, out_dir, progress=cb, **options)`` is the importers' entry point (see
:func:`default_import_fn`); ``options`` carries the catalog's ``format`` and import options.

The app's Import button queues its catalog name on the same worker (:meth:`Preloader.add` with
``catalog_only=True``: a visitor's request is refused unless it names a catalog entry), so that imports and
preloads run one at a time and share the status list and the restart cache.

:data:`DEFAULT_SPACE_PRELOAD` (``GANLAB_PRELOAD=default``) is the list for a free CPU Space (2 vCPU, 16 GB RAM): the
lecture's face generators, which fit the registry's default memory budget together (``bench/registry_memory.py``
measures the process RSS with all of them loaded).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import catalog, download
from .catalog import model_name

ENV = "GANLAB_PRELOAD"
DATA = Path("/data")                         # a Space's persistent storage, when the Space has it
STATES = ("queued", "downloading", "converting", "ready", "failed")
DEFAULT_SPACE_PRELOAD = ("stylegan2-ada-ffhq", "stylegan2-ada-metfaces", "stylegan1-ffhq", "progan-celebahq-512",
                         "dcgan-zoo-fashiongen", "dcgan-faces")   # GANLAB_PRELOAD=default (or names, URLs, paths)
ImportFn = Callable[..., Path]
log = logging.getLogger(__name__)            # failures are warnings: they reach a Space's logs unconfigured


def models_dir(data: Path = DATA) -> Path:
    """Where preloaded models go: the imported-models folder (``checkpoint.models_dir``: $GANLAB_MODELS_DIR, else
    /data/ganlab/models when /data is writable, else the standard cache)."""
    from .checkpoint import models_dir as imported_models_dir
    return imported_models_dir(data)


def parse(value: str | None) -> list[str]:
    """GANLAB_PRELOAD's items: comma-separated, stripped, empty ones dropped, duplicates once; the item
    ``default`` stands for :data:`DEFAULT_SPACE_PRELOAD`."""
    out: list[str] = []
    for s in (value or "").split(","):
        s = s.strip()
        for item in (DEFAULT_SPACE_PRELOAD if s.lower() == "default" else [s]):
            if item and item not in out:
                out.append(item)
    return out


@dataclass
class Item:
    source: str
    name: str
    state: str = "queued"
    done: int = 0                  # bytes downloaded
    total: int | None = None       # bytes to download (None: unknown)
    error: str = ""
    folder: Path | None = None
    started: float | None = None   # time.time() when work on it began / ended
    finished: float | None = None
    catalog_only: bool = False     # a visitor's request: only a catalog name may be downloaded

    def text(self) -> str:
        if self.state == "downloading":
            of = "?" if self.total is None else f"{self.total / 1e6:,.1f} MB"
            return f"downloading {self.done / 1e6:,.1f} MB of {of}"
        if self.state == "failed":
            return f"failed: {self.error}"
        return self.state

    def as_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "state": self.state, "text": self.text(),
                "done": self.done, "total": self.total, "error": self.error,
                "folder": str(self.folder) if self.folder else None,
                "seconds": None if self.started is None else round((self.finished or time.time()) - self.started, 2)}


@dataclass
class Preloader:
    sources: list[str]
    import_fn: ImportFn
    out_root: Path = field(default_factory=models_dir)
    on_ready: Callable[[str, Path], None] | None = None      # e.g. the app refreshing its model picker
    items: list[Item] = field(init=False)

    def __post_init__(self):
        self.out_root = Path(self.out_root)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.items, taken = [], set()
        for s in self.sources:
            s = getattr(catalog.identify(s), "name", s)        # a catalog entry's own URL is that entry
            name, k = model_name(s), 2
            while name in taken:
                name, k = f"{model_name(s)}-{k}", k + 1
            taken.add(name)
            self.items.append(Item(s, name))

    # -- what the Models tab reads ----------------------------------------------------------------------------
    def status(self) -> list[dict]:
        with self._lock:
            return [i.as_dict() for i in self.items]

    def ready(self) -> list[str]:
        with self._lock:
            return [i.name for i in self.items if i.state == "ready"]

    def done(self) -> bool:
        with self._lock:
            return all(i.state in ("ready", "failed") for i in self.items)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every item is ready or failed (True) or ``timeout`` seconds passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done():
            with self._lock:
                thread = self._thread
            left = None if deadline is None else deadline - time.monotonic()
            if thread is None or (left is not None and left <= 0):
                break
            thread.join(None if left is None else min(left, 0.5))
        return self.done()

    # -- the work ---------------------------------------------------------------------------------------------
    def start(self) -> "Preloader":
        """Start the background thread unless it runs; returns self at once."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ganlab-preload", daemon=True)
                self._thread.start()
        return self

    def add(self, source: str, catalog_only: bool = False) -> Item:
        """Queue ``source`` (the app's Import button) and return its item. The item of a source already queued,
        in progress or ready is returned as it is; a failed one is queued again. ``catalog_only``: refuse
        (DownloadError, nothing queued) anything but a catalog name, so that a visitor cannot make the server
        fetch a URL or read a path."""
        entry = catalog.identify(source)
        if catalog_only and entry is None:
            raise download.DownloadError("only models from ganlab's catalog can be imported here; choose one of "
                                         f"{', '.join(catalog.names())}.")
        source = entry.name if entry else str(source).strip()
        with self._lock:
            item = next((i for i in self.items if i.source == source), None)
            if item is None:
                taken = {i.name for i in self.items}
                name, k = model_name(source), 2
                while name in taken:
                    name, k = f"{model_name(source)}-{k}", k + 1
                item = Item(source, name, catalog_only=catalog_only)
                self.items.append(item)
            elif item.state == "failed":
                item.state, item.error, item.done, item.total, item.finished = "queued", "", 0, None, None
                item.catalog_only = item.catalog_only or catalog_only
        self.start()
        return item

    def _set(self, item: Item, **kw) -> None:
        with self._lock:
            for k, v in kw.items():
                setattr(item, k, v)

    def _next(self) -> Item | None:
        """The next queued item (marked started), or None, in which case the thread ends (under the lock, so
        that :meth:`add` either sees it alive with the item queued before, or starts a new one)."""
        with self._lock:
            item = next((i for i in self.items if i.state == "queued"), None)
            if item is None:
                self._thread = None
            else:
                item.started = time.time()
            return item

    def _run(self) -> None:
        while (item := self._next()) is not None:
            try:
                folder = self._preload(item)
            except Exception as e:             # one bad item must not stop the others; its reason is shown
                msg = str(e).strip() or type(e).__name__
                self._set(item, state="failed", error=msg.splitlines()[0][:300], finished=time.time())
                log.warning("preload %s failed: %s", item.source, item.error)
                continue
            self._set(item, state="ready", folder=folder, finished=time.time())
            log.info("preloaded %s into %s", item.source, folder)
            if self.on_ready:
                try:
                    self.on_ready(item.name, folder)
                except Exception:              # a refresh hook failing must not fail the preload
                    pass

    def _marker(self, item: Item) -> Path:
        return self.out_root / ".preload" / f"{item.name}.json"

    def _known_sha(self, item: Item) -> str | None:
        """A hash of the source that is known without downloading: published, recorded, or a local file's."""
        entry = catalog.find(item.source)
        if entry and entry.sha256:
            return entry.sha256
        if entry is None and Path(item.source).expanduser().is_file():
            return download.sha256_file(Path(item.source).expanduser())
        rec = download.recorded_hashes().get(entry.url if entry else item.source)
        return rec["sha256"] if rec else None

    def _already_there(self, item: Item, folder: Path, sha: str | None = None) -> bool:
        try:
            mark = json.loads(self._marker(item).read_text())
        except (OSError, ValueError):
            return False
        if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
            return False
        sha = sha or self._known_sha(item)
        if mark.get("source") != item.source:             # converted from another source: the same file?
            return sha is not None and sha == mark.get("sha256")
        return sha is None or sha == mark.get("sha256")

    def _preload(self, item: Item) -> Path:
        folder = self.out_root / item.name
        if self._already_there(item, folder):
            return folder
        self._set(item, state="downloading")
        path = download.resolve(item.source, progress=lambda d, t: self._set(item, done=d, total=t),
                                catalog_only=item.catalog_only)
        sha = download.sha256_file(path)
        entry = catalog.identify(item.source, sha)
        if entry is not None and item.name != entry.name:   # a catalog entry's file by another URL or path
            self._set(item, name=entry.name)
            folder = self.out_root / entry.name
            if self._already_there(item, folder, sha):
                return folder
        self._set(item, state="converting")
        options = {"format": entry.format, "catalog_name": entry.name, **entry.options} if entry else {}
        self.out_root.mkdir(parents=True, exist_ok=True)
        tmp = self.out_root / f".preload-tmp-{item.name}-{uuid.uuid4().hex[:8]}"
        try:
            self.import_fn(path, tmp, progress=lambda *a: None, **options)
            if not (tmp / "config.json").is_file():
                raise RuntimeError("the importer wrote no config.json")
            old = folder.with_name(f".preload-old-{item.name}-{uuid.uuid4().hex[:8]}")
            if folder.exists():
                folder.rename(old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        mark = self._marker(item)
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.write_text(json.dumps({"source": item.source, "sha256": sha, "file": str(path),
                                    "converted": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=1))
        return folder


def default_import_fn() -> ImportFn:
    """``ganlab.import_model`` as an ``import_fn(source, out_dir, progress=cb, **options)``."""
    from .importers import import_model

    def import_fn(source, out_dir, progress=None, **options):
        return import_model(source, out_dir, progress=progress, **options)
    return import_fn


_current: Preloader | None = None


def start_from_env(import_fn: ImportFn | None = None, on_ready=None, env=os.environ) -> Preloader | None:
    """Start preloading what ``GANLAB_PRELOAD`` lists (None when it is unset or empty); the app calls this once
    at start-up and the Models tab reads :func:`current`."""
    global _current
    sources = parse(env.get(ENV))
    if not sources:
        return None
    _current = Preloader(sources, import_fn or default_import_fn(), on_ready=on_ready).start()
    return _current


def current() -> Preloader | None:
    return _current
