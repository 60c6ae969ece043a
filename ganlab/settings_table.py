"""A live engine's settings as ONE typed table of fields, from which its config class, the class's validation,
the presets' format and a tab's controls derive. The toy's table (:mod:`ganlab.toy.config`) and the image GAN's
(:mod:`ganlab.imagelive.config`) are both made of these :class:`Field` rows and checked by :func:`check_value`;
:func:`config_class` and :func:`config_from` turn a table into its frozen config class and read a dict into it.
No torch, no numpy: the toy's engine and its worker processes import it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Field:
    """One setting. ``range`` is (lo, hi), inclusive, for numbers and the allowed values for strings."""
    name: str
    type: type                  # int, float, str or bool
    default: object             # the lecture's value (lecture_config)
    range: tuple | None         # see above; None for bool
    live: bool                  # True: applies while training; False: a change starts a new run
    help: str                   # the control's label
    step: float | None = None   # a slider's step; None: a number box (floats) or a dropdown (strings)
    net: bool = False           # describes a network (part of the exported checkpoint's config)


def check_value(f: Field, value):
    """``value`` converted to the field's type; ValueError naming the field when it is not allowed. Numbers may
    arrive as floats or numeric strings (a web form, an API client); ints must be whole."""
    if value is None or value == "":
        raise ValueError(f"please fill in {f.name}.")
    if f.type is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{f.name} must be true or false, got {str(value)[:40]!r}.")
        return value
    if f.type is str:
        if value not in f.range:
            raise ValueError(f"{f.name} must be one of {', '.join(f.range)}; got {str(value)[:40]!r}.")
        return value
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"{f.name} must be a finite number, got {str(value)[:40]!r}.")
    if f.type is int and number != int(number):
        raise ValueError(f"{f.name} must be a whole number, got {value!r}.")
    lo, hi = f.range
    if not lo <= number <= hi:
        raise ValueError(f"{f.name} must be between {lo:g} and {hi:g}, got {number:g}.")
    return int(number) if f.type is int else number


def config_class(name: str, fields: tuple[Field, ...], module: str, doc: str) -> type:
    """The frozen dataclass ``name`` (of ``module``) with one attribute per field, defaulting to the field's
    default; every value is checked against its field (:func:`check_value`) when an instance is made, so
    ``dataclasses.replace`` checks too."""
    def __post_init__(self) -> None:
        for f in fields:
            object.__setattr__(self, f.name, check_value(f, getattr(self, f.name)))

    return dataclasses.make_dataclass(
        name, [(f.name, f.type, dataclasses.field(default=f.default)) for f in fields],
        namespace={"__post_init__": __post_init__, "__module__": module, "__doc__": doc}, frozen=True)


def config_from(cls: type, values: dict, what: str):
    """An instance of the config class ``cls`` from a dict of field values: missing fields take their defaults,
    unknown ones are an error naming ``what`` ("toy settings")."""
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"unknown {what}: {', '.join(map(str, unknown))[:200]}.")
    return cls(**values)
