"""Finding, resolving, loading and publishing ganlab's checkpoints: folders with ``config.json`` and
``model.safetensors`` (the format itself, its one writer and one reader, is :mod:`ganlab.checkpoint_format`,
re-exported here); nothing is unpickled. The model card (README.md) is :mod:`ganlab.card`'s.

Models are found by scanning :func:`roots`: the bundled ``checkpoints/`` (env GANLAB_CHECKPOINTS) and the folder of
imported models (env GANLAB_MODELS_DIR, else ``/data/ganlab/models`` on a Space with persistent storage, else
``$HF_HOME/ganlab/models``); a folder name is a model name
(:data:`NAME`), the first root wins when two hold the same name. A model is also loadable from any local
folder or a Hugging Face repo id.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .checkpoint_format import (FORMAT_VERSION, CheckpointError, check_weights, jsonable,  # noqa: F401 (re-exported)
                                load_state, load_weights, read_config, read_folder, read_weights, save, write_folder)

CHECKPOINTS_DIR = Path(os.environ.get("GANLAB_CHECKPOINTS", Path(__file__).resolve().parent.parent / "checkpoints"))


SPACE_DATA = Path("/data")        # a Hugging Face Space's persistent storage, when the Space has it


def models_dir(data: Path = SPACE_DATA) -> Path:
    """Where imported models live: $GANLAB_MODELS_DIR; else /data/ganlab/models where /data is writable (a Space
    with persistent storage: conversions survive a restart); else ``$HF_HOME/ganlab/models``."""
    env = os.environ.get("GANLAB_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    if data.is_dir() and os.access(data, os.W_OK | os.X_OK):
        return data / "ganlab" / "models"
    from huggingface_hub import constants
    return Path(constants.HF_HOME) / "ganlab" / "models"


MODELS_DIR = models_dir()        # imported models (tests may point this elsewhere)
HUB_FILES = ["config.json", "model.safetensors", "README.md", "metrics.json", "*.png"]
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")          # a model's folder name: no paths, no markup
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")


# -- finding models --------------------------------------------------------------------------------------
@dataclass
class Found:
    name: str
    folder: Path
    config: dict | None = None            # the parsed config.json, None when unreadable
    error: str = ""                       # why config.json cannot be read

    @property
    def family(self) -> str:
        return (self.config or {}).get("family", "")


def scan(roots=None) -> list[Found]:
    """Every model folder (a NAME with a config.json) under ``roots`` (default :func:`roots`), by name; the first root
    wins when two hold the same name. Generators and other families (classifiers, toy exports) alike."""
    found: dict[str, Found] = {}
    for root in _roots(roots):
        if not root.is_dir():
            continue
        for d in sorted(root.iterdir()):
            if d.name in found or not d.is_dir() or not NAME.match(d.name) or not (d / "config.json").is_file():
                continue
            try:
                found[d.name] = Found(d.name, d, read_config(d))
            except CheckpointError as e:
                found[d.name] = Found(d.name, d, error=str(e).replace(str(root) + os.sep, ""))
    return sorted(found.values(), key=lambda f: f.name)


def list_models(root: str | Path | None = None) -> list[str]:
    """Names of the generators found in ``root`` (default: the bundled checkpoints and the imported models)."""
    from .models import FAMILIES
    return [f.name for f in scan(root) if f.family in FAMILIES]


def roots() -> list[Path]:
    """Where models are found: the bundled checkpoints, then the imported models."""
    return [CHECKPOINTS_DIR, MODELS_DIR]


def _roots(given) -> list[Path]:
    roots_ = roots() if given is None else [given] if isinstance(given, (str, os.PathLike)) else given
    return [Path(r).expanduser().resolve() for r in roots_]


# -- loading and saving generators -----------------------------------------------------------------------
def resolve(name_or_path: str) -> Path:
    """A model name (bundled or imported), a local checkpoint folder or a Hugging Face repo id → a local folder."""
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():
        raise ValueError("a model name, a checkpoint folder or a Hugging Face repo id is required.")
    s = str(name_or_path).strip()
    if NAME.match(s):
        for root in _roots(None):
            if (root / s / "config.json").is_file():
                return root / s
    path = Path(s).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"{s} is not a checkpoint folder (it has no config.json).")
        return path
    if _REPO_ID.match(s) and ".." not in s and not s.startswith(("/", ".", "~")):
        return download(s)
    if os.sep in s or s.startswith((".", "~")) or path.exists():
        raise ValueError(f"{s} is not a checkpoint folder.")
    raise ValueError(f"unknown model {s!r}: choose one of {', '.join(list_models()) or '(none found)'}, "
                     "a checkpoint folder, or a Hugging Face repo id like 'user/ganlab-dcgan-mnist'.")


def download(repo_id: str, revision: str | None = None) -> Path:
    """Fetch a checkpoint from the Hub into the standard cache (honours HF_HUB_OFFLINE and HF_HUB_CACHE)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(repo_id, revision=revision, allow_patterns=HUB_FILES)
    except LocalEntryNotFoundError:
        raise ValueError(f"{repo_id} is not in the local Hugging Face cache and the Hub cannot be reached "
                         "(offline, or HF_HUB_OFFLINE=1).") from None
    except HfHubHTTPError as e:
        raise ValueError(f"could not fetch {repo_id} from the Hugging Face Hub: {e}") from None
    except Exception as e:  # connection errors and the like: keep the message, lose the traceback noise
        raise ValueError(f"could not fetch {repo_id} from the Hugging Face Hub: {type(e).__name__}: {e}") from None
    if not (Path(folder) / "config.json").is_file():
        raise ValueError(f"the Hub repo {repo_id} is not a ganlab checkpoint (it has no config.json).")
    return Path(folder)


BUILD_SLACK = 64 << 20            # bytes a generator's construction may take beyond its weights (filters, scratch)
BUILD_CALLS = 20_000              # torch calls a construction may make (the largest real models make a few hundred)


def build_within(build, max_bytes: int, what: str):
    """``build()`` (a model constructor) refused with CheckpointError as soon as the tensors it creates add up to
    more than ``max_bytes``, or it makes more than :data:`BUILD_CALLS` torch calls: a config that declares a
    huge model is stopped before it allocates, whatever the family. A factory call (``empty``, ``randn``,
    ``outer``, ...) is checked before it runs; other results are counted after."""
    import torch
    from torch.overrides import TorchFunctionMode

    sizes = {"empty", "zeros", "ones", "randn", "rand", "full", "randint", "normal", "empty_strided"}

    def numel_before(func, args, kwargs) -> int:
        name = getattr(func, "__name__", "")
        if name == "outer" and len(args) == 2:
            return args[0].numel() * args[1].numel()
        if name not in sizes:
            return 0
        dims = kwargs.get("size", args[0] if name == "full" and args else args[-1] if name == "randint" and args
                          else args)
        dims = dims[0] if isinstance(dims, (tuple, list)) and len(dims) == 1 and isinstance(
            dims[0], (tuple, list, torch.Size)) else dims
        dims = dims if isinstance(dims, (tuple, list, torch.Size)) else (dims,)
        return math.prod(int(d) for d in dims) if all(isinstance(d, int) for d in dims) else 0

    class Budget(TorchFunctionMode):
        used, calls = 0, 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            self.calls += 1
            ahead = numel_before(func, args, kwargs) * 4
            if self.calls > BUILD_CALLS or self.used + ahead > max_bytes:
                raise CheckpointError(f"{what}: the configuration declares a larger model than its weights file "
                                      f"holds (more than {max_bytes / 2**20:,.0f} MB or {BUILD_CALLS:,} steps to "
                                      "build); refused before allocating it.")
            out = func(*args, **kwargs)
            if isinstance(out, torch.Tensor):
                self.used += out.numel() * out.element_size()
            return out

    with Budget():
        return build()


def build_generator(meta: dict, path: str | Path = "config.json", max_bytes: int | None = None):
    """An untrained generator of the family and config that ``meta`` (a config.json dict) describes; with
    ``max_bytes``, built within that many bytes of tensors (see :func:`build_within`)."""
    from .models import FAMILIES

    family = meta.get("family")
    if not isinstance(family, str) or family not in FAMILIES:
        raise CheckpointError(f"{path}: unknown family {family!r} (known: {', '.join(FAMILIES)}).")
    try:
        if max_bytes is None:
            return FAMILIES[family].Generator(meta["config"])
        return build_within(lambda: FAMILIES[family].Generator(meta["config"]), max_bytes, str(path))
    except CheckpointError:
        raise
    except (TypeError, ValueError, OverflowError, RuntimeError) as e:
        raise CheckpointError(f"{path}: config does not build a {family} generator ({str(e)[:200]}).") from None


def weights_budget(weights: str | Path) -> int:
    """Bytes a generator whose weights file is ``weights`` may take to build: its tensors (the file's size bounds
    them) with room for construction scratch; see :func:`build_within`."""
    try:
        size = os.path.getsize(weights)
    except OSError:
        size = 0
    return 3 * size + BUILD_SLACK


def load(name_or_path: str, device=None):
    """Load a generator strictly from a model name, a local folder or a Hub repo id, in eval mode, onto
    ``device`` ("auto", "cpu", "cuda", "mps"; None: $GANLAB_DEVICE, else auto: see :mod:`ganlab.device`)."""
    from .device import resolve as resolve_device
    device = resolve_device(device)
    folder = resolve(name_or_path)
    meta, state = read_folder(folder)                  # read on the CPU, then moved with the model
    model = build_generator(meta, folder / "config.json", weights_budget(folder / "model.safetensors"))
    load_state(model, state, folder / "model.safetensors")
    model.info = {k: v for k, v in meta.items() if k != "config"}
    model.info["name"] = folder.name if folder.parent in _roots(None) else str(name_or_path)
    metrics = folder / "metrics.json"
    if metrics.is_file():
        try:
            model.info["metrics"] = json.loads(metrics.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            model.info["metrics"] = {}
    return model.to(device).eval()


def push_to_hub(name_or_path: str, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload a checkpoint folder as it is (config, weights, card, metrics, samples) to a Hub model repo."""
    from huggingface_hub import HfApi

    folder = resolve(name_or_path)
    load(str(folder))  # refuse to publish a checkpoint that does not load
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, allow_patterns=HUB_FILES,
                             commit_message="Upload ganlab checkpoint")
    return str(getattr(info, "commit_url", info))
