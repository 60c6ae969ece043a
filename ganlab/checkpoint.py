"""Checkpoint folders: the registry of bundled models, one loader for a bundled name, a local folder or a Hub
repo id, and saving. A checkpoint is a folder with ``config.json`` (family, format version, constructor config,
dataset, training summary) and ``model.safetensors`` (the generator's weights); nothing is ever unpickled.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from pathlib import Path

from .models import FAMILIES, CheckpointError, GANGenerator

FORMAT_VERSION = 1
CHECKPOINTS_DIR = Path(os.environ.get("GANLAB_CHECKPOINTS", Path(__file__).resolve().parent.parent / "checkpoints"))
HUB_FILES = ["config.json", "model.safetensors", "README.md", "metrics.json", "*.png"]
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def list_models(root: Path | None = None) -> list[str]:
    """Names of the bundled generators (folders of ``checkpoints/`` with a generator config.json)."""
    root = Path(root or CHECKPOINTS_DIR)
    names = []
    if root.is_dir():
        for d in sorted(root.iterdir()):
            try:
                if read_config(d).get("family") in FAMILIES:
                    names.append(d.name)
            except CheckpointError:
                continue
    return names


def read_config(folder: Path) -> dict:
    """Parse and validate ``folder/config.json``; raises CheckpointError naming the file and the problem."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found (a checkpoint folder needs config.json and model.safetensors).")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e}).") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{path}: expected a JSON object.")
    version = cfg.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format_version {version!r} is not supported (this ganlab reads {FORMAT_VERSION}).")
    return cfg


def resolve(name_or_path: str) -> Path:
    """A bundled model name, a local checkpoint folder or a Hugging Face repo id → a local folder."""
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():
        raise ValueError("a model name, a checkpoint folder or a Hugging Face repo id is required.")
    s = str(name_or_path).strip()
    if _NAME.match(s) and (CHECKPOINTS_DIR / s / "config.json").is_file():
        return CHECKPOINTS_DIR / s
    path = Path(s).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"{s} is not a checkpoint folder (it has no config.json).")
        return path
    if _REPO_ID.match(s) and ".." not in s and not s.startswith(("/", ".", "~")):
        return download(s)
    if os.sep in s or s.startswith((".", "~")) or path.exists():
        raise ValueError(f"{s} is not a checkpoint folder.")
    raise ValueError(f"unknown model {s!r}: choose one of {', '.join(list_models()) or '(none bundled)'}, "
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


def load(name_or_path: str, device: str = "cpu") -> GANGenerator:
    """Load a generator strictly from a bundled name, a local folder or a Hub repo id, in eval mode."""
    folder = resolve(name_or_path)
    cfg = read_config(folder)
    family = cfg.get("family")
    if family not in FAMILIES:
        raise CheckpointError(f"{folder / 'config.json'}: unknown family {family!r} (known: {', '.join(FAMILIES)}).")
    cls = FAMILIES[family].Generator
    try:
        model = cls.from_pretrained(str(folder), map_location=device)
    except CheckpointError:
        raise
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{folder / 'config.json'}: config does not build a {family} generator ({e}).") from None
    model.info = {k: v for k, v in cfg.items() if k != "config"}
    model.info["name"] = folder.name if folder.parent == CHECKPOINTS_DIR else str(name_or_path)
    metrics = folder / "metrics.json"
    if metrics.is_file():
        try:
            model.info["metrics"] = json.loads(metrics.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            model.info["metrics"] = {}
    return model.to(device).eval()


def save(model: GANGenerator, folder: str | Path, dataset: str = "", training: dict | None = None,
         source: dict | None = None) -> Path:
    """Write ``config.json`` + ``model.safetensors`` with the Hub mixin (model card written separately).
    ``source``: for imported models, where the weights came from ({origin, sha256, licence, format, upstream})."""
    folder = Path(folder)
    config = {
        "family": model.family,
        "format_version": FORMAT_VERSION,
        "config": _jsonable(dataclasses.asdict(model.config)),
        "dataset": dataset,
        "class_names": model.class_names if model.num_classes else list(model.config.class_names),
        "training": training or {},
    }
    if source is not None:
        config["source"] = _jsonable(source)
        model.info = {**model.info, "source": config["source"]}
    folder.mkdir(parents=True, exist_ok=True)
    # write into a scratch folder, then move each file into place atomically: a reader (the app, an evaluation)
    # never sees a half-written checkpoint while a training run saves
    with tempfile.TemporaryDirectory(dir=folder, prefix=".saving-") as tmp:
        model.save_pretrained(tmp, config=config)  # the mixin's generic README.md stays behind: ganlab.card writes ours
        for name in ("model.safetensors", "config.json"):
            os.replace(Path(tmp) / name, folder / name)
    return folder


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


def _jsonable(x):
    if isinstance(x, (tuple, list)):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    return x
