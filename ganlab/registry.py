"""The app's registry of bundled generators: names found in a checkpoints folder, loaded lazily, cached.

``ModelRegistry(root).get(name)`` loads a model the first time it is asked for (one loader at a time per
name, under a lock) and keeps it; ``status()`` lists every checkpoint folder as available or unavailable with
the reason, without loading anything, so that one broken checkpoint never stops the others from serving. Only
real checkpoint folders are ever served: there is no fallback to random weights.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import checkpoint
from .models import FAMILIES, CheckpointError, GANGenerator

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")   # a bundled model's folder name: no paths, no markup
FAMILY_ORDER = ["mlp", "dcgan", "cgan", "stylegan2"]


@dataclass
class ModelStatus:
    name: str
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


class ModelRegistry:
    def __init__(self, root: str | Path | None = None, device: str = "cpu"):
        self.root = Path(root or checkpoint.CHECKPOINTS_DIR).resolve()
        self.device = device
        self._models: dict[str, GANGenerator] = {}
        self._failed: dict[str, tuple[float, str]] = {}      # name → (weights mtime, error) of a failed load
        self._lock = threading.Lock()                          # guards the dicts and the per-name locks
        self._loading: dict[str, threading.Lock] = {}
        self._param_counts: dict[tuple[str, float], int] = {}   # (name, config.json mtime) → parameter count

    # -- listing --------------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every checkpoint folder of a generator family, available or not (a fresh scan each call)."""
        return [s.name for s in self.status()]

    def status(self) -> list[ModelStatus]:
        """Every generator checkpoint folder, sorted by family then name, with whether it can be served."""
        out = []
        if self.root.is_dir():
            for d in sorted(self.root.iterdir()):
                if d.is_dir() and NAME.match(d.name) and (d / "config.json").is_file():
                    s = self._folder_status(d)
                    if s is not None:
                        out.append(s)
        return sorted(out, key=lambda s: (_family_rank(s.family), s.name))

    def available(self) -> list[str]:
        return [s.name for s in self.status() if s.available]

    def grouped(self) -> dict[str, list[str]]:
        """Available model names by family, in the order MLP, DCGAN, conditional, StyleGAN2."""
        groups: dict[str, list[str]] = {}
        for s in self.status():
            if s.available:
                groups.setdefault(s.family, []).append(s.name)
        return groups

    def _folder_status(self, folder: Path) -> ModelStatus | None:
        name = folder.name
        try:
            cfg = checkpoint.read_config(folder)
        except CheckpointError as e:
            return ModelStatus(name, reason=str(e).replace(str(self.root) + "/", ""))
        family = cfg.get("family")
        if family not in FAMILIES:
            return None                                        # not a generator (e.g. evaluation classifiers)
        s = ModelStatus(name, family, config=cfg)
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
            s.reason = _check_header(weights)
            s.available = not s.reason
        return s

    # -- loading --------------------------------------------------------------------------------------------
    def get(self, name: str) -> GANGenerator:
        """The generator ``name``, loaded on first use and cached. ValueError (unknown or bad name) or
        CheckpointError (a broken checkpoint, with the reason) otherwise."""
        name = check_name(name)
        with self._lock:
            model = self._models.get(name)
            if model is not None:
                return model
            lock = self._loading.setdefault(name, threading.Lock())
        with lock:                                             # one load per name; other names keep serving
            with self._lock:
                if name in self._models:
                    return self._models[name]
            folder = self.root / name
            if not (folder / "config.json").is_file():
                known = ", ".join(self.available()) or "none yet"
                raise ValueError(f"unknown model {name!r}; available: {known}.")
            weights = folder / "model.safetensors"
            try:
                model = checkpoint.load(str(folder), device=self.device)
            except (CheckpointError, ValueError, OSError) as e:
                reason = str(e).replace(str(self.root) + "/", "")
                with self._lock:
                    self._failed[name] = (_mtime(weights), reason)
                raise CheckpointError(f"model {name} is unavailable: {reason}") from None
            model.info["name"] = name
            model.requires_grad_(False)
            with self._lock:
                self._models[name] = model
                self._failed.pop(name, None)
            return model

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
            folder = self.root / check_name(name)
            key = (name, _mtime(folder / "config.json"))
            if key not in self._param_counts:
                cfg = checkpoint.read_config(folder)
                self._param_counts[key] = FAMILIES[cfg["family"]].Generator(cfg["config"]).num_parameters()
            return self._param_counts[key]
        except (CheckpointError, KeyError, TypeError, ValueError, RuntimeError):
            return None


def _family_rank(family: str) -> int:
    return FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _check_header(path: Path) -> str:
    """'' if ``path`` starts like a safetensors file (a length and a JSON header), else why not. Cheap: it reads
    the header only, so that listing models never loads weights."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 2 <= n <= min(size - 8, 100_000_000):
                return "model.safetensors is not a valid safetensors file (bad header length)."
            header = json.loads(f.read(n))
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError, KeyError, IndexError, TypeError,
            ValueError):
        return "model.safetensors is not a valid safetensors file (unreadable header)."
    if 8 + n + end != size:          # a truncated (or padded) file: its tensors do not fit the header
        return (f"model.safetensors is not a valid safetensors file (truncated or corrupt: the header describes "
                f"{8 + n + end:,} bytes, the file has {size:,}).")
    return ""
