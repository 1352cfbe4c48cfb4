"""The typed-config machinery: field docs, value checks, dict -> dataclass with every key and
type checked (a `ConfigError` naming the dotted key), dataclass -> dict."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import field
from typing import Any, Literal, get_args, get_origin

from ..errors import ConfigError


def key(default: Any, doc: str) -> Any:
    """A config field with its one-line doc, which `--help` and docs/config.md show (config_doc)."""
    return field(default=default, metadata={"doc": doc})


def key_factory(factory: Any, doc: str) -> Any:
    """`key` for a mutable default (a list, a nested section)."""
    return field(default_factory=factory, metadata={"doc": doc})


def check(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}': expected {expected}, got {value!r}")


def from_dict(cls: type, data: Any, prefix: str = "") -> Any:
    """Build dataclass `cls` from a nested dict, checking every key and value type."""
    if not isinstance(data, dict):
        raise ConfigError(f"config key '{prefix or '<top>'}': expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(
            f"unknown config key '{where}{unknown[0]}' (known in {prefix or 'the top level'}: {', '.join(fields)})"
        )
    kwargs = {name: _coerce(hints[name], value, f"{prefix}.{name}" if prefix else name) for name, value in data.items()}
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _coerce(inner[0], value, key)
        for option in inner:  # e.g. an integer or the word "max"
            try:
                return _coerce(option, value, key)
            except ConfigError:
                pass
        check(False, key, value, " or ".join(", ".join(map(repr, get_args(a))) if get_origin(a) is Literal
                                             else {int: "an integer", float: "a number"}.get(a, a.__name__)
                                             for a in inner))
    if origin is Literal:
        check(value in args, key, value, f"one of {', '.join(map(str, args))}")
        return value
    if origin is list:
        check(isinstance(value, (list, tuple)), key, value, "a list")
        return [_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        check(isinstance(value, bool), key, value, "true or false")
        return value
    if tp is int:
        check(isinstance(value, int) and not isinstance(value, bool), key, value, "an integer")
        return value
    if tp is float:
        check(isinstance(value, (int, float)) and not isinstance(value, bool), key, value, "a number")
        return float(value)
    if tp is str:
        check(isinstance(value, str), key, value, "a string")
        return value
    raise TypeError(f"config field '{key}' has an unsupported type {tp!r}")  # a bug in this file


def to_dict(cfg: Any) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (for manifests and checkpoints)."""
    return dataclasses.asdict(cfg)
