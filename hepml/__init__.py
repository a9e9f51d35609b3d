"""hepml: ROOT ntuples -> features -> Keras classifiers -> calibrated scores written back.

Importing :mod:`hepml` is cheap: TensorFlow is imported only by the modules that hold models.

The package, in the order data flows through it (a module imports only from modules above it;
``tests/test_architecture.py`` checks this and that there is no import cycle):

* :mod:`hepml.errors`, :mod:`hepml.settings`, :mod:`hepml.split`, :mod:`hepml.expr`: one-line
  errors, settings dataclasses, every rule that splits events (k-fold, validation, study test
  sets), the safe expression language used by cuts and features.
* :mod:`hepml.io`: files <-> arrays.  ``read`` (chunked uproot reading of TTrees and RNTuples),
  ``write`` (friend trees), ``inplace`` (verified in-place branches), ``atomic`` (temporary name,
  check, rename), ``outputs`` (an output never overwrites an input), ``images`` (sparse pixels <->
  dense images), ``inspect`` (what a file holds and whether its baskets can be read).
* :mod:`hepml.features`: ``spec`` (YAML specs -> float32 matrices, weights, labels, event ids),
  ``foldkey`` (the per-event key of the k-fold split), ``table`` (events in memory), ``files``
  (feature files); and :mod:`hepml.simulate` (the embedded demo data: HIGGS-style events in
  NanoAOD-like or flat layout, LArTPC readout windows).
* :mod:`hepml.models`: Keras networks and baselines (``dense``, ``bdt``, ``uresnet``, ``dann``),
  the ``registry`` of trainable models by name, ``backend`` (TensorFlow start-up settings);
  :mod:`hepml.calibration` (calibrators and the class prior); :mod:`hepml.metrics`.
* :mod:`hepml.bundle`: a trained model on disk (one writer, a versioned schema, validated loads).
* :mod:`hepml.plotting`: figure style and saving shared by the tasks.
* :mod:`hepml.scoring`: the :class:`Scorer` for frameworks (uproot loops, dask, coffea, ONNX).
* :mod:`hepml.tasks`: one package per task, each with its own training entry points, scoring,
  evaluation and figures: ``higgs``, ``cosmic``, ``dann``.
* :mod:`hepml.cli`: ``hepml <verb>``, one module of verbs per task, each verb one library call.

How to add a model (say a graph network for the Higgs task):

1. write ``hepml/models/<name>.py`` with ``fit_fold(x, y, w, x_val, y_val, w_val, *, config,
   seed, folder, fold, symmetries=None)`` returning an object with ``predict(x)``, ``files`` and ``history``
   (:class:`hepml.models.registry.FittedFold`), saving its network as ``fold<k>.keras``;
2. add one :class:`~hepml.models.registry.ModelEntry` to ``hepml/models/registry.py``;
3. add its name to ``higgs.models`` in ``workflows/schemas/config.schema.yaml`` (a test checks
   that schema and registry agree).  ``hepml train --model <name>``, the workflow and the plots
   pick it up from the registry.

How to add a task (say jet tagging):

1. make ``hepml/tasks/<task>/`` with the task's library functions: training (through the
   model registry, as :mod:`hepml.tasks.higgs.train` does, or its own loop), scoring (friend
   trees through :mod:`hepml.io.write`), evaluation (metrics from :mod:`hepml.metrics`, written
   atomically) and ``plots`` (through :func:`hepml.plotting.figure` and
   :func:`hepml.plotting.save`); bundles through :func:`hepml.bundle.write_bundle` (add a
   ``kind`` to the bundle schema if it is new);
2. add ``hepml/cli/<task>.py`` with one ``cmd_<verb>`` per library function and a ``register``
   function, and list the module in ``hepml/cli/__init__.py``;
3. add ``workflows/rules/<task>.smk`` calling those verbs (every value quoted with ``:q``), its
   config section to ``workflows/schemas/config.schema.yaml`` and its targets to ``Snakefile``;
4. add its layer-respecting tests, and an end-to-end run in ``tests/test_workflow.py``.
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
