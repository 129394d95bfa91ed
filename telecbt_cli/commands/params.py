"""Plain option values without pydantic.

Typer 0.29 converts every parameter of the command being run through a pydantic
`TypeAdapter`, so even `telecbt patient list` imports pydantic (and, through its plugin
loader, importlib.metadata and the email package): about 12 MB of memory and 60-100 ms
of start-up on the test VM, in every command, for values that are a string, a path or a
whole number.

`install()` puts a lighter converter in front of Typer's for the kinds of parameter this
CLI declares: str, bool, int and float without bounds, paths, and lists of those. It
converts only values whose result is certain (a str, a path from a str, digits for an
int); anything else (a bad number, bytes, a bounded int, a file, a date) goes to Typer's
own converter, so the result and the error message are Typer's, word for word
(tests/commands/test_plain_params.py compares both on the same inputs). If Typer's
internals are not the ones this was written for, `install()` leaves Typer as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

_INT = re.compile(r"\s*[+-]?[0-9]+\s*")
_FLOAT = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)\s*")
_DEFER = object()


def _leaf(annotation: Any, info: Any) -> Any:
    """How a single value of this annotation converts here, or None (Typer's converter then)."""
    if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
        return None
    if annotation is str or annotation is bool:
        return annotation
    if annotation in (int, float):
        bounded = info.min is not None or info.max is not None or getattr(info, "clamp", False)
        return None if bounded else annotation
    if isinstance(annotation, type) and issubclass(annotation, Path) and info.path_type is None:
        return Path
    return None


def plain_kind(annotation: Any, info: Any) -> Any:
    """The annotation's kind if every value of it converts here: a leaf, or ("list", leaf)."""
    if get_origin(annotation) is list:
        args = get_args(annotation)
        leaf = _leaf(args[0], info) if len(args) == 1 else None
        return ("list", leaf) if leaf is not None else None
    return _leaf(annotation, info)


def _convert(kind: Any, annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    from typer._param_types import coerce_cli_path

    if kind is str:
        return value if isinstance(value, str) else _DEFER
    if kind is bool:
        return value if isinstance(value, bool) else _DEFER
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return int(value) if isinstance(value, str) and _INT.fullmatch(value) else _DEFER
    if kind is float:
        if isinstance(value, float):
            return value
        return float(value) if isinstance(value, str) and _FLOAT.fullmatch(value) else _DEFER
    if kind is Path:  # what Typer does once pydantic has made the str a Path
        if isinstance(value, str):
            value = annotation(value)
        elif not isinstance(value, annotation):
            return _DEFER
        return coerce_cli_path(value, info, path_type=annotation, param=param, ctx=ctx)
    return _DEFER


def install() -> bool:
    """Convert plain values here, the rest through Typer; False (Typer untouched) if its internals differ."""
    try:
        from typer import _coercion
        from typer import core as typer_core
        from typer._param_types import coerce_cli_path  # noqa: F401  (used by _convert)
    except ImportError:
        return False
    original = getattr(typer_core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if original is None or base is None or getattr(original, "_telecbt_plain", False):
        return original is not None and base is not None

    @dataclass(frozen=True)
    class PlainRuntimeParam(base):
        """A plain parameter: converted here when certain, else by Typer's own converter (built when needed)."""

        kind: Any = None
        descriptor: Any = None
        typer_param: list = field(default_factory=list)

        def _typer(self) -> Any:
            if not self.typer_param:
                self.typer_param.append(original(self.descriptor))
            return self.typer_param[0]

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(self.kind, tuple):  # a list: every item converts here, or Typer takes the whole value
                items = value if isinstance(value, (list, tuple)) else [value]
                leaf_annotation = get_args(self.annotation)[0]
                out = [_convert(self.kind[1], leaf_annotation, self.parameter_info, item, param, ctx)
                       for item in items]
                if all(item is not _DEFER for item in out):
                    return out
            else:
                out = _convert(self.kind, self.annotation, self.parameter_info, value, param, ctx)
                if out is not _DEFER:
                    return out
            return self._typer()._coerce_value(value, param=param, ctx=ctx)

    def build(descriptor: Any) -> Any:
        kind = None if descriptor.file_annotation is not None else \
            plain_kind(descriptor.annotation, descriptor.parameter_info)
        if kind is None:
            return original(descriptor)
        return PlainRuntimeParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                                 kind=kind, descriptor=descriptor)

    build._telecbt_plain = True
    typer_core.build_runtime_param = build
    return True
