"""A mixin for the settings dataclasses (network, detector and generator knobs).

``from_dict`` is strict: an unknown key is refused with the closest known one; a value must have
its default's type (an integer serves a float; nothing is converted, so ``"false"`` is not a
boolean and ``12.7`` is not a number of units); and each class's :attr:`Settings.limits` bound
its values, in JSON-schema words (``minimum``, ``exclusiveMinimum``, ``maximum``,
``exclusiveMaximum``, ``enum``), so the same limits can be written into a schema.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, fields
from typing import Any, ClassVar, TypeVar

from hepml.errors import ConfigError, closest

__all__ = ["Settings", "check_limits", "POSITIVE", "FRACTION", "NON_NEGATIVE", "AT_LEAST_ONE", "SEED"]

S = TypeVar("S", bound="Settings")

POSITIVE: dict[str, Any] = {"exclusiveMinimum": 0}
NON_NEGATIVE: dict[str, Any] = {"minimum": 0}
AT_LEAST_ONE: dict[str, Any] = {"minimum": 1}
FRACTION: dict[str, Any] = {"minimum": 0, "maximum": 1}
SEED: dict[str, Any] = {"minimum": 0, "maximum": 2**32 - 1}  # what numpy, TensorFlow and JAX all take


def check_limits(value: Any, limits: dict[str, Any], key: str) -> None:
    """Raise a one-line :class:`ConfigError` when ``value`` breaks ``limits`` (JSON-schema words)."""
    tests = {
        "minimum": (lambda v, b: v >= b, ">="), "exclusiveMinimum": (lambda v, b: v > b, ">"),
        "maximum": (lambda v, b: v <= b, "<="), "exclusiveMaximum": (lambda v, b: v < b, "<"),
    }
    if "enum" in limits and value not in limits["enum"]:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, limits['enum']))}")
    for word, bound in limits.items():
        if word in tests and not tests[word][0](value, bound):
            raise ConfigError(f"{key}: {value!r} is out of range; it must be {tests[word][1]} {bound}")


_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (tuple, "array"))
_KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text", tuple: "a list"}


def _type_ok(value: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, tuple):
        return isinstance(value, (list, tuple))
    return True


class Settings:
    what: ClassVar[str] = "settings"
    limits: ClassVar[dict[str, dict[str, Any]]] = {}  # per field, JSON-schema words (see the module docstring)

    @classmethod
    def from_dict(cls: type[S], values: dict[str, Any] | None) -> S:
        if values is not None and not isinstance(values, dict):
            raise ConfigError(f"{cls.what}: {values!r} is not a mapping of settings")
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        bad = sorted(set(values or {}) - set(known))
        if bad:
            raise ConfigError(f"{cls.what}: unknown setting {bad[0]!r} (closest: {closest(bad[0], known)}); "
                              f"known: {', '.join(sorted(known))}")
        converted = {}
        for key, value in (values or {}).items():
            default = known[key].default
            if default is not MISSING and default is not None and not _type_ok(value, default):
                raise ConfigError(f"{cls.what}.{key}: {value!r} is not {_KINDS.get(type(default), 'valid')} "
                                  f"(e.g. {json.dumps(default)}); write it without quotes or conversion")
            check_limits(value, cls.limits.get(key, {}), f"{cls.what}.{key}")
            converted[key] = tuple(value) if isinstance(default, tuple) else value
        return cls(**converted)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON schema of these settings, from the same definitions :meth:`from_dict` checks
        against (types of the defaults, :attr:`limits`): what the workflow config schema refers to."""
        properties = {}
        for f in fields(cls):  # type: ignore[arg-type]
            default = f.default
            kind = next((name for typ, name in _JSON_TYPES if isinstance(default, typ)), None)
            entry: dict[str, Any] = {"type": kind} if kind else {}
            if isinstance(default, tuple):
                entry["items"] = {"type": "number"}
            entry.update(cls.limits.get(f.name, {}))
            if default is not MISSING:
                entry["description"] = f"default {json.dumps(default)}"
            properties[f.name] = entry
        return {"type": "object", "additionalProperties": False, "properties": properties,
                "description": (cls.__doc__ or cls.what).strip().splitlines()[0]}

    def __post_init__(self) -> None:
        """Ranges hold however the settings are made (types are checked where they come from text:
        :meth:`from_dict`)."""
        for key, limits in self.limits.items():
            check_limits(getattr(self, key), limits, f"{self.what}.{key}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]
