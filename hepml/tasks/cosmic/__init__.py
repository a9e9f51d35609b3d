"""Cosmic removal in LArTPC images: per-pixel segmentation (background / cosmic / neutrino).

``train`` (UResNet on sparse files, optionally domain-adversarial), ``score`` (per-pixel friend
trees), ``evaluate`` (IoU, rejection, efficiency, retention) and ``plots`` (event displays).
"""
