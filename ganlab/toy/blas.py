"""numpy's BLAS held to one thread for the toy nets' small matrix products (thread-local, OpenBLAS only)."""
from __future__ import annotations

import ctypes
import functools


class OneBlasThread:
    """Context manager: the calling thread's numpy BLAS (OpenBLAS) uses one thread inside the block.

    The toy nets' matrices are tiny; OpenBLAS splits the larger ones (e.g. 128 × 64 × 64) over threads, and
    on a busy 2-core machine waking them costs more than the multiply. OpenBLAS ≥ 0.3.27 has a thread-local
    setting, so other threads (other sessions, other models) are unaffected. Without it this is a no-op.
    """

    _set_local = None
    _looked_up = False

    def __enter__(self):
        if not OneBlasThread._looked_up:
            OneBlasThread._looked_up = True
            OneBlasThread._set_local = _find_openblas_set_num_threads_local()
        self._previous = self._set_local(1) if self._set_local else None
        return self

    def __exit__(self, *exc):
        if self._previous is not None and self._previous > 0:
            self._set_local(self._previous)


def one_blas_thread(method):
    """Decorator: run the function inside OneBlasThread()."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with OneBlasThread():
            return method(*args, **kwargs)
    return wrapper


def _find_openblas_set_num_threads_local():
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line and ".so" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            fn = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        return fn
    return None
