"""Reading ``torch.save`` files of the state-dict formats (StyleGAN v1 port, the GAN zoo, the DCGAN tutorial) safely.

Two ways in, neither executes anything from the file:

- ``pickle_names(data)`` lists the strings and globals a pickle mentions, by walking its opcodes with
  ``pickletools`` (nothing is built). Detection uses it on the archive's ``data.pkl``: cheap and safe.
- ``load(source)`` is ``torch.load(..., map_location="cpu", weights_only=True)``: torch's own restricted unpickler,
  which only rebuilds tensors and plain containers. A format that pickles one harmless class of its own (the zoo's
  ``models.utils.config.BaseConfig``, a bag of attributes) names a stand-in class for it: that class name, and no
  other, is admitted for the duration of the call, and it comes back as a stand-in whose ``vars()`` are the fields.
Anything torch refuses becomes a ``CheckpointError`` that names the file and what was refused.
"""
from __future__ import annotations

import io
import pickle
import pickletools
import re
import zipfile
import zlib
from pathlib import Path

import torch

from ..models import CheckpointError
from . import _pickle


MAX_MEMBERS = 100_000     # entries of a torch archive or a wheel (a model has a few hundred tensors)


def read_member(z: zipfile.ZipFile, name: str) -> bytes:
    """Member ``name`` of an archive, read within ``download.member_limit`` (its declared size is not trusted);
    CheckpointError for a member that expands too far, a bad CRC or a corrupt stream."""
    from ..download import extract_member
    buf = io.BytesIO()
    try:
        extract_member(z, name, buf)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, KeyError) as e:
        raise CheckpointError(f"cannot read {name[:80]} from the archive ({str(e)[:120]}).") from None
    return buf.getvalue()


def check_archive(z: zipfile.ZipFile, what: str) -> None:
    """A torch zip archive as ``torch.save`` writes it: every member stored uncompressed, inside the file, and
    matching the CRC-32 the archive records for it. torch's own reader would inflate a compressed member to
    whatever size it declares, and reads a damaged one without noticing."""
    infos = z.infolist()
    if len(infos) > MAX_MEMBERS:
        raise CheckpointError(f"{what}: {len(infos):,} archive members (more than {MAX_MEMBERS:,}).")
    size = z.fp.seek(0, 2) if z.fp is not None else 0
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size \
                or info.header_offset + info.compress_size > size:
            raise CheckpointError(f"{what}: archive member {info.filename[:80]!r} is compressed or larger than "
                                  "the file (torch.save stores its members as they are); refused.")
    try:
        bad = z.testzip()                 # every member against its CRC-32 (torch's reader does not check them)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as e:
        raise CheckpointError(f"{what}: a damaged archive ({str(e)[:120]}).") from None
    if bad is not None:
        raise CheckpointError(f"{what}: archive member {bad[:80]!r} does not match its CRC-32: the file is damaged.")


def archive_pickle(data: bytes | Path) -> bytes | None:
    """The ``data.pkl`` of a torch zip archive (a path or the archive's bytes); None if it is not one (or if it
    cannot be read within the archive limits)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as z:
            names = [n for n in z.namelist()[:MAX_MEMBERS] if n.endswith("/data.pkl") or n == "data.pkl"]
            return read_member(z, names[0]) if len(names) == 1 else None
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, ValueError, CheckpointError):
        return None


def pickle_names(data: bytes) -> set[str]:
    """Every string and ``module.name`` global the pickle ``data`` mentions (its opcodes walked, nothing built)."""
    out: set[str] = set()
    try:
        for op, arg, _ in pickletools.genops(data):
            if isinstance(arg, str):
                out.add(arg.replace(" ", ".") if op.name == "GLOBAL" else arg)
    except (ValueError, EOFError, pickle.UnpicklingError):
        pass  # a truncated pickle: detection goes by what was readable, loading refuses it later
    return out


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # first pickle of torch's pre-1.6 (non-zip) format: files of 2019 and older
LEGACY_HEAD = b"\x80\x02\x8a\x0a" + LEGACY_MAGIC.to_bytes(10, "little")   # PROTO 2, LONG1 of 10 bytes: the magic


def legacy_pickle_names(source: bytes | Path) -> set[str]:
    """Strings of a legacy ``torch.save`` file's object pickle: it is the 4th pickle in the file (magic number,
    protocol version, system info, then the object; the tensor data follows). Empty if not that format."""
    try:
        with io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb") as raw:
            f = _pickle.Clamped(raw)
            if f.read(len(LEGACY_HEAD)) != LEGACY_HEAD:         # not walked further: a big pickle of another
                return set()                                    # format would be read whole
            f.seek(0)
            for _ in range(3):                                  # magic number, protocol version, system info
                for _ in pickletools.genops(f):
                    pass
            return {arg.replace(" ", ".") if op.name == "GLOBAL" else arg
                    for op, arg, _ in pickletools.genops(f) if isinstance(arg, str)}
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, OverflowError, MemoryError, UnicodeDecodeError):
        return set()


def state_keys(source: bytes | Path) -> set[str]:
    """The strings of a torch file's object pickle (state-dict keys among them), for the zip format and the
    legacy one; empty if ``source`` is neither. Nothing is unpickled."""
    data = archive_pickle(source)
    return pickle_names(data) if data is not None else legacy_pickle_names(source)


def load(source: Path | bytes, what: str, stand_ins: dict[str, type] | None = None):
    """``torch.load(weights_only=True)`` onto the CPU; ``stand_ins`` maps an upstream class name that the
    format pickles (e.g. ``"models.utils.config.BaseConfig"``) to a plain local class admitted in its place."""
    globs = [(cls, name) for name, cls in (stand_ins or {}).items()]
    buf = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        if zipfile.is_zipfile(io.BytesIO(source) if isinstance(source, bytes) else source):
            with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as z:
                check_archive(z, what)
        with torch.serialization.safe_globals(globs):
            obj = torch.load(buf, map_location="cpu", weights_only=True)
        check_tensors(obj, what)
        return obj
    except pickle.UnpicklingError as e:
        refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        if not refused:  # not a pickle torch can read at all (random bytes, a truncated legacy file, ...)
            detail = next((ln.strip() for ln in str(e).splitlines() if ln.strip().startswith("Unsupported")), "")
            raise CheckpointError(f"{what}: not a readable torch checkpoint ({detail or 'corrupt pickle'}).") from None
        raise CheckpointError(f"{what}: refused by the weights-only loader (it asks for {refused.group(1)!r}, "
                              "which is not allowed); ganlab never executes code from a checkpoint.") from None
    except CheckpointError:
        raise
    except (RuntimeError, OSError, EOFError, ValueError, zipfile.BadZipFile, AttributeError, TypeError, KeyError,
            IndexError, OverflowError, MemoryError, RecursionError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{what}: not a readable torch checkpoint ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:160] if str(e) else 'corrupt'}).") from None


def check_tensors(obj, what: str, depth: int = 0) -> None:
    """Every tensor in a loaded object (dicts, lists, a stand-in's fields) is a plain view inside its storage:
    no stride-0 (expanded) or overlapping elements, which the first copy would turn into gigabytes."""
    if depth > 32:
        raise CheckpointError(f"{what}: nested deeper than 32 levels.")
    if isinstance(obj, torch.Tensor):
        _pickle.check_view(obj, f"{what}: a tensor")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            try:
                check_tensors(v, what, depth + 1)
            except CheckpointError as e:
                raise CheckpointError(str(e).replace(": a tensor", f": tensor {str(k)[:80]!r}", 1)) from None
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            check_tensors(v, what, depth + 1)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        check_tensors(vars(obj), what, depth + 1)


def tensor_dict(obj, what: str) -> dict[str, torch.Tensor]:
    """``obj`` checked to be a flat ``{name: tensor}`` state dict; CheckpointError otherwise."""
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                       for k, v in obj.items()):
        raise CheckpointError(f"{what}: expected a state dict of named tensors.")
    _pickle.check_unshared(obj, what)
    return dict(obj)


def take(state: dict[str, torch.Tensor], key: str, shape: tuple | None, what: str) -> torch.Tensor:
    """``state[key]`` as float32, its shape asserted; a missing key or a wrong shape is a CheckpointError."""
    if key not in state:
        raise CheckpointError(f"{what}: tensor {key!r} is missing.")
    t = state[key]
    if shape is not None and tuple(t.shape) != tuple(shape):
        raise CheckpointError(f"{what}: tensor {key!r} has shape {tuple(t.shape)}, expected {tuple(shape)}.")
    if not t.is_floating_point():
        raise CheckpointError(f"{what}: tensor {key!r} is {t.dtype}, expected floating point.")
    t = t.float()
    if not torch.isfinite(t).all():
        raise CheckpointError(f"{what}: tensor {key!r} contains NaN or infinite values.")
    if key.endswith("running_var") and (t < 0).any():
        raise CheckpointError(f"{what}: tensor {key!r} has negative variances (BatchNorm would divide by the "
                              "square root of a negative number).")
    return t


def fill(model: torch.nn.Module, table: dict[str, torch.Tensor], what: str) -> None:
    """Load ``table`` ({ganlab name: tensor}) into ``model``: every float tensor of the model must be covered
    (integer BatchNorm counters may be left out), nothing may be left over, shapes must agree."""
    own = model.state_dict()
    extra = sorted(set(table) - set(own))
    missing = sorted(k for k, v in own.items() if k not in table and v.is_floating_point())
    if extra or missing:
        raise CheckpointError(f"{what}: conversion table mismatch (missing {missing[:4]}, unexpected {extra[:4]}).")
    for k, v in table.items():
        if v.is_complex() or v.dtype == torch.bool:
            raise CheckpointError(f"{what}: {k} is {v.dtype}, not a real number.")
        if tuple(v.shape) != tuple(own[k].shape):
            raise CheckpointError(f"{what}: {k} has shape {tuple(v.shape)}, the model expects {tuple(own[k].shape)}.")
    own.update({k: v.to(own[k].dtype) for k, v in table.items()})
    model.load_state_dict(own, strict=True)
