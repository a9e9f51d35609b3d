"""Verbs of the domain-adaptation studies: ``dann-higgs``, ``dann-lartpc``, ``dann-merge``."""

from __future__ import annotations

import argparse
from typing import Any

from hepml.cli.common import (
    CALIBRATIONS,
    PRIOR_HELP,
    AddVerb,
    check_outputs,
    fraction,
    group_columns,
    json_arg,
    key_value_parts,
    mean_spread,
    prior_arg,
    seed_arg,
    shape_arg,
)

__all__ = ["register"]


def cmd_dann_higgs(args: argparse.Namespace) -> int:
    from hepml.features import FeatureSpec
    from hepml.features.files import read_features
    from hepml.tasks.dann.higgs import run_dann_higgs
    from hepml.tasks.dann.plots import plot_dann

    check_outputs([*args.source, *args.target, args.spec], [args.out])
    spec = FeatureSpec.from_yaml(args.spec)
    columns = group_columns(spec, args.group)
    source = read_features(args.source, columns, spec.id_columns, fold_key=spec.fold_key.text)
    target = read_features(args.target, columns, spec.id_columns, fold_key=spec.fold_key.text)
    m = run_dann_higgs(source, target, args.out, dense_config=args.dnn_config, dann_config=args.dann_config,
                       seed=args.seed, calibration=args.calibration, prior=args.prior, spec_config=spec.config,
                       inputs=[*args.source, *args.target])
    plot_dann(args.out, f"{args.out}/plots")
    print(f"target AUC: source-only {m['target']['source_only']:.4f}, DANN {m['target']['dann']:.4f}, "
          f"oracle {m['target']['oracle']:.4f}; gap closed {fraction(m['gap_closed'])}")
    return 0


def cmd_dann_lartpc(args: argparse.Namespace) -> int:
    from hepml.tasks.dann.lartpc import run_dann_lartpc
    from hepml.tasks.dann.plots import plot_dann

    check_outputs([*args.source_train, *args.source_test, *args.target_train, *args.target_test], [args.out])
    m = run_dann_lartpc(args.source_train, args.source_test, args.target_train, args.target_test, args.out,
                        shape=args.shape, model_config=args.model_config, dann_config=args.dann_config,
                        seed=args.seed, threshold=args.threshold)
    plot_dann(args.out, f"{args.out}/plots", classes=("cosmic", "neutrino"), xlabel="cosmic probability",
              what="pixels", beam=False)
    print(f"target mean IoU: source-only {m['target']['source_only']:.4f}, DANN {m['target']['dann']:.4f}, "
          f"oracle {m['target']['oracle']:.4f}; gap closed {fraction(m['gap_closed'])}")
    return 0


def _summary_lines(node: dict[str, Any], name: str = "") -> list[str]:
    """One line per study of a merged metrics file: gap closed and the source change, mean ± spread."""
    if "summary" not in node:
        return [line for key, child in node.items() if isinstance(child, dict)
                for line in _summary_lines(child, f"{name}/{key}".strip("/"))]
    summary = node["summary"]
    parts = [f"{name}: {summary['seeds']} seed(s)",
             f"gap closed (of the means) {fraction(summary['gap_closed_of_means'])}"]
    if summary.get("control_gap_closed_of_means") is not None:
        parts.append(f"by the control (lambda = 0) {summary['control_gap_closed_of_means']:.2f}")
    for key in ("gap_closed", "source_auc_change", "source_iou_change"):
        if key in summary:
            parts.append(f"{key} {mean_spread(summary[key], 4, '+')}")
    return [", ".join(parts)]


def cmd_dann_merge(args: argparse.Namespace) -> int:
    from hepml.tasks.dann.study import merge_metrics

    parts = key_value_parts(args.parts, "STUDY/SEED=metrics.json (e.g. higgs/jes/42=run/metrics.json)")
    merged = merge_metrics(parts, args.out, about=args.about)
    print("\n".join(_summary_lines(merged)))
    if args.plots:
        from hepml.plotting import without_beam
        from hepml.tasks.dann.plots import plot_suite

        if "higgs" in merged:
            plot_suite(merged["higgs"], args.plots)
        if "lartpc" in merged:
            with without_beam():
                plot_suite({"LArTPC": merged["lartpc"]}, args.plots, name="dann_lartpc_seeds",
                           figure_of_merit="target mean IoU")
    print(f"merged {len(parts)} run(s) into {args.out}")
    return 0


def register(verb: AddVerb) -> None:
    p = verb("dann-higgs", cmd_dann_higgs, "source-only, DANN and oracle networks side by side on pseudo-data")
    p.add_argument("--source", nargs="+", required=True, help="labelled simulation feature files")
    p.add_argument("--target", nargs="+", required=True,
                   help="pseudo-data feature files (labels used for evaluation only)")
    p.add_argument("--spec", required=True)
    p.add_argument("--group", default=None)
    p.add_argument("--dnn-config", type=json_arg, default={})
    p.add_argument("--dann-config", type=json_arg, default={},
                   help="gamma, lambda_max, alpha, beta, domain_units, domain_weight")
    p.add_argument("--calibration", choices=CALIBRATIONS, default="isotonic")
    p.add_argument("--prior", type=prior_arg, default="balanced", help=PRIOR_HELP)
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--out", required=True, help="folder: metrics.json, history.json, scores.npz, bundle/, plots/")

    p = verb("dann-lartpc", cmd_dann_lartpc, "source-only, DANN and oracle UResNets side by side on LArTPC pseudo-data")
    p.add_argument("--source-train", nargs="+", required=True, help="labelled simulation (sparse event files)")
    p.add_argument("--source-test", nargs="+", required=True)
    p.add_argument("--target-train", nargs="+", required=True, help="pseudo-data; labels read only by the oracle")
    p.add_argument("--target-test", nargs="+", required=True, help="pseudo-data for evaluation")
    p.add_argument("--shape", type=shape_arg, default=(3, 128, 128))
    p.add_argument("--model-config", type=json_arg, default={})
    p.add_argument("--dann-config", type=json_arg, default={})
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--out", required=True, help="folder: metrics.json, history.json, scores.npz, bundles, plots/")

    p = verb("dann-merge", cmd_dann_merge, "the DANN runs' metrics in one JSON, with mean and spread over seeds")
    p.add_argument("parts", nargs="+", help="STUDY/SEED=metrics.json, e.g. higgs/jes/42=run/metrics.json")
    p.add_argument("--about", type=json_arg, default={}, help='a description per study, e.g. {"higgs/jes": {...}}')
    p.add_argument("--plots", default=None, help="folder for the figures over seeds (dann_suite, dann_lartpc_seeds)")
    p.add_argument("--out", required=True)
