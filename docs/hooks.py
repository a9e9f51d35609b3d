"""mkdocs hooks: the pages' generated parts, so the docs cannot drift from the code or the runs.

A page asks for a part with an HTML comment on a line of its own:

- ``<!-- hepml:cli -->``: every verb's ``--help``, from ``hepml.cli.build_parser``;
- ``<!-- hepml:settings-schema -->``: every settings block, from workflows/schemas/settings.schema.json
  (itself generated from the settings classes by ``hepml config-schema``);
- ``<!-- hepml:spec-schema -->``: the keys of a feature spec, from ``hepml.features.options``;
- ``<!-- hepml:bundle-schema -->``: the keys of bundle.json, from the schema shipped in the package;
- ``<!-- hepml:results RUN -->``: the result tables of one run, from the metrics JSON files that run
  wrote (copied unchanged to docs/results/RUN/ with a run.json naming the machine and the time).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- hepml:([a-z-]+)(?: ([^ ]+))? -->$", re.MULTILINE)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return MARKER.sub(lambda m: RENDERERS[m.group(1)](m.group(2)), markdown)


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --- the command line -----------------------------------------------------------------------------

def cli(_: str | None) -> str:
    import argparse

    from hepml.cli import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; a fixed width keeps the page stable
    parser = build_parser()
    parts = ["### hepml\n", "```text\n" + parser.format_help() + "```\n"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                parts += [f"### hepml {name}\n", "```text\n" + sub.format_help() + "```\n"]
    return "\n".join(parts)


# --- schemas --------------------------------------------------------------------------------------

def _type(prop: dict[str, Any]) -> str:
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " | ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    kind = prop.get("type", "object" if "properties" in prop else "any")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" and isinstance(prop.get("items"), dict):
        return f"array of {_type(prop['items'])}"
    return kind


def _limits(prop: dict[str, Any]) -> str:
    words = {"minimum": "≥", "exclusiveMinimum": ">", "maximum": "≤", "exclusiveMaximum": "<",
             "minLength": "length ≥", "minItems": "items ≥"}
    return ", ".join(f"{sign} {prop[key]}" for key, sign in words.items() if key in prop)


def bundle_schema(_: str | None) -> str:
    schema = _json(ROOT / "hepml" / "schemas" / "bundle.v1.schema.json")
    required = set(schema.get("required", []))
    rows = [[f"`{key}`", _type(prop), "yes" if key in required else "", _limits(prop), prop.get("description", "")]
            for key, prop in schema["properties"].items()]
    return (f"{schema.get('description', '')}\n\n"
            + _table(["key", "type", "required", "limits", "what"], rows))


def _blocks(definitions: dict[str, Any]) -> str:
    parts = []
    for block, definition in definitions.items():
        required = set(definition.get("required", []))
        rows = [[f"`{key}`", _type(prop), _limits(prop),
                 "required" if key in required else prop.get("description", "").removeprefix("default ")]
                for key, prop in definition["properties"].items()]
        parts += [f"### `{block}`\n", definition.get("description", "") + "\n",
                  _table(["key", "type", "limits", "default"], rows)]
    return "\n".join(parts)


def settings_schema(_: str | None) -> str:
    return _blocks(_json(ROOT / "workflows" / "schemas" / "settings.schema.json")["$defs"])


def spec_schema(_: str | None) -> str:
    from hepml.features.options import FeatureOptions, SpecOptions
    from hepml.features.symmetries import Symmetries

    return _blocks({"spec": SpecOptions.json_schema(), "features.<name>": FeatureOptions.json_schema(),
                    "symmetries": Symmetries.json_schema()})


# --- a run's results ------------------------------------------------------------------------------

def _num(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _pm(summary: dict[str, Any], key: str, digits: int = 3) -> str:
    value = summary.get(key)
    if not isinstance(value, dict):
        return "" if value is None else f"{value:.{digits}f}"
    std = value.get("std")
    return f"{value['mean']:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")


SET_SIZES = {"low": 21, "high": 7, "all": 28}  # the demo spec's feature groups


def _higgs(metrics: dict[str, Any]) -> str:
    sets = [s for s in ("low", "high", "all") if any(s in by_set for by_set in metrics["auc"].values())]
    rows = [[model.upper(), *(f"{by_set[s]:.4f} ± {metrics['auc_uncertainty'][model][s]:.4f}" if s in by_set else "–"
                              for s in sets)] for model, by_set in sorted(metrics["auc"].items())]
    auc = _table(["model", *(f"{s} ({SET_SIZES[s]})" for s in sets)], rows)  # a run may train some sets only
    rejection = [[name, *(f"{r[eff]:.1f}" for eff in sorted(r))]
                 for name, r in sorted(metrics["rejection_at_eff_by_model"].items())]
    effs = sorted(next(iter(metrics["rejection_at_eff_by_model"].values())))
    over = [[name, _num(o["loss_train"], ".4f"), _num(o["loss_test"], ".4f"), _num(o["relative_gap"], "+.1%"),
             *(f"{o['ks'][c]['statistic']:.4f} ({o['ks'][c]['pvalue']:.1g})" if c in o["ks"] else ""
               for c in ("signal", "background")), "yes" if o["overtrained"] else "no"]
            for name, o in sorted(metrics["overtraining"].items())]
    return ("#### Higgs: AUC (± bootstrap standard deviation)\n\n" + auc
            + f"\nCalibrated score of `{metrics['reference']}` (prior `{metrics['calibration_prior']}`): "
            f"ECE {metrics['ece']['calibrated']:.4f} (uncalibrated {metrics['ece']['uncalibrated']:.4f}), "
            f"Brier {metrics['brier']:.3f}.\n\n"
            "#### Higgs: background rejection 1/ε_B at signal efficiency ε_S\n\n"
            + _table(["bundle", *(f"ε_S = {e}" for e in effs)], rejection)
            + "\n#### Higgs: overtraining check\n\n"
            + _table(["bundle", "train loss", "test loss", "test − train", "KS signal (p)", "KS background (p)",
                      "flagged"], over))


def _cosmic(metrics: dict[str, Any]) -> str:
    summary = metrics["summary"]
    keys = [("IoU cosmic", "iou.cosmic"), ("IoU neutrino", "iou.neutrino"),
            ("accuracy, non-background pixels", "accuracy.non_background"), ("ECE cosmic", "ece.cosmic"),
            ("ECE neutrino", "ece.neutrino"), ("cosmic charge removed", "cosmic_rejection"),
            ("neutrino charge kept", "neutrino_efficiency"), ("events keeping ≥ 90 % of ν charge",
                                                              "event_neutrino_retention")]
    rows = [[label, _pm(summary, key)] for label, key in keys]
    return (f"#### Cosmic tagger ({summary['seeds']} seed(s), {metrics['events']} test windows)\n\n"
            + _table(["quantity", "value"], rows))


def _dann(metrics: dict[str, Any]) -> str:
    rows = []
    studies = [(f"Higgs {shift}", study["summary"]) for shift, study in sorted(metrics.get("higgs", {}).items())]
    if "lartpc" in metrics:  # an overlay may drop either study
        studies.append(("LArTPC (mean IoU)", metrics["lartpc"]["summary"]))
    for name, s in studies:
        closed, control = s.get("gap_closed_of_means"), s.get("control_gap_closed_of_means")
        rows.append([name, *(_pm(s, f"target.{m}") for m in ("source_only", "no_adversary", "dann", "oracle")),
                     _pm(s, "gap"), "no significant gap" if closed is None else f"{closed:.0%} ({control:.0%})"])
    return ("#### DANN on the target domain (mean ± standard deviation over seeds)\n\n"
            + _table(["study", "source-only", "control", "DANN", "oracle", "gap", "gap closed (control)"], rows))


def results(run: str | None) -> str:
    folder = ROOT / "docs" / "results" / str(run)
    info = _json(folder / "run.json")
    seconds = sum(info["wall_time_s"].values())
    parts = [f"**{info['date']}**, commit `{info['commit']}`, `{info['command']}`: {info['machine']}; "
             f"{seconds / 60:.1f} minutes in all ({info['note']}).\n"]
    for name, render in (("higgs", _higgs), ("cosmic", _cosmic), ("dann", _dann)):
        path = folder / f"{name}.json"
        if path.exists():
            parts.append(render(_json(path)))
    return "\n".join(parts)


RENDERERS = {"cli": cli, "bundle-schema": bundle_schema, "settings-schema": settings_schema, "spec-schema": spec_schema,
             "results": results}
