"""Reading upstream pickles without executing them.

NVIDIA's network pickles (StyleGAN2-ADA ``ffhq.pkl`` and the like) persist every module through
``torch_utils.persistence``: an object is stored as ``_reconstruct_persistent_obj(meta)`` where ``meta`` holds
the Python source of its module (``module_src``), its class name and its ``__dict__`` (``state``). A normal
``pickle.load`` *executes* that source. :class:`SafeUnpickler` instead admits a fixed allow-list of globals and
maps each one to a harmless stand-in that records plain data:

- ``_reconstruct_persistent_obj(meta)`` → :class:`PersistedObject` (class name, version, constructor
  args/kwargs, parameters, buffers, child modules, plain attributes); ``module_src`` is kept only as its
  sha256 and is never compiled or executed;
- tensors: storages are the legacy ``torch.save`` blobs of ``torch.storage._load_from_bytes``; each is read with
  ``torch.load(..., weights_only=True)`` (torch's own restricted unpickler), then ``_rebuild_tensor_v2`` /
  ``_rebuild_parameter`` (torch's rebuild functions, which its weights-only loader also admits) view it;
- ``dnnlib.util.EasyDict``, ``collections.OrderedDict``, ``builtins.set``/``frozenset``, numpy dtypes and
  numeric scalars/arrays (as plain Python numbers / numpy arrays built from raw bytes, never object arrays).

Any other global, a persistent id, or a malformed stream raises :class:`CheckpointError` naming what was
refused. State-dict files (``.pt``/``.pth``) go through :func:`torch_load`, i.e. ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import hashlib
import io
import math
import pickle
import pickletools
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from ..models import CheckpointError

MAX_PICKLE_BYTES = 4 << 30   # refuse absurd files before reading them (NVIDIA's largest pickles are ~400 MB)
MAX_OPCODES = 20_000_000     # far above any snapshot pickle (its tensors are a few large byte strings)
MAX_DIMS = 8                 # dimensions of one tensor
MAX_PLAIN_ITEMS = 10_000     # values of upstream metadata copied into config.json (training_set_kwargs, ...)
MAX_PLAIN_DEPTH = 16
MAX_PLAIN_STRING = 1_000
_NUMERIC_DTYPES = {"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"}
_MODULE_INTERNALS = {  # nn.Module bookkeeping in a persisted state: hooks and flags, not data
    "training", "_parameters", "_buffers", "_modules", "_non_persistent_buffers_set", "_is_full_backward_hook",
    "_backward_pre_hooks", "_backward_hooks", "_forward_hooks", "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_state_dict_hooks",
    "_state_dict_pre_hooks", "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks", "_init_args",
    "_init_kwargs", "_orig_module_src", "_orig_class_name"}


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict (attribute access is not needed to read data)."""

    def __setstate__(self, state):
        if state:
            raise CheckpointError("refused: an EasyDict with object state.")


class PersistedObject:
    """A ``torch_utils.persistence`` object as plain data. ``module_src`` is never executed: only its hash is kept."""

    def __init__(self, meta):
        if not isinstance(meta, dict) or meta.get("type") != "class":
            kind = meta.get("type") if isinstance(meta, dict) else type(meta).__name__
            raise CheckpointError(f"refused: a persisted object of type {kind!r} (only persistent classes are read).")
        state = meta.get("state")
        if not isinstance(state, dict):
            raise CheckpointError(f"refused: persisted {meta.get('class_name')!r} has no plain state dict.")
        self.class_name: str = str(meta.get("class_name"))
        self.version = meta.get("version")
        src = meta.get("module_src")
        self.module_src_sha256 = hashlib.sha256(src.encode("utf-8", "replace")).hexdigest() if isinstance(src, str) else None
        self.init_args: tuple = tuple(state.get("_init_args", ()))
        self.init_kwargs: dict = dict(state.get("_init_kwargs", {}))
        self.parameters: dict = {k: v for k, v in (state.get("_parameters") or {}).items() if v is not None}
        self.buffers: dict = {k: v for k, v in (state.get("_buffers") or {}).items() if v is not None}
        self.modules: dict = dict(state.get("_modules") or {})
        self.attrs: dict = {k: v for k, v in state.items() if k not in _MODULE_INTERNALS}
        for name, value in list(self.parameters.items()) + list(self.buffers.items()):
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"refused: {self.class_name}.{name} is a {type(value).__name__}, not a tensor.")

    def state_dict(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Every parameter and buffer under dotted names, as ``nn.Module.state_dict()`` would name them."""
        out = {prefix + k: v for k, v in {**self.parameters, **self.buffers}.items()}
        for name, child in self.modules.items():
            if isinstance(child, PersistedObject):
                out.update(child.state_dict(f"{prefix}{name}."))
        return out

    def __repr__(self):
        return f"PersistedObject({self.class_name}, args={self.init_args}, kwargs={self.init_kwargs})"


class _NumpyDType:
    """Stand-in for ``numpy.dtype(name, align, copy)`` followed by BUILD(state); numeric dtypes only."""

    def __init__(self, name, align=False, copy=False):
        if not isinstance(name, str) or name not in _NUMERIC_DTYPES:
            raise CheckpointError(f"refused: numpy dtype {name!r} (only numeric dtypes are read).")
        self.name, self.order = name, "|"

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("<", ">", "|", "="):
            raise CheckpointError("refused: a numpy dtype with unexpected state.")
        self.order = state[1]

    def dtype(self) -> np.dtype:
        return np.dtype(self.order.replace("|", "=") + self.name)


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, _NumpyDType) or not isinstance(data, bytes):
        raise CheckpointError("refused: a numpy scalar that is not a numeric value.")
    return np.frombuffer(data, dtype=dtype.dtype(), count=1)[0].item()


class _NumpyArray:
    """Stand-in for ``numpy.core.multiarray._reconstruct(ndarray, shape, dtype)`` + BUILD((version, shape,
    dtype, fortran, raw bytes)): rebuilt from raw bytes with np.frombuffer; object arrays are refused."""

    def __init__(self, cls=None, shape=None, dtype=None):
        self.array = None

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], _NumpyDType)
                and isinstance(state[4], bytes)):
            raise CheckpointError("refused: a numpy array that is not plain numeric data.")
        _, shape, dtype, fortran, raw = state
        arr = np.frombuffer(raw, dtype=dtype.dtype()).reshape(tuple(int(s) for s in shape), order="F" if fortran else "C")
        self.array = arr.copy()


def _numpy_reconstruct(cls, shape, dtype):
    if cls is not _NumpyArray:
        raise CheckpointError("refused: numpy _reconstruct of something other than an ndarray.")
    return _NumpyArray()


def _load_storage(data):
    """``torch.storage._load_from_bytes`` with torch's weights-only unpickler instead of a full ``torch.load``."""
    if not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("refused: a tensor storage that is not a byte string.")
    try:
        storage = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = next((ln for ln in lines if "Unsupported" in ln), lines[-1] if lines else "corrupt")
        raise CheckpointError(f"refused: a tensor storage blob that torch's weights-only loader rejects "
                              f"({detail[:160]}).") from None
    except (RuntimeError, EOFError, ValueError, OSError, TypeError, KeyError, IndexError, OverflowError) as e:
        detail = (str(e).strip().splitlines() or ["corrupt"])[0][:160]
        raise CheckpointError(f"refused: an unreadable tensor storage blob ({type(e).__name__}: {detail}).") from None
    if not isinstance(storage, (torch.storage.TypedStorage, torch.storage.UntypedStorage)):
        raise CheckpointError(f"refused: a storage blob holding a {type(storage).__name__}.")
    return storage


def view_problem(storage_numel: int, offset: int, size, stride) -> str:
    """'' if a tensor view (``offset``, ``size``, ``stride``, in elements) lies inside a storage of
    ``storage_numel`` elements and no two of its elements share memory; else what is wrong. A file that declares
    a view beyond its storage would make torch grow the storage with uninitialised memory; a stride-0 (expanded)
    or overlapping view would turn a few stored bytes into gigabytes on the first copy."""
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride) or len(size) > MAX_DIMS:
        return f"a tensor with {len(size)} sizes and {len(stride)} strides (at most {MAX_DIMS} dimensions)"
    if offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        return f"a tensor with a negative offset, size or stride ({offset}, {size}, {stride})"
    if 0 in size:
        return "" if offset <= storage_numel else f"a tensor offset {offset} past its storage of {storage_numel}"
    extent = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if extent > storage_numel:
        return (f"a tensor of shape {size} reaching element {extent:,} of a storage of {storage_numel:,} elements "
                "(larger than the data the file holds)")
    span = 1
    for n, s in sorted(((n, s) for n, s in zip(size, stride) if n > 1), key=lambda d: d[1]):
        if s < span:
            return f"a tensor of shape {size} with strides {stride}: expanded (stride 0) or overlapping elements"
        span = s * n
    return ""


def check_view(t: torch.Tensor, what: str) -> torch.Tensor:
    """``t`` itself if its view fits its storage without shared elements (see :func:`view_problem`)."""
    problem = view_problem(t.untyped_storage().nbytes() // max(t.element_size(), 1), t.storage_offset(),
                           t.shape, t.stride())
    if problem:
        raise CheckpointError(f"{what} is {problem}; refused.")
    return t


def check_unshared(tensors: dict, what: str) -> None:
    """No two tensors of one network share a storage: a generator's weights are each their own, and a file
    whose reference was bent (a flipped memo index or storage key) would otherwise give two weights one data."""
    seen: dict[int, str] = {}
    for name, t in tensors.items():
        if t.numel() == 0:
            continue
        ptr = t.untyped_storage().data_ptr()
        if ptr in seen:
            raise CheckpointError(f"{what}: tensors {seen[ptr][:60]!r} and {str(name)[:60]!r} share one storage "
                                  "(a generator's weights are separate); refused.")
        seen[ptr] = str(name)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    if not isinstance(storage, (torch.storage.TypedStorage, torch.storage.UntypedStorage)):
        raise CheckpointError(f"refused: a tensor rebuilt from a {type(storage).__name__}.")
    if hooks or metadata:
        raise CheckpointError("refused: a tensor with backward hooks or metadata.")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and type(offset) is int
            and all(type(s) is int for s in (*size, *stride))):
        raise CheckpointError("refused: a tensor with non-integer size or stride.")
    numel = storage._size() if isinstance(storage, torch.storage.TypedStorage) else storage.nbytes()
    problem = view_problem(numel, offset, size, stride)
    if problem:
        raise CheckpointError(f"refused: {problem}.")
    return torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())


def _rebuild_parameter(data, requires_grad=False, hooks=None):
    if not isinstance(data, torch.Tensor) or hooks:
        raise CheckpointError("refused: a parameter that is not a plain tensor.")
    return data.detach()


def _codecs_encode(text, encoding="latin1"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CheckpointError("refused: _codecs.encode other than latin1 text (protocol-2 bytes).")
    return text.encode("latin1")


ALLOWED = {  # (module, name) → stand-in; nothing else is ever looked up
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): PersistedObject,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("numpy", "dtype"): _NumpyDType,
    ("numpy", "ndarray"): _NumpyArray,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
}


class SafeUnpickler(pickle.Unpickler):
    """An Unpickler whose ``find_class`` admits only :data:`ALLOWED`, mapped to data-only stand-ins."""

    def find_class(self, module, name):
        try:
            return ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise CheckpointError(f"refused to load the global {module}.{name}: not on ganlab's allow-list of "
                                  "pickle globals (the file would run code or build objects ganlab does not read).") from None

    def persistent_load(self, pid):
        raise CheckpointError(f"refused: a persistent id {str(pid)[:60]!r} (not used by the formats ganlab reads).")


def plain(x):
    """A JSON-safe copy of upstream data for config.json and the card (sets → sorted lists, anything unusual →
    a short repr). Bounded: shared references are copied at most :data:`MAX_PLAIN_ITEMS` values in all (a
    "billion laughs" of nested references is refused, not expanded), nesting to :data:`MAX_PLAIN_DEPTH`, strings
    cut at :data:`MAX_PLAIN_STRING` characters."""
    budget = [MAX_PLAIN_ITEMS]

    def copy(v, depth):
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_PLAIN_DEPTH:
            raise CheckpointError(f"upstream metadata nested deeper than {MAX_PLAIN_DEPTH} or with more than "
                                  f"{MAX_PLAIN_ITEMS:,} values (not a training script's settings).")
        if isinstance(v, dict):
            return {str(k)[:MAX_PLAIN_STRING]: copy(w, depth + 1) for k, w in v.items()}
        if isinstance(v, (list, tuple)):
            return [copy(w, depth + 1) for w in v]
        if isinstance(v, (set, frozenset)):
            return sorted((copy(w, depth + 1) for w in v), key=repr)
        if isinstance(v, str):
            return v[:MAX_PLAIN_STRING]
        if isinstance(v, float) and not math.isfinite(v):
            return repr(v)                                          # JSON has no NaN / infinity
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 1 << 63:
            return "<int beyond 64 bits>"
        if v is None or isinstance(v, (bool, int, float)):
            return v
        return f"<{type(v).__name__}>"
    return copy(x, 0)


class Clamped:
    """A file whose ``read(n)`` never asks for more than the file has left: pickletools reads the length a
    string opcode declares, and a buffered read allocates that length before reading."""

    def __init__(self, f):
        self.f, self.size = f, f.seek(0, 2)
        f.seek(0)

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.f.tell()
        return self.f.read(left if n is None or n < 0 else min(n, left))

    def readline(self, limit: int = -1) -> bytes:
        return self.f.readline(limit)

    def tell(self) -> int:
        return self.f.tell()

    def seek(self, *args) -> int:
        return self.f.seek(*args)


def check_opcodes(data) -> None:
    """Walk the opcodes of the pickle ``data`` (bytes or an open file; nothing is built) and refuse what would make unpickling allocate more than the
    file holds: a memo index beyond the entries written so far (the C unpickler sizes its memo table by the
    largest index), a reference to a memo entry never written, or more than :data:`MAX_OPCODES` opcodes. A length
    a string or bytes opcode declares must fit in the rest of the file (pickletools reads it from memory)."""
    puts = 0
    try:
        for n, (op, arg, _) in enumerate(pickletools.genops(Clamped(data) if hasattr(data, "read")
                                                             else io.BytesIO(data))):
            if n > MAX_OPCODES:
                raise CheckpointError(f"more than {MAX_OPCODES:,} pickle opcodes (no model file has as many).")
            name = op.name
            if name == "MEMOIZE":
                puts += 1
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                if not isinstance(arg, int) or not 0 <= arg <= puts:
                    raise CheckpointError(f"memo index {arg} where {puts} entries were written (a memo "
                                          "table inflated by its index).")
                puts = max(puts, arg + 1)
            elif name in ("GET", "BINGET", "LONG_BINGET") and (not isinstance(arg, int) or not 0 <= arg < puts):
                raise CheckpointError(f"a reference to memo entry {arg} that was never written.")
    except CheckpointError:
        raise
    except (ValueError, EOFError, pickle.UnpicklingError, UnicodeDecodeError, OverflowError) as e:
        raise CheckpointError(f"not a readable pickle ({str(e)[:120]}).") from None


def load_pickle(path: str | Path):
    """Read an upstream pickle as plain data with :class:`SafeUnpickler`; CheckpointError on anything refused.
    The file's opcodes are checked first (:func:`check_opcodes`), so nothing it declares is allocated unchecked."""
    path = Path(path)
    if path.stat().st_size > MAX_PICKLE_BYTES:
        raise CheckpointError(f"{path}: {path.stat().st_size:,} bytes is larger than any pickle ganlab reads.")
    try:
        with open(path, "rb") as f:
            check_opcodes(f)                                   # streamed: the file is not held in memory
            f.seek(0)
            return SafeUnpickler(f).load()
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            RuntimeError, OverflowError, MemoryError, UnicodeDecodeError, RecursionError) as e:
        raise CheckpointError(f"{path}: not a readable pickle ({type(e).__name__}: {str(e)[:160]}).") from None


def is_pickle(path: str | Path) -> bool:
    """Cheap check: the file starts with a pickle protocol marker (0x80, protocol 2–5)."""
    with open(path, "rb") as f:
        head = f.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def torch_load(path: str | Path):
    """``torch.load(weights_only=True)`` on CPU for state-dict files; refusals become CheckpointError."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()
        detail = next((l for l in first if "GLOBAL" in l or "global" in l), first[0] if first else "")
        raise CheckpointError(f"{path}: refused by torch's weights-only loader: {detail.strip()}") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({type(e).__name__}: {e}).") from None
