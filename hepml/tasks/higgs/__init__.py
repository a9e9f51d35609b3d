"""Higgs signal vs background (HIGGS benchmark style): k-fold DNN and BDT baselines on the
spec's feature sets.  Here: ``train`` (k-fold cross-training by the fold key, one job per fold,
calibration, the bundle), ``evaluate`` (AUC table, calibration, rejection, KS from saved out-of-fold scores),
``plots`` (every figure from saved files) and ``onnx`` (export for C++ frameworks).  Scoring is
:class:`hepml.scoring.Scorer`, shared with the DANN task's bundles and with analysis frameworks.
"""
