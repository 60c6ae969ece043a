"""Old words still read at ganlab's boundaries, with a deprecation note (no torch: the toy engine uses it too).

Inside the package each idea has one name; where a name changed after it was exposed (a CLI flag, a settings key
in a PNG or GIF, a toy setting in a config or a saved run), the boundary converts the old spelling and says so
once: the CLI prints ``deprecated: NOTE`` to stderr, Python callers get a ``FutureWarning`` (shown by default).
"""
from __future__ import annotations

import warnings


def renamed(values: dict, renames: dict[str, str], where: str) -> tuple[dict, list[str]]:
    """``values`` with the old keys of ``renames`` (old → new) under their new names, and one note per
    conversion. A key given under both names is an error: which one was meant cannot be told."""
    out, notes = dict(values), []
    for old, new in renames.items():
        if old not in out:
            continue
        if new in out:
            raise ValueError(f"{where}: {old!r} is the old name of {new!r}; give only {new!r}.")
        out[new] = out.pop(old)
        notes.append(f"{where}: {old!r} is now called {new!r}")
    return out, notes


def warn(notes: list[str], stacklevel: int = 3) -> None:
    """One FutureWarning per note, attributed to the frame ``stacklevel`` − 1 calls above the caller (default:
    the caller's caller, the line that passed the old word)."""
    for note in notes:
        warnings.warn(f"deprecated: {note}", FutureWarning, stacklevel=stacklevel)
