"""hepml: ROOT ntuples -> features -> Keras classifiers -> calibrated scores written back.

Importing :mod:`hepml` is cheap: TensorFlow is imported only by the modules that hold models.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "Scorer", "FeatureSpec", "iterate"]


def __getattr__(name: str) -> Any:  # lazy, so `import hepml` stays fast
    if name == "Scorer":
        from hepml.scoring import Scorer

        return Scorer
    if name == "FeatureSpec":
        from hepml.features import FeatureSpec

        return FeatureSpec
    if name == "iterate":
        from hepml.io import iterate

        return iterate
    raise AttributeError(f"module 'hepml' has no attribute {name!r}")
