"""The keys a feature spec takes, as settings classes: the one mechanism that checks every settings
block (strict types, ranges, unknown keys named with the closest) checks a spec too, and the docs'
schema of a spec is written from the same definitions (:meth:`hepml.settings.Settings.json_schema`).

What the keys hold beyond their types (expressions, feature and group names, the fold key) is
checked by :class:`hepml.features.FeatureSpec`, which knows what they mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from hepml.expr import MAX_OBJECTS
from hepml.settings import Settings

__all__ = ["SpecOptions", "FeatureOptions"]


@dataclass
class SpecOptions(Settings):
    """The top level of a feature spec: the tree, the cut, the features and what goes with them."""

    what: ClassVar[str] = "feature spec"
    limits: ClassVar[dict[str, dict[str, Any]]] = {"nan_policy": {"enum": ["raise", "replace"]}}

    features: dict[str, Any]  # name: expression, or name: {expr: ..., first: ..., ...} (FeatureOptions)
    tree: str | None = None  # the tree to read (the file's only tree when left out)
    fill: float = 0.0  # value for missing objects (Jet_pt[:, 3] of an event with three jets)
    nan_policy: str = "raise"  # raise names the feature and entry; replace writes nan_value
    nan_value: float = 0.0
    cut: str | None = None  # an expression: the events to keep
    define: dict[str, Any] = field(default_factory=dict)  # name: expression, usable in later expressions
    groups: dict[str, Any] = field(default_factory=dict)  # name: [feature columns] to train on
    weight: Any = None  # an expression (a number is one): the per-event weight, 1 when left out
    label: Any = None  # an expression giving 0/1 per event, instead of the command's --label
    event_id: tuple[str, ...] = ()  # branches copied next to the scores
    fold_key: Any = None  # event (default), entry, or an expression such as hash(run, event)
    symmetries: dict[str, Any] = field(default_factory=dict)  # columns the events' symmetries act on (Symmetries)
    version: Any = None  # free, for the spec's author
    description: Any = None  # free, for the spec's author


@dataclass
class FeatureOptions(Settings):
    """One feature written as a mapping, for its options (``jet_pt: {expr: Jet_pt, first: 4}``)."""

    what: ClassVar[str] = "feature"
    limits: ClassVar[dict[str, dict[str, Any]]] = {"first": {"minimum": 1, "maximum": MAX_OBJECTS}}

    expr: str  # the expression
    first: int | None = None  # the first n objects of a jagged value, as n columns name_0 .. name_{n-1}
    fill: float | None = None  # value for missing objects (default: the spec's fill)
    mask: bool = False  # also write name_mask_i: 1 where object i exists
    label: str | None = None  # axis label of the figures (LaTeX allowed)
    unit: str | None = None  # unit of the axis (GeV)

