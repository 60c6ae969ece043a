"""ganlab's one checkpoint format on disk, with no knowledge of model families: a folder with ``config.json`` and
``model.safetensors``; nothing is unpickled.

``config.json`` = {"family", "format_version": 1, "config": {constructor config}, ...} with, for generators,
"dataset", "class_names", "training" and, for imported models, a "source" block {origin, sha256, licence,
format, upstream}. Every writer (generators, evaluation classifiers, toy exports, importers) goes through
:func:`write_folder` and every reader through :func:`read_folder` / :func:`read_config` + :func:`load_state`;
:func:`check_weights` looks at a weights file's header only. :mod:`ganlab.checkpoint` (finding, resolving and
loading generators) and ``ganlab.models`` (the Hub mixin) both build on this module, which imports neither.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from pathlib import Path

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint folder, file or config that cannot be loaded; the message names the file and the problem."""


def write_folder(folder: str | Path, meta: dict, state_dict: dict) -> Path:
    """Write ``folder/config.json`` (``meta`` + format_version) and ``folder/model.safetensors`` (``state_dict``).

    ``meta`` needs a "family" string and a "config" object; tuples become lists. Each file is written into a
    scratch folder and moved into place atomically, so a reader never sees a half-written checkpoint."""
    from safetensors.torch import save_file

    if not isinstance(meta, dict) or not isinstance(meta.get("family"), str) or not meta["family"]:
        raise ValueError("checkpoint metadata needs a 'family' string.")
    if not isinstance(meta.get("config"), dict):
        raise ValueError("checkpoint metadata needs a 'config' object.")
    meta = {"family": meta["family"], "format_version": FORMAT_VERSION,
            **{k: v for k, v in jsonable(meta).items() if k not in ("family", "format_version")}}
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}   # no shared storage
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".saving-") as tmp:
        save_file(tensors, str(Path(tmp) / "model.safetensors"), metadata={"format": "pt"})
        (Path(tmp) / "config.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for name in ("model.safetensors", "config.json"):
            os.replace(Path(tmp) / name, folder / name)
    return folder


def read_config(folder: str | Path, family: str | None = None) -> dict:
    """Parse and validate ``folder/config.json`` (of ``family`` when given); CheckpointError names the file
    and the problem."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found (a checkpoint folder needs config.json and model.safetensors).")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path}: {path.stat().st_size:,} bytes; a config.json is at most {MAX_CONFIG_BYTES:,}.")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e}).") from None
    except RecursionError:
        raise CheckpointError(f"{path}: JSON nested too deeply.") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{path}: expected a JSON object.")
    problem = _config_problem(cfg)
    if problem:
        raise CheckpointError(f"{path}: {problem}.")
    version = cfg.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format_version {version!r} is not supported "
                              f"(this ganlab reads {FORMAT_VERSION}).")
    if not isinstance(cfg.get("family"), str):
        raise CheckpointError(f"{path}: the 'family' entry must be a string.")
    for key, kind in _ENTRY_TYPES.items():
        if cfg.get(key) is not None and not isinstance(cfg[key], kind):
            raise CheckpointError(f"{path}: the {key!r} entry must be a {kind.__name__}, not {type(cfg[key]).__name__}.")
    if family is not None and cfg.get("family") != family:
        raise CheckpointError(f"{path}: not a {family} checkpoint (family {cfg.get('family')!r}).")
    if not isinstance(cfg.get("config"), dict):
        raise CheckpointError(f"{path}: the 'config' entry must be a JSON object.")
    return cfg


MAX_CONFIG_BYTES = 4 << 20      # a config.json (an imported model's upstream block included) is a few kB
MAX_CONFIG_DEPTH = 32
MAX_CONFIG_INT = 1 << 24          # no size, count or dimension of a model reaches it
_ENTRY_TYPES = {"dataset": str, "training": dict, "class_names": list, "source": dict}   # what readers index


def _config_problem(cfg) -> str:
    """'' if every value of a parsed config.json is finite and sane in size, else what is not (a NaN or infinite
    number, an integer beyond :data:`MAX_CONFIG_INT` in the model config, nesting deeper than
    :data:`MAX_CONFIG_DEPTH`)."""
    stack = [(cfg, 0, "")]
    while stack:
        v, depth, where = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            return f"nested deeper than {MAX_CONFIG_DEPTH} levels"
        if isinstance(v, dict):
            stack += [(w, depth + 1, f"{where}.{k}" if where else str(k)) for k, w in v.items()]
        elif isinstance(v, list):
            stack += [(w, depth + 1, where) for w in v]
        elif isinstance(v, float) and not math.isfinite(v):
            return f"{where} is {v} (not a finite number)"
        elif (isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_CONFIG_INT
              and where.startswith("config.")):
            return f"{where} is {v:,}, beyond any model size ganlab builds"
    return ""


def read_weights(path: str | Path, device: str = "cpu") -> dict:
    """The tensors of a safetensors file; CheckpointError when it is missing or unreadable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = str(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: file not found (a checkpoint needs model.safetensors).")
    try:
        return load_file(path, device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({e}).") from None


def check_weights(path: str | Path) -> str:
    """'' if ``path`` is a whole safetensors file (its header parses and its tensors cover the file), else why
    not. Cheap: safetensors reads the header only (the tensors are memory-mapped, never read), so that listing
    models never loads weights."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt"):
            return ""
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        return f"{Path(path).name} is not a valid safetensors file ({e})."


def read_folder(folder: str | Path, family: str | None = None, device: str = "cpu") -> tuple[dict, dict]:
    """(config.json as a dict, the state dict of model.safetensors) of a checkpoint folder, validated."""
    meta = read_config(folder, family)
    return meta, read_weights(Path(folder) / "model.safetensors", device)


def load_state(module, state: dict, path: str | Path = "model.safetensors") -> None:
    """Load ``state`` into ``module`` strictly: every key, every shape, finite values; errors name ``path``."""
    import torch

    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not match the config: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}.")
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise CheckpointError(f"{path}: tensor {key!r} has shape {tuple(tensor.shape)}, the config expects "
                                  f"{tuple(expected[key].shape)}.")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: tensor {key!r} contains NaN or infinite values.")
    module.load_state_dict(state, strict=True)


def load_weights(module, path: str | Path, device: str = "cpu") -> None:
    """Load a safetensors file into ``module`` strictly (see :func:`load_state`)."""
    load_state(module, read_weights(path, device), path)


def jsonable(x):
    """Dataclasses, tuples and nested containers → plain JSON values."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return jsonable(dataclasses.asdict(x))
    if isinstance(x, (tuple, list)):
        return [jsonable(v) for v in x]
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    return x


def save(model, folder: str | Path, dataset: str = "", training: dict | None = None,
         source: dict | None = None) -> Path:
    """Write a generator's ``config.json`` + ``model.safetensors`` (its README.md card: ``ganlab.card.write_card``).

    ``source`` (imported models): {origin, sha256, licence, format, upstream: {upstream configuration}}."""
    meta = {"family": model.family, "config": dataclasses.asdict(model.config), "dataset": dataset,
            "class_names": model.class_names if model.num_classes else list(model.config.class_names),
            "training": training or {}}
    if source is not None:
        if not isinstance(source, dict):
            raise ValueError("source must be a dict {origin, sha256, licence, format, upstream}.")
        meta["source"] = source
        model.info = {**model.info, "source": source}
    return write_folder(folder, meta, model.state_dict())
