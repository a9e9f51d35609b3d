"""``hepml <verb>``: each verb parses its arguments and calls one library function.

Heavy modules (uproot, TensorFlow) are imported inside the verbs, so ``hepml --help`` is instant.
Errors print one line and exit with status 1; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from hepml import __version__

__all__ = ["main", "build_parser"]


def _json_arg(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON ({err.msg}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def cmd_inspect(args: argparse.Namespace) -> int:
    """List the trees; warn (exit status 3) when a file's baskets cannot all be read."""
    from hepml.inspect import describe

    from hepml.inspect import basket_problems

    damaged = 0
    for path in args.files:
        print(describe(path, branches=not args.trees_only))
        for problem in basket_problems(path, deep=args.deep):
            print(f"hepml inspect: warning: {problem}", file=sys.stderr)
            damaged += 1
    return 3 if damaged else 0


def cmd_simulate(args: argparse.Namespace) -> int:
    if args.process == "lartpc":
        from hepml.simulate.lartpc import Geometry, LArTPCConfig, write_events

        geometry = Geometry(**{k: tuple(v) if k == "angles" else v for k, v in (args.geometry or {}).items()})
        write_events(args.out, args.events, seed=args.seed, geometry=geometry,
                     config=LArTPCConfig.from_dict(args.detector), first_event=args.first_event)
        print(f"wrote {args.events} LArTPC readout windows to {args.out}")
        return 0
    from hepml.simulate.higgs import DetectorModel, write_ntuple

    detector = DetectorModel.from_dict(args.detector)
    write_ntuple(args.out, args.process, args.events, seed=args.seed, detector=detector, first_event=args.first_event)
    print(f"wrote {args.events} {args.process} events to {args.out}")
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from hepml.features import FeatureSpec
    from hepml.features.files import write_features

    spec = FeatureSpec.from_yaml(args.spec)
    if args.weight is not None:  # a sample's own weight expression (sample sheet) overrides the spec's
        spec = FeatureSpec({**spec.config, "weight": args.weight}, origin=spec.origin)
    n = write_features(spec, args.inputs, args.out, label=args.label, step_size=args.step_size)
    print(f"wrote {n} events x {len(spec.columns)} features to {args.out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from hepml.kfold import train_kfold

    spec, table = _training_table(args)
    columns = table.names
    info = train_kfold(table, args.out, model=args.model, k=args.k, seed=args.seed, fold_key=args.fold_key,
                       model_config=args.model_config, calibration=args.calibration, spec_config=spec.config,
                       inputs=list(args.features), importance=args.importance)
    print(f"trained {info['model']} on {len(table)} events, {len(columns)} features, {args.k} folds -> {args.out}")
    return 0


def _training_table(args: argparse.Namespace) -> tuple[Any, Any]:
    from hepml.features import FeatureSpec
    from hepml.features.files import read_features

    _check_outputs([*args.features, args.spec, *getattr(args, "folds", [])], [args.out])
    spec = FeatureSpec.from_yaml(args.spec)
    return spec, read_features(args.features, _columns(spec, args.group), spec.event_id)


def _check_outputs(inputs: Sequence[str], outputs: Sequence[str]) -> None:
    """Refuse, before reading anything, an output that is an input or shared by two inputs."""
    from hepml.errors import ConfigError
    from hepml.io.outputs import check_outputs

    if len(outputs) != len(set(outputs)) or not outputs:
        raise ConfigError(f"--out: give one distinct output path per input ({len(outputs)} given)")
    check_outputs(inputs, outputs)


def cmd_train_fold(args: argparse.Namespace) -> int:
    from hepml.kfold import train_fold

    _, table = _training_table(args)
    train_fold(table, args.out, fold=args.fold, model=args.model, k=args.k, seed=args.seed, fold_key=args.fold_key,
               model_config=args.model_config, importance=args.importance)
    print(f"trained {args.model} fold {args.fold}/{args.k} on {len(table)} events -> {args.out}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from hepml.kfold import assemble_bundle

    spec, table = _training_table(args)
    info = assemble_bundle(table, args.folds, args.out, model=args.model, seed=args.seed, fold_key=args.fold_key,
                           model_config=args.model_config, calibration=args.calibration, spec_config=spec.config,
                           inputs=list(args.features))
    print(f"assembled {info['k']} folds, {args.calibration} calibration -> {args.out}")
    return 0


def _columns(spec: Any, group: str | None) -> list[str]:
    from hepml.errors import ConfigError

    if group is None:
        return spec.columns
    if group not in spec.groups:
        raise ConfigError(f"{spec.origin}: no feature group {group!r}; groups: {', '.join(spec.groups) or 'none'}")
    return spec.groups[group]


def cmd_score(args: argparse.Namespace) -> int:
    from hepml.scoring import score_files

    score_files(args.bundle, args.inputs, args.out or [], tree=args.tree, prefix=args.prefix,
                step_size=args.step_size, in_place=args.in_place, backend=args.backend)
    print(f"scored {len(args.inputs)} file(s) with {args.bundle}")
    return 0


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from hepml.onnx_export import export_onnx

    files = export_onnx(args.bundle, opset=args.opset)
    print(f"exported {len(files)} fold network(s) to {args.bundle}/onnx (ONNX and Keras agree to 1e-5)")
    return 0


def _shape(text: str) -> tuple[int, int, int]:
    try:
        planes, wires, ticks = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PLANES,WIRES,TICKS such as 3,128,128, got {text!r}") from None
    return planes, wires, ticks


def cmd_train_segmentation(args: argparse.Namespace) -> int:
    from hepml.segmentation import train_segmentation

    _check_outputs([*args.inputs, *(args.target or [])], [args.out])
    train_segmentation(args.inputs, args.out, shape=args.shape, model_config=args.model_config, seed=args.seed,
                       target=args.target, dann_config=args.dann_config)
    mode = f", domain-adversarially against {len(args.target)} unlabelled file(s)" if args.target else ""
    print(f"trained UResNet on {len(args.inputs)} file(s){mode} -> {args.out}")
    return 0


def cmd_score_pixels(args: argparse.Namespace) -> int:
    from hepml.errors import ConfigError
    from hepml.segmentation import score_pixels

    if len(args.inputs) != len(args.out):
        raise ConfigError(f"score-pixels: {len(args.inputs)} inputs but {len(args.out)} outputs; give one output per input")
    _check_outputs([args.bundle, *args.inputs], args.out)
    for source, output in zip(args.inputs, args.out, strict=True):
        score_pixels(args.bundle, source, output, threshold=args.threshold, write_removed=args.write_removed)
    print(f"scored {len(args.inputs)} file(s) with {args.bundle}")
    return 0


def cmd_evaluate_segmentation(args: argparse.Namespace) -> int:
    from hepml.segmentation import evaluate_segmentation

    _check_outputs([*args.truth, *args.scores], [args.out, *([args.displays] if args.displays else [])])
    m = evaluate_segmentation(args.truth, args.scores, args.out, shape=args.shape, threshold=args.threshold,
                              displays=args.displays, bundle=args.bundle)
    print(f"IoU cosmic {m['iou']['cosmic']:.3f}, neutrino {m['iou']['neutrino']:.3f}; "
          f"cosmic rejection {m['cosmic_rejection']:.3f}, neutrino efficiency {m['neutrino_efficiency']:.3f}")
    return 0


def cmd_dann_higgs(args: argparse.Namespace) -> int:
    from hepml.dann import run_dann_higgs
    from hepml.features import FeatureSpec
    from hepml.features.files import read_features
    from hepml.plotting import plot_dann

    _check_outputs([*args.source, *args.target, args.spec], [args.out])
    spec = FeatureSpec.from_yaml(args.spec)
    columns = _columns(spec, args.group)
    source = read_features(args.source, columns, spec.event_id)
    target = read_features(args.target, columns, spec.event_id)
    m = run_dann_higgs(source, target, args.out, dense_config=args.dnn_config, dann_config=args.dann_config,
                       seed=args.seed, calibration=args.calibration, spec_config=spec.config,
                       inputs=[*args.source, *args.target])
    plot_dann(args.out, f"{args.out}/plots")
    print(f"target AUC: source-only {m['target']['source_only']:.4f}, DANN {m['target']['dann']:.4f}, "
          f"oracle {m['target']['oracle']:.4f}; gap closed {_fraction(m['gap_closed'])}")
    return 0


def _fraction(value: float | None) -> str:
    return "n/a (the oracle does not beat the source-only model)" if value is None else f"{value:.2f}"


def cmd_dann_lartpc(args: argparse.Namespace) -> int:
    from hepml.dann_lartpc import run_dann_lartpc
    from hepml.plotting import plot_dann

    _check_outputs([*args.source_train, *args.source_test, *args.target_train, *args.target_test], [args.out])
    m = run_dann_lartpc(args.source_train, args.source_test, args.target_train, args.target_test, args.out,
                        shape=args.shape, model_config=args.model_config, dann_config=args.dann_config,
                        seed=args.seed, threshold=args.threshold)
    plot_dann(args.out, f"{args.out}/plots", classes=("cosmic", "neutrino"), xlabel="cosmic probability")
    print(f"target mean IoU: source-only {m['target']['source_only']:.4f}, DANN {m['target']['dann']:.4f}, "
          f"oracle {m['target']['oracle']:.4f}; gap closed {_fraction(m['gap_closed'])}")
    return 0


def cmd_dann_merge(args: argparse.Namespace) -> int:
    from hepml.dann import merge_metrics

    parts = dict(part.split("=", 1) for part in args.parts)
    merge_metrics(parts, args.out)
    print(f"merged {', '.join(parts)} into {args.out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from hepml.evaluation import evaluate

    _check_outputs(args.bundles, [args.out])
    metrics = evaluate(args.bundles, args.out, reference=args.reference)
    table = "  ".join(f"{m}.{fs}={v:.4f}" for m, d in metrics["auc"].items() for fs, v in d.items())
    print(f"AUC: {table}; ECE {metrics['ece']['uncalibrated']:.4f} -> {metrics['ece']['calibrated']:.4f}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from hepml.plotting import make_plots

    paths = make_plots(args.bundles, args.features or [], args.out, reference=args.reference)
    print(f"wrote {len(paths)} figure files to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hepml", description="ROOT ntuples -> features -> classifiers -> calibrated scores.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser.add_argument("--version", action="version", version=f"hepml {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")

    def verb(name: str, func: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = verb("inspect", cmd_inspect, "list trees, entries and branches (with types) of ROOT files")
    p.add_argument("files", nargs="+", help="ROOT files (path, glob or URL)")
    p.add_argument("--trees-only", action="store_true", help="do not list branches")
    p.add_argument("--deep", action="store_true",
                   help="decompress every basket (slow) instead of checking basket headers; exit 3 if any fails")

    p = verb("simulate", cmd_simulate, "generate HIGGS-style signal/background ntuples or LArTPC readout windows")
    p.add_argument("process", choices=["signal", "background", "lartpc"])
    p.add_argument("--geometry", type=_json_arg, default={}, help='LArTPC geometry as JSON, e.g. \'{"wires": 256, "ticks": 256}\'')
    p.add_argument("--events", type=int, required=True, help="number of selected events to write")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--first-event", type=int, default=0, help="event number of the first event")
    p.add_argument("--detector", type=_json_arg, default={}, help='detector settings as JSON, e.g. \'{"jet_energy_scale": 1.05}\'')
    p.add_argument("--out", required=True)

    p = verb("features", cmd_features, "build a feature file (flat ROOT tree) from ntuples with a feature spec")
    p.add_argument("inputs", nargs="+", help="ROOT files, 'file.root:tree' or globs")
    p.add_argument("--spec", required=True, help="feature spec (YAML)")
    p.add_argument("--label", type=float, default=None, help="class label of these events (else the spec's label)")
    p.add_argument("--weight", default=None, help="per-event weight expression (overrides the spec's weight)")
    p.add_argument("--step-size", default="100 MB", help="chunk size: entries or memory, e.g. '100 MB'")
    p.add_argument("--out", required=True)

    def training_options(p: argparse.ArgumentParser, *, folds: bool = True) -> None:
        p.add_argument("features", nargs="+", help="feature files written by 'hepml features'")
        p.add_argument("--spec", required=True, help="the feature spec the files were built with")
        p.add_argument("--group", default=None, help="feature group of the spec to train on (default: all columns)")
        p.add_argument("--model", choices=["dnn", "bdt", "xgb"], default="dnn")
        if folds:
            p.add_argument("--k", type=int, default=3, help="number of folds")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--fold-key", default="event", help="event identifier the folds are drawn from")
        p.add_argument("--model-config", type=_json_arg, default={}, help="model settings as JSON")

    p = verb("train", cmd_train, "k-fold training by event number, calibration, bundle (all folds in one job)")
    training_options(p)
    p.add_argument("--calibration", choices=["isotonic", "platt", "temperature", "none"], default="isotonic")
    p.add_argument("--importance", action="store_true", help="compute permutation importance (fold 0)")
    p.add_argument("--out", required=True, help="bundle folder to write")

    p = verb("train-fold", cmd_train_fold, "train the model of one fold (one batch job of the k-fold scatter)")
    training_options(p)
    p.add_argument("--fold", type=int, required=True, help="the fold this model scores (0 .. k-1)")
    p.add_argument("--importance", action="store_true", help="compute permutation importance (fold 0)")
    p.add_argument("--out", required=True, help="folder for this fold's model and scores")

    p = verb("calibrate", cmd_calibrate, "gather the fold jobs into a bundle and fit the calibration")
    training_options(p, folds=False)
    p.add_argument("--folds", nargs="+", required=True, help="the train-fold folders, fold 0 first")
    p.add_argument("--calibration", choices=["isotonic", "platt", "temperature", "none"], default="isotonic")
    p.add_argument("--out", required=True, help="bundle folder to write")

    p = verb("score", cmd_score, "write calibrated scores of ntuples as friend trees (or in place)")
    p.add_argument("bundle")
    p.add_argument("inputs", nargs="+", help="ROOT files to score ('file.root:tree')")
    p.add_argument("--out", nargs="+", help="one output file per input")
    p.add_argument("--tree", default="scores", help="name of the friend tree")
    p.add_argument("--prefix", default="", help="prefix of the score branches")
    p.add_argument("--step-size", default="100 MB")
    p.add_argument("--in-place", action="store_true", help="add branches to the input files themselves (opt-in)")
    p.add_argument("--backend", choices=["keras", "onnxruntime"], default="keras")

    p = verb("export-onnx", cmd_export_onnx, "export a bundle's fold networks to ONNX (checked against Keras)")
    p.add_argument("bundle")
    p.add_argument("--opset", type=int, default=17)

    p = verb("train-segmentation", cmd_train_segmentation, "train the UResNet cosmic tagger on sparse LArTPC files")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--shape", type=_shape, default=(3, 128, 128), help="PLANES,WIRES,TICKS of the images")
    p.add_argument("--model-config", type=_json_arg, default={}, help="UResNet settings as JSON")
    p.add_argument("--target", nargs="+", default=None,
                   help="unlabelled files (data): train domain-adversarially (DANN); their labels are never read")
    p.add_argument("--dann-config", type=_json_arg, default={}, help="DANN settings as JSON (with --target)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="bundle folder to write")

    p = verb("score-pixels", cmd_score_pixels, "write per-pixel cosmic/neutrino probabilities as friend trees")
    p.add_argument("bundle")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--out", nargs="+", required=True, help="one output per input")
    p.add_argument("--threshold", type=float, default=0.5, help="cosmic probability above which a pixel is removed")
    p.add_argument("--write-removed", action="store_true", help="also write the cosmic-removed pixel list (Clean_*)")

    p = verb("evaluate-segmentation", cmd_evaluate_segmentation, "IoU, accuracies, rejection, efficiency, displays")
    p.add_argument("--truth", nargs="+", required=True, help="the sparse event files (with true labels)")
    p.add_argument("--scores", nargs="+", required=True, help="their score friend files, same order")
    p.add_argument("--shape", type=_shape, default=(3, 128, 128))
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--bundle", default=None, help="bundle for event displays")
    p.add_argument("--displays", default=None, help="folder for event displays")
    p.add_argument("--out", required=True, help="metrics JSON")

    p = verb("dann-higgs", cmd_dann_higgs, "source-only, DANN and oracle networks side by side on pseudo-data")
    p.add_argument("--source", nargs="+", required=True, help="labelled simulation feature files")
    p.add_argument("--target", nargs="+", required=True, help="pseudo-data feature files (labels used for evaluation only)")
    p.add_argument("--spec", required=True)
    p.add_argument("--group", default=None)
    p.add_argument("--dnn-config", type=_json_arg, default={})
    p.add_argument("--dann-config", type=_json_arg, default={}, help="gamma, lambda_max, alpha, beta, domain_units, domain_weight")
    p.add_argument("--calibration", choices=["isotonic", "platt", "temperature", "none"], default="isotonic")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder: metrics.json, history.json, scores.npz, bundle/, plots/")

    p = verb("dann-lartpc", cmd_dann_lartpc, "source-only, DANN and oracle UResNets side by side on LArTPC pseudo-data")
    p.add_argument("--source-train", nargs="+", required=True, help="labelled simulation (sparse event files)")
    p.add_argument("--source-test", nargs="+", required=True)
    p.add_argument("--target-train", nargs="+", required=True, help="pseudo-data; labels read only by the oracle")
    p.add_argument("--target-test", nargs="+", required=True, help="pseudo-data for evaluation")
    p.add_argument("--shape", type=_shape, default=(3, 128, 128))
    p.add_argument("--model-config", type=_json_arg, default={})
    p.add_argument("--dann-config", type=_json_arg, default={})
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="folder: metrics.json, history.json, scores.npz, bundles, plots/")

    p = verb("dann-merge", cmd_dann_merge, "collect each task's DANN metrics into one JSON")
    p.add_argument("parts", nargs="+", help="TASK=metrics.json")
    p.add_argument("--out", required=True)

    p = verb("evaluate", cmd_evaluate, "metrics (AUC table, ECE, Brier, rejection, KS) from trained bundles")
    p.add_argument("bundles", nargs="+")
    p.add_argument("--reference", default=None, help="bundle name for calibration and KS numbers")
    p.add_argument("--out", required=True, help="metrics JSON")

    p = verb("plot", cmd_plot, "ROC, score, reliability, feature, correlation and importance figures")
    p.add_argument("bundles", nargs="+")
    p.add_argument("--features", nargs="*", help="feature files for input distributions")
    p.add_argument("--reference", default=None)
    p.add_argument("--out", required=True, help="folder for the figures")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except Exception as err:
        from hepml.errors import HepmlError

        if args.debug:
            raise
        if isinstance(err, (HepmlError, FileNotFoundError, ValueError, KeyError, OSError)):
            message = " ".join(str(err).split()) or type(err).__name__
            print(f"hepml {args.verb}: error: {message}", file=sys.stderr)
            return 1
        print(f"hepml {args.verb}: unexpected {type(err).__name__}: {' '.join(str(err).split())} (rerun with --debug)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
