"""Verbs on files: ``inspect``, ``simulate``, ``features``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hepml.cli.common import AddVerb, json_arg, seed_arg, whole_number

__all__ = ["register"]


def cmd_inspect(args: argparse.Namespace) -> int:
    """List the trees; warn (exit status 3) when a file's baskets cannot all be read."""
    from hepml.io.inspect import basket_problems, describe

    damaged = 0
    for path in args.files:
        print(describe(path, branches=not args.trees_only))
        for problem in basket_problems(path, deep=args.deep):
            print(f"hepml inspect: warning: {problem}", file=sys.stderr)
            damaged += 1
    if not args.deep:
        print("hepml inspect: note: checked that every basket lies inside the file and starts with a basket header; "
              "damage inside a basket shows only with --deep (decompresses every basket)", file=sys.stderr)
    return 3 if damaged else 0


def cmd_simulate(args: argparse.Namespace) -> int:
    if args.process == "lartpc":
        from hepml.simulate.lartpc import Geometry, LArTPCConfig, write_events

        settings: dict[str, Any] = {k: tuple(v) if k == "angles" else v for k, v in (args.geometry or {}).items()}
        geometry = Geometry(**settings)
        write_events(args.out, args.events, seed=args.seed, geometry=geometry,
                     config=LArTPCConfig.from_dict(args.detector), first_event=args.first_event)
        print(f"wrote {args.events} LArTPC readout windows to {args.out}")
        return 0
    from hepml.simulate.higgs import DetectorModel, write_ntuple

    detector = DetectorModel.from_dict(args.detector)
    write_ntuple(args.out, args.process, args.events, seed=args.seed, detector=detector, first_event=args.first_event,
                 layout=args.layout, tree="tree" if args.layout == "flat" else "Events")
    print(f"wrote {args.events} {args.process} events ({args.layout} layout) to {args.out}")
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from hepml.features import FeatureSpec
    from hepml.features.files import write_features

    spec = FeatureSpec.from_yaml(args.spec)
    if args.weight is not None:  # a sample's factor (the sheet's weight column) times the spec's weight
        spec = spec.with_sample_weight(args.weight, where=f"hepml features --weight (for {args.out})")
    n = write_features(spec, args.inputs, args.out, label=args.label, step_size=args.step_size)
    print(f"wrote {n} events x {len(spec.columns)} features to {args.out}; weights of {args.out}: {spec.weight.text}")
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    """Check a sample sheet and print it as JSON (what the workflow reads)."""
    import json

    from hepml.io.samples import read_sample_sheet

    samples = read_sample_sheet(args.sheet)
    print(json.dumps({name: sample.as_dict() for name, sample in samples.items()}, indent=1))
    return 0


def cmd_validate_config(args: argparse.Namespace) -> int:
    """Read workflow config files as hepml reads YAML: a key written twice is an error."""
    from hepml.yamlfile import load_yaml

    for path in args.files:
        load_yaml(path, "workflow config")
    print(f"{len(args.files)} config file(s) read, no key written twice")
    return 0


def cmd_config_schema(args: argparse.Namespace) -> int:
    """Write the JSON schema of the workflow's settings blocks, built from the settings classes."""
    import json

    from hepml.io.atomic import atomic_path
    from hepml.tasks.settings_schema import settings_schema

    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(settings_schema(), indent=1) + "\n")
    print(f"wrote the settings schema to {args.out}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """The trainable models as JSON: what the workflow asks the batch system for each of them."""
    import json

    from hepml.models.registry import MODELS

    print(json.dumps({m.name: {"description": m.description, "gpu": m.gpu, "format": m.suffix,
                               "early_stopping": m.early_stopping} for m in MODELS.values()}, indent=1))
    return 0


def register(verb: AddVerb) -> None:
    p = verb("inspect", cmd_inspect, "list trees, entries and branches (with types) of ROOT files")
    p.add_argument("files", nargs="+", help="ROOT files (path, glob or URL)")
    p.add_argument("--trees-only", action="store_true", help="do not list branches")
    p.add_argument("--deep", action="store_true",
                   help="decompress every basket (slow) instead of checking basket headers; exit 3 if any fails")

    p = verb("simulate", cmd_simulate, "generate HIGGS-style signal/background ntuples or LArTPC readout windows")
    p.add_argument("process", choices=["signal", "background", "lartpc"])
    p.add_argument("--geometry", type=json_arg, default={},
                   help='LArTPC geometry as JSON, e.g. \'{"wires": 256, "ticks": 256}\'')
    p.add_argument("--events", type=whole_number(0), required=True, help="number of selected events to write")
    p.add_argument("--seed", type=seed_arg, default=1)
    p.add_argument("--first-event", type=whole_number(0), default=0, help="event number of the first event")
    p.add_argument("--layout", choices=["nanoaod", "flat"], default="nanoaod",
                   help="Higgs ntuples: NanoAOD-like collections with event ids (tree Events), or flat per-object "
                        "branches without ids (tree 'tree', as workflows/config/flat_ntuples.yaml expects)")
    p.add_argument("--detector", type=json_arg, default={},
                   help='detector settings as JSON, e.g. \'{"jet_energy_scale": 1.05}\'')
    p.add_argument("--out", required=True)

    p = verb("samples", cmd_samples, "check a sample sheet (TSV) and print its samples as JSON, globs expanded")
    p.add_argument("sheet", help="TSV with columns sample, files, label and optionally tree, weight, shared")

    p = verb("validate-config", cmd_validate_config, "check workflow config files (YAML: no key written twice)")
    p.add_argument("files", nargs="+", help="YAML config files (the workflow's configfile and each --configfile)")

    verb("models", cmd_models, "list the trainable models as JSON (description, GPU, scoring, early stopping)")

    p = verb("config-schema", cmd_config_schema, "write the JSON schema of the workflow config's settings blocks")
    p.add_argument("--out", required=True, help="e.g. workflows/schemas/settings.schema.json")

    p = verb("features", cmd_features, "build a feature file (flat ROOT tree) from ntuples with a feature spec")
    p.add_argument("inputs", nargs="+", help="ROOT files, 'file.root:tree' or globs")
    p.add_argument("--spec", required=True, help="feature spec (YAML)")
    p.add_argument("--label", type=float, default=None, help="class label of these events (else the spec's label)")
    p.add_argument("--weight", default=None,
                   help="the sample's weight factor (an expression, e.g. cross section x luminosity / events), "
                        "multiplied with the spec's per-event weight; a factor reading a branch the spec's weight "
                        "reads is refused (it would count twice)")
    p.add_argument("--step-size", default="100 MB", help="chunk size: entries (1000) or memory ('100 MB')")
    p.add_argument("--out", required=True)
