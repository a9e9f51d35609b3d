"""Higgs signal vs background (HIGGS benchmark style): k-fold DNN and BDT baselines on the
spec's feature sets.  Training is :mod:`hepml.training`, scoring :class:`hepml.scoring.Scorer`;
here: ``evaluate`` (AUC table, calibration, rejection, KS from saved out-of-fold scores),
``plots`` (every figure from saved files) and ``onnx`` (export for C++ frameworks).
"""
