"""Verbs of the Higgs task: k-fold training, calibration, scoring, evaluation, plots, ONNX export."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable
from typing import Any

from hepml.cli.common import (
    CALIBRATIONS,
    PRIOR_HELP,
    AddVerb,
    check_outputs,
    group_columns,
    json_arg,
    prior_arg,
    seed_arg,
    whole_number,
)
from hepml.models.registry import MODELS

__all__ = ["register"]

log = logging.getLogger(__name__)


def _training_table(args: argparse.Namespace) -> tuple[Any, Any, dict[str, str]]:
    """The spec, the feature table and each feature file's weight expression (logged here, once)."""
    from hepml.features import FeatureSpec
    from hepml.features.files import feature_weights, read_features

    check_outputs([*args.features, args.spec, *getattr(args, "folds", [])], [args.out])
    spec = FeatureSpec.from_yaml(args.spec)
    weights = feature_weights(args.features)
    for file, weight in weights.items():
        log.info("weights of %s: %s", file, weight)
    return spec, read_features(args.features, group_columns(spec, args.group), spec.id_columns,
                               fold_key=spec.fold_key.text), weights


def _sizes(table: Any, args: argparse.Namespace, folds: Iterable[int]) -> str:
    """The roles' sizes, not the table's: a log that says what each network trained on."""
    from hepml.tasks.higgs.train import describe_sizes, fold_sizes

    return describe_sizes([fold_sizes(table, k=args.k, seed=args.seed, model=args.model, fold=f) for f in folds])


def cmd_train(args: argparse.Namespace) -> int:
    from hepml.features.files import feature_sources
    from hepml.tasks.higgs.train import train_kfold

    spec, table, weights = _training_table(args)
    info = train_kfold(table, args.out, model=args.model, k=args.k, seed=args.seed,
                       model_config=args.model_config, calibration=args.calibration, prior=args.prior,
                       spec_config=spec.config,
                       inputs=list(args.features), importance=args.importance,
                       training_data=feature_sources(args.features), weights=weights,
                       symmetries=spec.symmetries)
    print(f"trained {info['model']}, {args.k} folds, {len(table.names)} features, on {len(table)} selected events "
          f"({_sizes(table, args, range(args.k))}) -> {args.out}")
    return 0


def cmd_train_fold(args: argparse.Namespace) -> int:
    from hepml.tasks.higgs.train import train_fold

    spec, table, _ = _training_table(args)
    train_fold(table, args.out, fold=args.fold, model=args.model, k=args.k, seed=args.seed,
               model_config=args.model_config, importance=args.importance, symmetries=spec.symmetries)
    print(f"trained {args.model} fold {args.fold}/{args.k}, {_sizes(table, args, [args.fold])} of "
          f"{len(table)} selected events -> {args.out}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from hepml.features.files import feature_sources
    from hepml.tasks.higgs.train import assemble_bundle

    spec, table, weights = _training_table(args)
    info = assemble_bundle(table, args.folds, args.out, model=args.model, seed=args.seed,
                           model_config=args.model_config, calibration=args.calibration, prior=args.prior,
                           spec_config=spec.config,
                           inputs=list(args.features), training_data=feature_sources(args.features),
                           weights=weights)
    print(f"assembled {info['k']} folds, {args.calibration} calibration ({args.prior} prior) -> {args.out}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from hepml.scoring import score_files

    score_files(args.bundle, args.inputs, args.out or [], tree=args.tree, prefix=args.prefix,
                step_size=args.step_size, in_place=args.in_place, backend=args.backend,
                independent=args.independent, fail_score=args.fail_score, leaks=args.leaks)
    print(f"scored {len(args.inputs)} file(s) with {args.bundle}")
    return 0


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from hepml.tasks.higgs.onnx import export_onnx

    files = export_onnx(args.bundle, opset=args.opset)
    print(f"exported {len(files)} fold network(s) to {args.bundle}/onnx (ONNX and Keras agree to 1e-5)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from hepml.tasks.higgs.evaluate import compared_events, evaluate

    check_outputs(args.bundles, [args.out])
    metrics = evaluate(args.bundles, args.out, reference=args.reference)
    table = "  ".join(f"{m}.{fs}={v:.4f}" for m, d in metrics["auc"].items() for fs, v in d.items())
    print(f"AUC: {table}; ECE {metrics['ece']['uncalibrated']:.4f} -> {metrics['ece']['calibrated']:.4f}")
    for name, check in metrics["overtraining"].items():
        if check["overtrained"]:
            ks = ", ".join(f"{c} {v['pvalue']:.1e}" for c, v in check["ks"].items())
            log.warning(f"{name} looks overtrained: its scores on training events differ from held-out ones (KS "
                        f"p-values {ks}, {compared_events(check['ks'])} on each side); "
                        f"{check['remedy']}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from hepml.tasks.higgs.plots import make_plots

    paths = make_plots(args.bundles, args.features or [], args.out, reference=args.reference)
    print(f"wrote {len(paths)} figure files to {args.out}")
    return 0


def _training_options(p: argparse.ArgumentParser, *, folds: bool = True) -> None:
    p.add_argument("features", nargs="+", help="feature files written by 'hepml features'")
    p.add_argument("--spec", required=True, help="the feature spec the files were built with")
    p.add_argument("--group", default=None, help="feature group of the spec to train on (default: all columns)")
    p.add_argument("--model", choices=list(MODELS), default="dnn",
                   help="; ".join(f"{m.name}: {m.description}" for m in MODELS.values()))
    if folds:
        p.add_argument("--k", type=whole_number(2), default=3, help="number of folds")
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--model-config", type=json_arg, default={}, help="model settings as JSON")


def register(verb: AddVerb) -> None:
    p = verb("train", cmd_train, "k-fold training by event number, calibration, bundle (all folds in one job)")
    _training_options(p)
    p.add_argument("--calibration", choices=CALIBRATIONS, default="isotonic")
    p.add_argument("--prior", type=prior_arg, default="balanced", help=PRIOR_HELP)
    p.add_argument("--importance", action="store_true", help="compute permutation importance (fold 0)")
    p.add_argument("--out", required=True, help="bundle folder to write")

    p = verb("train-fold", cmd_train_fold, "train the model of one fold (one batch job of the k-fold scatter)")
    _training_options(p)
    p.add_argument("--fold", type=whole_number(0), required=True, help="the fold this model scores (0 .. k-1)")
    p.add_argument("--importance", action="store_true", help="compute permutation importance (fold 0)")
    p.add_argument("--out", required=True, help="folder for this fold's model and scores")

    p = verb("calibrate", cmd_calibrate, "gather the fold jobs into a bundle and fit the calibration")
    _training_options(p, folds=False)
    p.add_argument("--folds", nargs="+", required=True, help="the train-fold folders, fold 0 first")
    p.add_argument("--calibration", choices=CALIBRATIONS, default="isotonic")
    p.add_argument("--prior", type=prior_arg, default="balanced", help=PRIOR_HELP)
    p.add_argument("--out", required=True, help="bundle folder to write")

    p = verb("score", cmd_score, "write calibrated scores of ntuples as friend trees (or in place)")
    p.add_argument("bundle")
    p.add_argument("inputs", nargs="+", help="ROOT files to score ('file.root:tree')")
    p.add_argument("--out", nargs="+", help="one output file per input")
    p.add_argument("--tree", default="scores", help="name of the friend tree")
    p.add_argument("--prefix", default="", help="prefix of the score branches")
    p.add_argument("--step-size", default="100 MB", help="chunk size: entries (1000) or memory ('100 MB')")
    p.add_argument("--in-place", action="store_true", help="add branches to the input files themselves (opt-in)")
    p.add_argument("--backend", choices=["keras", "onnxruntime"], default="keras")
    p.add_argument("--independent", action="store_true",
                   help="the inputs were never used in training (data): average the fold networks instead of "
                        "picking each event's out-of-fold network by the fold key")
    p.add_argument("--leaks", choices=["refuse", "report"], default="refuse",
                   help="events the bundle trained on, recognised by their features, scored by a network that saw "
                        "them: refuse (default) or report (warn, and score anyway)")
    p.add_argument("--fail-score", type=float, default=float("nan"),
                   help="score of events failing the spec's cut (default NaN; e.g. -1)")

    p = verb("export-onnx", cmd_export_onnx, "export a bundle's fold networks to ONNX (checked against Keras)")
    p.add_argument("bundle")
    p.add_argument("--opset", type=int, default=17)

    p = verb("evaluate", cmd_evaluate, "metrics (AUC table, ECE, Brier, rejection, KS) from trained bundles")
    p.add_argument("bundles", nargs="+")
    p.add_argument("--reference", default=None, help="bundle name for calibration and KS numbers")
    p.add_argument("--out", required=True, help="metrics JSON")

    p = verb("plot", cmd_plot, "ROC, score, reliability, feature, correlation and importance figures")
    p.add_argument("bundles", nargs="+")
    p.add_argument("--features", nargs="*", help="feature files for input distributions")
    p.add_argument("--reference", default=None)
    p.add_argument("--out", required=True, help="folder for the figures")
