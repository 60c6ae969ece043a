"""Importers of upstream GAN checkpoints: one module per upstream format, each turning a file into an ordinary
ganlab checkpoint folder (config.json with a ``source`` block + model.safetensors + the README.md card that
:mod:`ganlab.card` writes).

    >>> import ganlab
    >>> folder = ganlab.import_model("ffhq.pkl", "checkpoints/stylegan2-ffhq")   # format detected from the file
    >>> m = ganlab.load(folder)

An importer module has

    NAME: str                                   # the format name, e.g. "stylegan2-ada"
    DESCRIPTION: str                            # one line for errors, cards and the CLI help
    detect(path) -> bool                        # cheap: keys, structure, magic bytes; never executes anything
    convert(path, **options) -> (model, dataset, upstream_config, licence)

Nothing here unpickles a file normally: NVIDIA's pickles go through ``_pickle.SafeUnpickler`` (an allow-list
that turns persisted objects into plain data), state-dict files through ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import importlib
import inspect
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
    found = [m.NAME for m in available() if m.detect(path)]
    if not found:
        raise CheckpointError(f"{path}: not a checkpoint format ganlab can import (known formats: {', '.join(FORMATS)}). "
                              "Pass --format to name the format if detection is wrong.")
    if len(found) > 1:
        raise CheckpointError(f"{path}: ambiguous format (matches {', '.join(found)}); pass format=... explicitly.")
    return found[0]


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
    ``out_dir``: default, the imported-models folder (``checkpoint.roots()``) under the source's name, so that
    the app and ``ganlab.load(name)`` find it. ``format``: "auto" (a catalog entry's own format, else detected
    from the file) or one of FORMATS. ``options`` go to the importer's ``convert`` (e.g. ``avg=True`` for the
    zoo's averaged generator; a catalog entry adds its own). ``catalog_name``: the catalog entry that the local
    file ``source`` was downloaded for (the preloader's case), recorded as if the name had been given. A catalog
    model's card and config record the catalog's origin URL and licence (non-commercial ones say so). Nothing is
    written when conversion fails."""
    from .. import catalog
    from ..card import write_card
    from ..checkpoint import MODELS_DIR, save
    from ..download import sha256_file

    path, entry = _resolve_source(source, progress)
    if catalog_name is not None:
        entry = catalog.find(catalog_name)
        if entry is None:
            raise CheckpointError(f"{catalog_name!r} is not in ganlab's catalog.")
    if entry is not None:
        options = {**entry.options, **options}
        if format in (None, "", "auto"):
            format = entry.format
    if out_dir is None:
        out_dir = MODELS_DIR / (entry.name if entry else Path(path).stem.lower().replace("_", "-"))
    name = detect(path) if format in (None, "", "auto") else format
    mod = importer(name)   # an explicit format skips detection: its convert() refuses what it cannot read
    try:
        inspect.signature(mod.convert).bind(path, **options)
    except TypeError:
        known = [p for p in inspect.signature(mod.convert).parameters if p != "path"]
        raise CheckpointError(f"the {name} importer does not take the option(s) {sorted(options)} "
                              f"(it takes {', '.join(known) or 'none'}).") from None
    model, dataset, upstream, licence = mod.convert(path, **options)
    if not isinstance(model, GANGenerator):
        raise TypeError(f"importer {name} returned {type(model).__name__}, not a GANGenerator")
    if entry is not None:
        licence = catalog.licence_text(entry)          # the catalog states the weights' and the data's terms
    local = Path(str(source)).expanduser()
    origin = entry.url if entry else str(local.resolve()) if local.is_file() else str(source)  # a URL stays as given
    source_block = {"origin": origin, "sha256": sha256_file(path), "licence": licence, "format": name,
                    "upstream": upstream}
    out = save(model.eval(), out_dir, dataset=dataset, source=source_block)
    write_card(out, model=model)
    return out


__all__ = ["import_model", "detect", "importer", "available", "FORMATS", "CheckpointError"]
