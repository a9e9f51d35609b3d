"""A mixin for the settings dataclasses (network, detector and generator knobs).

``from_dict`` refuses unknown keys with a message listing the known ones and converts each value
to the type of its default, so settings coming from YAML or JSON strings behave the same.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, fields
from typing import Any, ClassVar, TypeVar

__all__ = ["Settings"]

S = TypeVar("S", bound="Settings")


class Settings:
    what: ClassVar[str] = "settings"

    @classmethod
    def from_dict(cls: type[S], values: dict[str, Any] | None) -> S:
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        bad = sorted(set(values or {}) - set(known))
        if bad:
            raise ValueError(f"{cls.what}: unknown setting {bad[0]!r}; known: {', '.join(sorted(known))}")
        converted = {}
        for key, value in (values or {}).items():
            default = known[key].default
            kind = type(default) if default is not MISSING and default is not None else None
            converted[key] = kind(value) if kind in (int, float, bool, str) else value
        return cls(**converted)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]
