"""Importers of upstream GAN checkpoints: one module per upstream format, each turning a file into an ordinary
ganlab checkpoint folder (config.json with a ``source`` block + model.safetensors + the README.md card that
:mod:`ganlab.card` writes).

    >>> import ganlab
    >>> folder = ganlab.import_model("ffhq.pkl", "checkpoints/stylegan2-ffhq")   # format detected from the file
    >>> m = ganlab.load(folder)

An importer module has

    NAME: str                                   # the format name, e.g. "stylegan2-ada"
    DESCRIPTION: str                            # one line for errors, cards and the CLI help
    OPTIONS: dict                               # its own import options → allowed values (see check_options)
    detect(path) -> bool                        # cheap: keys, structure, magic bytes; never executes anything
    convert(path, **options) -> (model, dataset, upstream_config, licence)

Everything a file can do wrong ends as a CheckpointError naming the file; the output folder is written only
after the conversion succeeded (into a hidden folder, then moved into place), and a first download that does
not convert is removed from the cache without its hash being recorded.

Nothing here unpickles a file normally: NVIDIA's pickles go through ``_pickle.SafeUnpickler`` (an allow-list
that turns persisted objects into plain data), state-dict files through ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from pathlib import Path

from ..models import CheckpointError, GANGenerator

# format name → module (relative to this package)
_MODULES = {
    "stylegan2-ada": ".stylegan2_ada",
    "stylegan1": ".stylegan1",
    "progan": ".progan",
    "dcgan-zoo": ".dcgan_zoo",
    "dcgan-tutorial": ".dcgan_tutorial",
}
FORMATS = tuple(_MODULES)


def importer(name: str):
    """The importer module of format ``name``; CheckpointError for an unknown format."""
    if name not in _MODULES:
        raise CheckpointError(f"unknown import format {name!r}: choose one of {', '.join(FORMATS)} or 'auto'.")
    return importlib.import_module(_MODULES[name], __name__)


def available() -> list:
    """Every importer module, in registry order."""
    return [importer(name) for name in FORMATS]


def detect(path: str | Path) -> str:
    """The format name of ``path`` (asks each importer's cheap ``detect``); CheckpointError if none claims it."""
    path = Path(path)
    found = [m.NAME for m in available() if _claims(m, path)]
    if not found:
        raise CheckpointError(f"{path}: not a checkpoint format ganlab can import (known formats: {', '.join(FORMATS)}). "
                              "Pass --format to name the format if detection is wrong.")
    if len(found) > 1:
        raise CheckpointError(f"{path}: ambiguous format (matches {', '.join(found)}); pass format=... explicitly.")
    return found[0]


def _claims(mod, path: Path) -> bool:
    """``mod.detect(path)``; a file that makes a detector fail is simply not of that format."""
    try:
        return bool(mod.detect(path))
    except Exception:                   # a hostile file must not break detection: convert() reports what is wrong
        return False


COMMON_OPTIONS = {"dataset": str, "licence": str}     # labels every importer takes (files seldom record them)


def check_options(mod, options: dict) -> dict:
    """The one check of import options: each importer's ``OPTIONS`` ({name: allowed values (a tuple or a
    range) or a type}) plus :data:`COMMON_OPTIONS`; anything else, or a value not allowed, is a CheckpointError.
    ``dataset`` / ``licence`` of None mean "not given" and are dropped."""
    allowed = {**getattr(mod, "OPTIONS", {}), **COMMON_OPTIONS}
    unknown = sorted(map(str, set(options) - set(allowed)))
    if unknown:
        raise CheckpointError(f"the {mod.NAME} importer does not take the option(s) {unknown} "
                              f"(it takes {', '.join(allowed)}).")
    out = {}
    for key, value in options.items():
        rule = allowed[key]
        if value is None and key in COMMON_OPTIONS:
            continue
        if isinstance(rule, type):
            ok = isinstance(value, rule)
        elif isinstance(rule, range):
            ok = type(value) is int and value in rule
        else:
            ok = any(type(value) is type(a) and value == a for a in rule)
        if not ok:
            what = rule.__name__ if isinstance(rule, type) else (f"{rule.start}…{rule.stop - 1}"
                                                                 if isinstance(rule, range) else rule)
            raise CheckpointError(f"the {mod.NAME} importer's option {key} must be {what}, got {str(value)[:40]!r}.")
        out[key] = value
    return out


def _resolve_source(source: str | Path, progress=None) -> tuple[Path, object]:
    """SOURCE → (a local file, its catalog entry or None). A catalog name or an http(s) URL is downloaded into the
    cache by ``ganlab.download`` (resumed, size- and hash-checked; ``progress(done, total)`` or True for tqdm);
    a local path must exist."""
    from .. import catalog, download

    s = str(source).strip()
    entry = catalog.find(s)
    if entry is not None or s.lower().startswith(("http://", "https://")):
        try:
            return download.resolve(entry or s, progress=progress), entry
        except download.DownloadError as e:
            raise CheckpointError(str(e)) from None
    path = Path(s).expanduser()
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; give the checkpoint file itself (e.g. ffhq.pkl).")
    if not path.is_file():
        raise CheckpointError(f"{s}: no such file, URL or catalog name (catalog: {', '.join(catalog.names())}).")
    return path, None


def import_model(source: str | Path, out_dir: str | Path | None = None, format: str = "auto", progress=None,
                 catalog_name: str | None = None, **options) -> Path:
    """Convert an upstream checkpoint into a ganlab checkpoint folder ``out_dir``; returns the folder.

    ``source``: a local file, an http(s) URL or a catalog name (``ganlab.catalog``; downloads are cached).
    ``out_dir``: default, the imported-models folder (``checkpoint.roots()``) under the catalog name or the
    source file's stem made a valid model name (``catalog.model_name``: "My Model.pth" → "my-model"), so that
    the app and ``ganlab.load(name)`` find it. ``format``: "auto" (a catalog entry's own format, else detected
    from the file) or one of FORMATS. ``options`` go to the importer's ``convert`` (e.g. ``avg=True`` for the
    zoo's averaged generator; a catalog entry adds its own). ``catalog_name``: the catalog entry that the local
    file ``source`` was downloaded for (the preloader's case), recorded as if the name had been given. A catalog
    model's card and config record the catalog's origin URL and licence (non-commercial ones say so). Nothing is
    written when conversion fails."""
    from .. import download

    path, entry = _resolve_source(source, progress)
    try:
        out = _convert_and_write(source, path, entry, out_dir, format, catalog_name, options)
    except BaseException as e:
        download.discard_unconfirmed(path)     # a first download that did not convert is not kept (nor its hash)
        if isinstance(e, CheckpointError):        # one line that names the file, whatever the importer said
            text = " ".join(str(e).split())
            raise CheckpointError(text if path.name in text else f"{path}: {text}") from None
        raise
    download.confirm(path)                     # converted: a first download's hash may now be recorded
    return out


def _convert_and_write(source, path: Path, entry, out_dir, format, catalog_name, options) -> Path:
    from .. import catalog
    from ..card import write_card
    from ..checkpoint import MODELS_DIR, save
    from ..download import sha256_file

    if catalog_name is not None:
        entry = catalog.find(catalog_name)
        if entry is None:
            raise CheckpointError(f"{catalog_name!r} is not in ganlab's catalog.")
    if entry is not None:
        options = {**entry.options, **options}
        if format in (None, "", "auto"):
            format = entry.format
    if out_dir is None:                 # the models folder, under the name the model list will show
        out_dir = Path(MODELS_DIR) / (entry.name if entry else catalog.model_name(str(source)))
    out_dir = Path(out_dir)
    name = detect(path) if format in (None, "", "auto") else format
    mod = importer(name)   # an explicit format skips detection: its convert() refuses what it cannot read
    options = check_options(mod, options)
    try:
        model, dataset, upstream, licence = mod.convert(path, **options)
    except CheckpointError:
        raise
    except Exception as e:              # whatever else a hostile file provokes: one error, no traceback
        detail = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
        raise CheckpointError(f"{path}: not a readable {name} file ({type(e).__name__}"
                              f"{': ' + detail if detail else ''}).") from None
    if not isinstance(model, GANGenerator):
        raise TypeError(f"importer {name} returned {type(model).__name__}, not a GANGenerator")
    if entry is not None:
        licence = catalog.licence_text(entry)          # the catalog states the weights' and the data's terms
    local = Path(str(source)).expanduser()
    origin = entry.url if entry else str(local.resolve()) if local.is_file() else str(source)  # a URL stays as given
    source_block = {"origin": origin, "sha256": sha256_file(path), "licence": licence, "format": name,
                    "upstream": upstream}
    new = not out_dir.exists()
    _write(out_dir, lambda folder: save(model.eval(), folder, dataset=dataset, source=source_block))
    try:
        write_card(out_dir, model=model)          # the card names the final folder: written in place
    except BaseException:
        if new:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return out_dir


def _write(out_dir: Path, write) -> Path:
    """``write(folder)`` into a hidden folder beside ``out_dir``, then moved into place: a failed import leaves
    nothing behind (an existing ``out_dir`` keeps its other files; the written ones replace theirs)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".importing-{out_dir.name[:40]}-", dir=out_dir.parent))
    try:
        write(tmp)
        if out_dir.is_dir():
            for f in tmp.iterdir():
                os.replace(f, out_dir / f.name)
        else:
            os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


__all__ = ["import_model", "detect", "importer", "available", "FORMATS", "CheckpointError"]
