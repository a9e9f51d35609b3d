"""Arrays -> arrays: feature specs over a safe expression language, jagged -> fixed, kinematics."""

from __future__ import annotations

from hepml.expr import FUNCTIONS, Expression
from hepml.features.spec import Feature, FeatureSpec, FeatureTable

__all__ = ["FUNCTIONS", "Expression", "Feature", "FeatureSpec", "FeatureTable"]
