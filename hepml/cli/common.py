"""What several verbs share: argument types, the output guard, feature-group lookup."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["AddVerb", "json_arg", "seed_arg", "whole_number", "shape_arg", "prior_arg", "check_outputs",
           "group_columns", "fraction", "key_value_parts", "mean_spread", "CALIBRATIONS", "PRIOR_HELP"]

AddVerb = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]
CALIBRATIONS = ["isotonic", "platt", "temperature", "none"]
PRIOR_HELP = ("class prior of the calibrated score: balanced (each class the same total weight, as in training; "
              "default), weighted (the physics weights as given: the absolute posterior) or a signal fraction")


def json_arg(text: str) -> dict[str, Any]:
    """A JSON object given on the command line (model settings, detector changes)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON ({err.msg}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in ``[minimum, maximum]``, refused in words otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            wanted = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
            raise argparse.ArgumentTypeError(f"{value} is out of range; give a whole number {wanted}")
        return value

    return parse


seed_arg = whole_number(0, 2**32 - 1)  # what numpy, TensorFlow and JAX all take (hepml.settings.SEED)


def shape_arg(text: str) -> tuple[int, int, int]:
    """``PLANES,WIRES,TICKS`` of LArTPC images."""
    try:
        planes, wires, ticks = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PLANES,WIRES,TICKS such as 3,128,128, got {text!r}") from None
    return planes, wires, ticks


def prior_arg(text: str) -> str | float:
    from hepml.calibration import parse_prior

    try:
        return parse_prior(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def check_outputs(inputs: Sequence[str], outputs: Sequence[str]) -> None:
    """Refuse, before reading anything, an output that is an input or shared by two inputs."""
    from hepml.errors import ConfigError
    from hepml.io.outputs import check_outputs as check

    if len(outputs) != len(set(outputs)) or not outputs:
        raise ConfigError(f"--out: give one distinct output path per input ({len(outputs)} given)")
    check(inputs, outputs)


def group_columns(spec: Any, group: str | None) -> list[str]:
    """The columns of feature group ``group`` of ``spec`` (all columns without a group)."""
    from hepml.errors import ConfigError

    if group is None:
        return list(spec.columns)
    if group not in spec.groups:
        raise ConfigError(f"{spec.origin}: no feature group {group!r}; groups: {', '.join(spec.groups) or 'none'}")
    return list(spec.groups[group])


def fraction(value: float | None) -> str:
    return "n/a (the oracle does not beat the source-only model significantly)" if value is None else f"{value:.2f}"


def key_value_parts(parts: Sequence[str], form: str) -> dict[str, str]:
    """``KEY=PATH`` arguments (``form`` says which) as a mapping; a part without both, or a key
    given twice, is an error: a second run under one key would silently replace the first."""
    from hepml.errors import ConfigError

    mapping: dict[str, str] = {}
    for part in parts:
        key, _, path = part.partition("=")
        if not key or not path:
            raise ConfigError(f"part {part!r} is not {form}")
        if key in mapping:
            raise ConfigError(f"{key!r} is given twice ({mapping[key]} and {path}); give each once")
        mapping[key] = path
    return mapping


def mean_spread(stat: dict[str, Any], digits: int = 3, sign: str = "") -> str:
    """A number of :func:`hepml.metrics.over_seeds` as text: mean ± spread (no spread for one seed)."""
    text = f"{stat['mean']:{sign}.{digits}f}"
    return text if stat["std"] is None else f"{text} ± {stat['std']:.{digits}f}"
