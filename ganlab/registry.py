"""The app's registry of generators: names found by :func:`ganlab.checkpoint.scan` in the model roots (the
bundled checkpoints and the imported models, or the folders given), loaded lazily, kept within a memory budget.

``ModelRegistry(roots).get(name)`` loads a model the first time it is asked for (one loader at a time per
name, under a lock) and keeps it; ``status()`` lists every checkpoint folder as available or unavailable with
the reason, without loading anything, so that one broken checkpoint never stops the others from serving. Only
real checkpoint folders are ever served: there is no fallback to random weights. Every listing is a fresh scan,
so a model imported (or preloaded) while the app runs is listed at once, and the imported-models folder's
models at the next start.

**Memory budget.** Loaded models are kept while the bytes of their parameters and buffers together stay within
``budget`` (env ``GANLAB_MEMORY_BUDGET_MB``, default :data:`DEFAULT_BUDGET_MB` = 4096 MB). Loading a model
that would exceed it first drops the least recently used models (LRU; a request still rendering with a dropped
model keeps its reference, so the memory is freed when it finishes); a model larger than the whole budget is
refused with a message saying so. The default is sized for a free Hugging Face CPU Space (2 vCPU, 16 GB RAM):
4 GB of weights holds dozens of 1024-px StyleGAN2-ADA generators and leaves most of the 16 GB to the Python
process (torch, Gradio), the renders' activations (``views`` renders big images one at a time) and a
conversion in progress (an import holds the upstream file's tensors and the converted model at once).
``bench/registry_memory.py`` measures each model's bytes and the app's RSS with the default preload list
(``preload.DEFAULT_SPACE_PRELOAD``) loaded, a conversion included.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path

from . import checkpoint
from .checkpoint import NAME, CheckpointError
from .models import FAMILIES, GANGenerator

BUDGET_ENV = "GANLAB_MEMORY_BUDGET_MB"
DEFAULT_BUDGET_MB = 4096     # loaded models' parameters + buffers; a free CPU Space has 16 GB RAM (see above)
MB = 1 << 20


@dataclass
class ModelStatus:
    name: str
    folder: Path
    family: str = ""                     # "" when config.json cannot be read
    available: bool = False
    reason: str = ""                     # why it is unavailable ("" when available)
    loaded: bool = False
    config: dict = field(default_factory=dict, repr=False)   # the parsed config.json


def check_name(name) -> str:
    """A model name as the app accepts it: a plain folder name, never a path, a URL or markup."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("choose a model.")
    name = name.strip()
    if not NAME.match(name) or ".." in name:
        raise ValueError("model names are lower-case letters, digits, '.', '_' and '-' (no paths or markup); "
                         "pick one from the list.")
    return name


def budget_from_env(env=os.environ) -> int:
    """The memory budget in bytes: ``GANLAB_MEMORY_BUDGET_MB`` (a positive number of MiB), else the default."""
    raw = env.get(BUDGET_ENV, "").strip()
    if not raw:
        return DEFAULT_BUDGET_MB * MB
    try:
        mb = float(raw)
    except ValueError:
        mb = float("nan")
    if not mb > 0 or mb == float("inf"):
        raise ValueError(f"{BUDGET_ENV} must be a positive number of megabytes, got {raw!r}.")
    return int(mb * MB)


def model_bytes(model) -> int:
    """Bytes of a model's parameters and buffers (what the memory budget counts)."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


class ModelRegistry:
    def __init__(self, roots: str | Path | list | None = None, device=None, budget: int | None = None,
                 unlisted: list | tuple = ()):
        """``roots``: a folder or a list of folders of checkpoints (default: checkpoint.roots(), i.e. the bundled
        checkpoints and the imported models, rescanned on every listing so new models appear). ``device``: where
        models load ("auto", "cpu", "cuda", "mps"; None: $GANLAB_DEVICE or auto, see :mod:`ganlab.device`).
        ``budget``: bytes of loaded parameters + buffers kept at most (default :func:`budget_from_env`).
        ``unlisted``: roots (among ``roots``) whose models are served by name but never listed (each visitor's
        own live-trained models, which only their own picker offers)."""
        from .device import resolve
        self.roots = roots
        self.unlisted = {Path(r).expanduser().resolve() for r in unlisted}
        self.device = resolve(device)
        self.budget = budget_from_env() if budget is None else int(budget)
        self._models: OrderedDict[str, GANGenerator] = OrderedDict()    # least recently used first
        self._sizes: dict[str, int] = {}                                # name → model_bytes of a loaded model
        self.evicted: deque[str] = deque(maxlen=64)                     # names dropped to stay in budget (latest)
        self._failed: dict[str, tuple[float, str]] = {}      # name → (weights mtime, error) of a failed load
        self._lock = threading.Lock()                          # guards the dicts and the per-name locks
        self._loading: dict[str, threading.Lock] = {}
        self._param_counts: dict[tuple[str, float], int] = {}   # (name, config.json mtime) → parameter count
        self._weights: dict[str, tuple[Path, float]] = {}        # name → (weights file, its mtime when loaded)
        self.on_change: list = []          # called with a model's name when it is loaded anew or dropped (caches)

    # -- listing --------------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every checkpoint folder of a generator family, available or not (a fresh scan each call)."""
        return [s.name for s in self.status()]

    def status(self) -> list[ModelStatus]:
        """Every generator checkpoint folder, sorted by family then name, with whether it can be served."""
        out = [s for f in checkpoint.scan(self.roots)
               if f.folder.parent.resolve() not in self.unlisted and (s := self._folder_status(f)) is not None]
        return sorted(out, key=lambda s: (_family_rank(s.family), s.name))

    def folder(self, name: str) -> Path | None:
        """The checkpoint folder of model ``name``, or None."""
        name = check_name(name)
        return next((f.folder for f in checkpoint.scan(self.roots) if f.name == name), None)

    def available(self) -> list[str]:
        return [s.name for s in self.status() if s.available]

    def grouped(self) -> dict[str, list[str]]:
        """Available model names by family, in the order MLP, DCGAN, conditional, StyleGAN2."""
        groups: dict[str, list[str]] = {}
        for s in self.status():
            if s.available:
                groups.setdefault(s.family, []).append(s.name)
        return groups

    def _folder_status(self, found: checkpoint.Found) -> ModelStatus | None:
        name, folder = found.name, found.folder
        if found.error:
            return ModelStatus(name, folder, reason=found.error)
        cfg, family = found.config, found.family
        if family not in FAMILIES:
            return None                                        # not a generator (e.g. evaluation classifiers)
        s = ModelStatus(name, folder, family, config=cfg)
        weights = folder / "model.safetensors"
        with self._lock:
            s.loaded = name in self._models
            failed = self._failed.get(name)
        if s.loaded:
            s.available = True
        elif not weights.is_file():
            s.reason = "no model.safetensors yet (still training?)"
        elif failed and failed[0] == _mtime(weights):
            s.reason = failed[1]
        else:
            s.reason = checkpoint.check_weights(weights)
            s.available = not s.reason
        return s

    # -- loading --------------------------------------------------------------------------------------------
    def get(self, name: str) -> GANGenerator:
        """The generator ``name``, loaded on first use and cached. ValueError (unknown or bad name) or
        CheckpointError (a broken checkpoint, with the reason) otherwise."""
        name = check_name(name)
        self._drop_if_replaced(name)
        with self._lock:
            model = self._models.get(name)
            if model is not None:
                self._models.move_to_end(name)                 # most recently used
                return model
            lock = self._loading.setdefault(name, threading.Lock())
        with lock:                                             # one load per name; other names keep serving
            with self._lock:
                if name in self._models:
                    self._models.move_to_end(name)
                    return self._models[name]
            folder = self.folder(name)
            if folder is None:
                known = ", ".join(self.available()) or "none yet"
                raise ValueError(f"unknown model {name!r}; available: {known}.")
            weights = folder / "model.safetensors"
            self._make_room(name, _size(weights))              # the file's tensors ≈ the loaded model's bytes
            try:
                model = checkpoint.load(str(folder), device=self.device)
            except (CheckpointError, ValueError, OSError) as e:
                reason = str(e).replace(str(folder.parent) + "/", "")
                with self._lock:
                    self._failed[name] = (_mtime(weights), reason)
                raise CheckpointError(f"model {name} is unavailable: {reason}") from None
            model.info["name"] = name
            model.requires_grad_(False)
            size = model_bytes(model)
            self._make_room(name, size)
            with self._lock:
                self._models[name] = model
                self._sizes[name] = size
                self._weights[name] = (weights, _mtime(weights))
                self._failed.pop(name, None)
            self._changed(name)
            return model

    def _drop_if_replaced(self, name: str) -> None:
        """Forget a loaded model whose weights file was replaced since (e.g. imported again under its name)."""
        with self._lock:
            weights, mtime = self._weights.get(name, (None, None))
        if weights is None or _mtime(weights) == mtime:
            return
        with self._lock:
            self._models.pop(name, None)
            self._sizes.pop(name, None)
            self._weights.pop(name, None)
        self._changed(name)

    # -- the memory budget ----------------------------------------------------------------------------------
    def loaded(self) -> dict[str, int]:
        """Loaded models → their bytes, least recently used first."""
        with self._lock:
            return {n: self._sizes[n] for n in self._models}

    def loaded_bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    def _make_room(self, name: str, size: int) -> None:
        """Drop least recently used models until ``size`` more bytes fit the budget; CheckpointError (nothing
        dropped) when ``size`` alone exceeds it."""
        if size > self.budget:
            raise CheckpointError(f"model {name} needs {size / MB:,.0f} MB of memory, more than this app's budget "
                                  f"of {self.budget / MB:,.0f} MB for loaded models ({BUDGET_ENV}).")
        dropped = []
        with self._lock:
            while self._models and sum(self._sizes.values()) + size > self.budget:
                old, _ = self._models.popitem(last=False)
                self._sizes.pop(old, None)
                self.evicted.append(old)
                dropped.append(old)
        for old in dropped:
            self._changed(old)

    def _changed(self, name: str) -> None:
        for listener in self.on_change:
            listener(name)

    def load_all(self) -> list[str]:
        """Load every available model (benchmarks, warm-up); returns the names that loaded."""
        loaded = []
        for name in self.available():
            try:
                self.get(name)
                loaded.append(name)
            except CheckpointError:
                pass
        return loaded

    def num_parameters(self, name: str) -> int | None:
        """The generator's parameter count from its config alone (no weights read), cached per config.json.

        The net is built on the CPU, as loading would build it: these are small models (milliseconds each),
        whereas the meta device's random init imports torch._dynamo, which costs seconds at app start."""
        with self._lock:
            if name in self._models:
                return self._models[name].num_parameters()
        try:
            folder = self.folder(name)
            key = (name, _mtime(folder / "config.json"))
            if key not in self._param_counts:
                model = checkpoint.build_generator(checkpoint.read_config(folder), folder / "config.json",
                                                   checkpoint.weights_budget(folder / "model.safetensors"))
                self._param_counts[key] = model.num_parameters()
            return self._param_counts[key]
        except (CheckpointError, TypeError, ValueError, RuntimeError):
            return None


def _family_rank(family: str) -> int:
    order = list(FAMILIES)                                     # the order of models/__init__.py
    return order.index(family) if family in order else len(order)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
