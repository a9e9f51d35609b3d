"""Training drivers that do not depend on the model: k-fold cross-training by event number."""

from __future__ import annotations

from hepml.training.kfold import assemble_bundle, train_fold, train_kfold

__all__ = ["train_kfold", "train_fold", "assemble_bundle"]
