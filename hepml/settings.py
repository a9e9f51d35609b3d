"""A mixin for the settings dataclasses (network, detector and generator knobs).

``from_dict`` is strict: an unknown key is refused with the closest known one; a value must have
its default's type (an integer serves a float; nothing is converted, so ``"false"`` is not a
boolean and ``12.7`` is not a number of units); and each class's :attr:`Settings.limits` bound
its values, in JSON-schema words (``minimum``, ``exclusiveMinimum``, ``maximum``,
``exclusiveMaximum``, ``enum``), so the same limits can be written into a schema.  A field
without a default is required; a field whose default is ``None`` takes its type from its
annotation (``int | None``), so optional values are checked as strictly.
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


_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (tuple, "array"),
               (dict, "object"))
_KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text", tuple: "a list",
          dict: "a mapping"}


_SAMPLES = {"int": 0, "float": 0.0, "str": "", "bool": False, "dict": {}, "tuple": ()}  # by annotation


def _sample(f: Any) -> Any:
    """A value of the field's type: its default, or one made from its annotation (``int | None``,
    ``tuple[str, ...]``) when there is none; None for an annotation such as ``Any`` (not checked)."""
    if f.default is not MISSING and f.default is not None:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return _SAMPLES.get(str(f.type).removesuffix(" | None").split("[")[0])


def _required(f: Any) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


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
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True


class Settings:
    what: ClassVar[str] = "settings"
    limits: ClassVar[dict[str, dict[str, Any]]] = {}  # per field, JSON-schema words (see the module docstring)

    @classmethod
    def from_dict(cls: type[S], values: dict[str, Any] | None, *, what: str | None = None) -> S:
        """Check ``values`` strictly and make the settings; ``what`` names them in messages (default
        :attr:`what`), e.g. the file and key they come from."""
        what = what or cls.what
        if values is not None and not isinstance(values, dict):
            raise ConfigError(f"{what}: {values!r} is not a mapping of settings")
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        values = values or {}
        bad = sorted(set(values) - set(known), key=str)
        if bad:
            raise ConfigError(f"{what}: unknown key {bad[0]!r} (closest: {closest(str(bad[0]), known)}); "
                              f"known: {', '.join(sorted(known))}")
        missing = [name for name, f in known.items() if _required(f) and name not in values]
        if missing:
            raise ConfigError(f"{what}: needs the key {missing[0]!r}")
        converted = {}
        for key, value in values.items():
            sample = _sample(known[key])
            if value is None and (known[key].default is None or known[key].default_factory is not MISSING):
                continue  # an empty YAML value: the default
            if sample is not None and not _type_ok(value, sample):
                given = known[key].default not in (MISSING, None)
                example = sample if given else cls.limits.get(key, {}).get("minimum", sample)
                raise ConfigError(f"{what}.{key}: {value!r} is not {_KINDS.get(type(sample), 'valid')} "
                                  f"(e.g. {json.dumps(example)}); write it without quotes or conversion")
            check_limits(value, cls.limits.get(key, {}), f"{what}.{key}")
            converted[key] = tuple(value) if isinstance(sample, tuple) else value
        return cls(**converted)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON schema of these settings, from the same definitions :meth:`from_dict` checks
        against (types of the defaults, :attr:`limits`): what the workflow config schema refers to."""
        properties = {}
        for f in fields(cls):  # type: ignore[arg-type]
            sample = _sample(f)
            kind = next((name for typ, name in _JSON_TYPES if isinstance(sample, typ)), None)
            entry: dict[str, Any] = {} if kind is None else {"type": [kind, "null"] if f.default is None else kind}
            if isinstance(sample, tuple):
                entry["items"] = {"type": "string" if str(f.type) == "tuple[str, ...]" else "number"}
            entry.update(cls.limits.get(f.name, {}))
            if f.default is not MISSING:
                entry["description"] = f"default {json.dumps(f.default)}"
            elif f.default_factory is not MISSING:
                entry["description"] = f"default {json.dumps(f.default_factory())}"
            properties[f.name] = entry
        required = [f.name for f in fields(cls) if _required(f)]  # type: ignore[arg-type]
        schema = {"type": "object", "additionalProperties": False, "properties": properties,
                  "description": (cls.__doc__ or cls.what).strip().splitlines()[0]}
        return {**schema, "required": required} if required else schema

    def __post_init__(self) -> None:
        """Ranges hold however the settings are made (types are checked where they come from text:
        :meth:`from_dict`)."""
        for key, limits in self.limits.items():
            if getattr(self, key) is not None:  # an optional value left out
                check_limits(getattr(self, key), limits, f"{self.what}.{key}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]
