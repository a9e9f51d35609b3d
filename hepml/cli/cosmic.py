"""Verbs of the cosmic-removal task: train the UResNet, score pixels, evaluate (with event displays)."""

from __future__ import annotations

import argparse

from hepml.cli.common import AddVerb, check_outputs, json_arg, key_value_parts, mean_spread, seed_arg, shape_arg

__all__ = ["register"]


def cmd_train_segmentation(args: argparse.Namespace) -> int:
    from hepml.tasks.cosmic.train import train_segmentation

    check_outputs([*args.inputs, *(args.target or []), *([args.initial] if args.initial else [])], [args.out])
    train_segmentation(args.inputs, args.out, shape=args.shape, model_config=args.model_config, seed=args.seed,
                       target=args.target, dann_config=args.dann_config, initial=args.initial)
    mode = f", domain-adversarially against {len(args.target)} unlabelled file(s)" if args.target else ""
    print(f"trained UResNet on {len(args.inputs)} file(s){mode} -> {args.out}")
    return 0


def cmd_score_pixels(args: argparse.Namespace) -> int:
    from hepml.errors import ConfigError
    from hepml.tasks.cosmic.score import score_pixels

    if len(args.inputs) != len(args.out):
        raise ConfigError(f"score-pixels: {len(args.inputs)} inputs but {len(args.out)} outputs; give one output "
                          "per input")
    check_outputs([args.bundle, *args.inputs], args.out)
    for source, output in zip(args.inputs, args.out, strict=True):
        score_pixels(args.bundle, source, output, threshold=args.threshold, write_removed=args.write_removed,
                     mirrors=args.mirrors)
    print(f"scored {len(args.inputs)} file(s) with {args.bundle}")
    return 0


def cmd_evaluate_segmentation(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hepml.tasks.cosmic.evaluate import evaluate_segmentation

    check_outputs([*args.truth, *args.scores], [args.out, *([args.displays] if args.displays else [])])
    m = evaluate_segmentation(args.truth, args.scores, args.out, shape=args.shape, threshold=args.threshold)
    if args.displays and args.bundle:
        from hepml.tasks.cosmic.plots import plot_event_displays

        plot_event_displays(args.bundle, args.truth[0], Path(args.displays), mirrors=args.mirrors)
    print(f"IoU cosmic {m['iou']['cosmic']:.3f}, neutrino {m['iou']['neutrino']:.3f}; "
          f"cosmic rejection {m['cosmic_rejection']:.3f}, neutrino efficiency {m['neutrino_efficiency']:.3f}")
    return 0


def cmd_merge_seeds(args: argparse.Namespace) -> int:
    from hepml.tasks.cosmic.evaluate import merge_seeds

    summary = merge_seeds(key_value_parts(args.parts, "SEED=evaluation.json"), args.out)["summary"]
    for key in ("iou.cosmic", "iou.neutrino", "accuracy.non_background"):
        print(f"{key}: {mean_spread(summary[key])} over {summary[key]['n']} seed(s)")
    return 0


def register(verb: AddVerb) -> None:
    p = verb("train-segmentation", cmd_train_segmentation, "train the UResNet cosmic tagger on sparse LArTPC files")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--shape", type=shape_arg, default=(3, 128, 128), help="PLANES,WIRES,TICKS of the images")
    p.add_argument("--model-config", type=json_arg, default={}, help="UResNet settings as JSON")
    p.add_argument("--target", nargs="+", default=None,
                   help="unlabelled files (data): train domain-adversarially (DANN); their labels are never read")
    p.add_argument("--dann-config", type=json_arg, default={}, help="DANN settings as JSON (with --target)")
    p.add_argument("--initial", default=None, metavar="BUNDLE",
                   help="start the DANN network from this segmentation bundle (with --target): a warm start "
                        "from the source-only network")
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--out", required=True, help="bundle folder to write")

    p = verb("score-pixels", cmd_score_pixels, "write per-pixel cosmic/neutrino probabilities as friend trees")
    p.add_argument("bundle")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--out", nargs="+", required=True, help="one output per input")
    p.add_argument("--threshold", type=float, default=0.5, help="cosmic probability above which a pixel is removed")
    p.add_argument("--write-removed", action="store_true", help="also write the cosmic-removed pixel list (Clean_*)")
    p.add_argument("--mirrors", action="store_true",
                   help="score each window as the mean over its four mirror images (4x the compute)")

    p = verb("evaluate-segmentation", cmd_evaluate_segmentation, "IoU, accuracies, rejection, efficiency, displays")
    p.add_argument("--truth", nargs="+", required=True, help="the sparse event files (with true labels)")
    p.add_argument("--scores", nargs="+", required=True, help="their score friend files, same order")
    p.add_argument("--shape", type=shape_arg, default=(3, 128, 128))
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--bundle", default=None, help="bundle for event displays")
    p.add_argument("--displays", default=None, help="folder for event displays")
    p.add_argument("--mirrors", action="store_true", help="displays predicted as score-pixels --mirrors does")
    p.add_argument("--out", required=True, help="metrics JSON")

    p = verb("merge-seeds", cmd_merge_seeds, "one cosmic metrics file from each seed's evaluation: mean and spread")
    p.add_argument("parts", nargs="+", help="SEED=evaluation.json, the reference seed first")
    p.add_argument("--out", required=True)
