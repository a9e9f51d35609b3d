"""Models: Keras networks (TensorFlow imported only inside :mod:`hepml.models.dense`) and BDT baselines."""
