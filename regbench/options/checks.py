"""Check configuration values against the type annotations of their dataclass fields.

One rule for every section (``[model]``, ``[train]``, ``[evaluation]``, ``[tuning]``
and the top-level keys), read from the fields themselves, so a new field is checked
without a line of its own. A wrong value is one ``RegbenchError`` line naming the key,
the value and what is expected.
"""
from __future__ import annotations

import dataclasses
import types
import typing

from regbench.errors import RegbenchError

_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
          dict: "a table", type(None): "none"}


def check_fields(cls, values: dict, section: str) -> dict:
    """``values`` checked against ``cls``'s field types; ints become floats where a
    float is expected. Unknown keys are left to the caller."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    return {key: check_value(value, hints[key], _where(section, key)) if key in names
            else value for key, value in values.items()}


def check_value(value, annotation, where: str):
    """``value`` if it fits ``annotation`` (int, float, bool, str, list[X], dict[...],
    unions such as ``int | None``), else a RegbenchError."""
    ok, value = _fits(value, annotation)
    if not ok:
        raise RegbenchError(f"{where} = {value!r} is not valid: expected "
                            f"{describe(annotation)}")
    return value


def describe(annotation) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is list:
        return f"a list of {describe(args[0]).split(' ', 1)[-1]}s" if args else "a list"
    if origin is dict:
        return "a table"
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _fits(value, annotation) -> tuple[bool, object]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            ok, converted = _fits(value, option)
            if ok:
                return True, converted
        return False, value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            return False, value
        items = [_fits(v, args[0]) if args else (True, v) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if origin is dict or annotation is dict:
        return isinstance(value, dict), value
    if annotation is bool:
        return isinstance(value, bool), value
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if annotation is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if annotation is type(None):
        return value is None, value
    if annotation in (str, typing.Any) or annotation is object:
        return annotation is not str or isinstance(value, str), value
    return True, value  # an annotation this checker does not know: left to validate()


def _where(section: str, key: str) -> str:
    return f"[{section}] {key}" if section else key


__all__ = ["check_fields", "check_output_folder", "check_value", "describe"]


def check_output_folder(path, option: str = "--out") -> None:
    """Refuse an output folder that is a file, or that lies below a file (it could never
    be made): one RegbenchError line naming the file. Does not touch the disk."""
    from pathlib import Path
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise RegbenchError(f"{option} {path} is a file, not a folder; choose a results "
                            f"folder with {option}")
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise RegbenchError(f"{option} {path} lies inside {parent}, which is a file; "
                                    f"choose a folder with {option}")
            return
