# Helpers shared by the rules: config validation, sample sheets, target lists.
import importlib.util
import json
import os
import subprocess

from snakemake.utils import validate


def hepml_check(*args):
    """Run a checking verb of hepml at parse time; its one-line error becomes the workflow's."""
    result = subprocess.run(["hepml", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise ValueError(result.stderr.strip() or result.stdout.strip())
    return result.stdout


# PyYAML keeps the last of a key written twice; hepml refuses it in every config file given
hepml_check("validate-config", *workflow.configfiles)
validate(config, "../schemas/config.schema.yaml")
# every output and log of this analysis lives under one folder, so several analyses share a checkout
RESULTS = os.path.normpath(config.get("results", "results"))


def results_path(path):
    """``path`` (wildcards allowed) inside this analysis's results folder."""
    return os.path.join(RESULTS, path)


def read_sample_sheet(path):
    """{sample: {files, tree, label, weight, shared}} from a TSV sample sheet, checked by
    `hepml samples` (unique, path-safe names; labels 0 or 1; no file twice; globs expanded).
    A file written `{results}/...` is one the workflow itself makes (the demo's generated
    ntuples), under this run's results folder."""
    try:
        samples = json.loads(hepml_check("samples", path))
    except ValueError as err:
        raise ValueError(f"config higgs.samples: {err}") from None
    for sample in samples.values():
        sample["files"] = [f.replace("{results}", RESULTS) for f in sample["files"]]
    return samples


def as_json_arg(value):
    """A config mapping as one JSON argument (the rules quote it with `:q`, like every value)."""
    return json.dumps(value or {})


PLOT_LABEL = as_json_arg(config.get("plots"))  # `hepml --plot-label` of every rule that draws figures


def stem(path):
    return os.path.splitext(os.path.basename(path))[0]


# --- Higgs task -------------------------------------------------------------------------------
HIGGS = config["higgs"]
HIGGS_SAMPLES = read_sample_sheet(HIGGS["samples"])
# xgboost joins the baselines when it is installed (pip install -e ".[xgboost]"), unless switched off
HIGGS_MODELS = list(HIGGS["models"]) + (
    ["xgb"]
    if HIGGS.get("xgboost_when_installed", True)
    and "xgb" not in HIGGS["models"]
    and importlib.util.find_spec("xgboost") is not None
    else []
)
HIGGS_BUNDLES = [f"{m}_{fs}" for m in HIGGS_MODELS for fs in HIGGS["featuresets"]]
# which models' training asks the batch system for a GPU: the model registry says (hepml models)
MODEL_GPU = {name: int(entry["gpu"]) for name, entry in json.loads(hepml_check("models")).items()}
# wildcard constraint for the model part of a bundle name: the configured models, nothing hard-coded
MODEL_PATTERN = "|".join(HIGGS_MODELS)
HIGGS_FEATURES = [f"{RESULTS}/higgs/features/{sample}.root" for sample in HIGGS_SAMPLES]
if HIGGS["reference"] not in HIGGS_BUNDLES:
    raise ValueError(f"config higgs.reference: {HIGGS['reference']!r} is not one of the trained bundles "
                     f"({', '.join(HIGGS_BUNDLES)}); name one MODEL_FEATURESET of higgs.models and higgs.featuresets")
def one_output_per_file(samples):
    """{(sample, stem): file}; two files of one sample with the same name would share a score file."""
    files = {}
    for sample, entry in samples.items():
        for path in entry["files"]:
            key = (sample, stem(path))
            if key in files and os.path.realpath(files[key]) != os.path.realpath(path):
                raise ValueError(f"config higgs.samples: sample {sample!r} has two files named {stem(path)}.root "
                                 f"({files[key]} and {path}); their scores would share one output, rename one")
            files[key] = path
    return files


HIGGS_FILES = one_output_per_file(HIGGS_SAMPLES)


def higgs_targets():
    """Metrics, plots and one friend-tree file of scores per input ntuple."""
    if "higgs" not in config.get("tasks", ["higgs"]):
        return []
    return [results_path("higgs/metrics.json"), results_path("higgs/plots")] + [
        f"{RESULTS}/higgs/scores/{sample}/{name}.root" for sample, name in HIGGS_FILES
    ]


# --- Cosmic removal (LArTPC) ------------------------------------------------------------------
COSMIC = config.get("cosmic")


def image_shape(geometry):
    """PLANES,WIRES,TICKS of the images a `geometry` config section describes."""
    return f"{len(geometry.get('angles', [60, -60, 0]))},{geometry['wires']},{geometry['ticks']}"


def cosmic_shape():
    return image_shape(COSMIC["geometry"])


def cosmic_mirrors_flag():
    """Scores and displays alike: each window predicted as the mean over its mirror images, or once."""
    return "--mirrors" if (COSMIC or {}).get("score_mirrors") else ""


COSMIC_SEEDS = [int(seed) for seed in (COSMIC or {}).get("seeds", [config["seed"]])]


def cosmic_evaluations(wildcards):
    """{seed: evaluation} of every seed, the reference (first) seed's first."""
    return {str(seed): results_path("cosmic/evaluation.json") if i == 0 else f"{RESULTS}/cosmic/seed{seed}/evaluation.json"
            for i, seed in enumerate(COSMIC_SEEDS)}


def cosmic_targets():
    """Metrics, event displays and per-pixel scores of the test sample (nothing if not configured)."""
    if not COSMIC or "cosmic" not in config.get("tasks", []):
        return []
    return [results_path("cosmic/metrics.json"), results_path("cosmic/displays"), results_path("cosmic/scores/test.root")]


# --- Domain adaptation (DANN) -----------------------------------------------------------------
DANN = config.get("dann", {})
DANN_SEEDS = [int(seed) for seed in DANN.get("seeds", [config["seed"]])]
DANN_HIGGS = DANN.get("higgs") or {}  # null in an overlay drops the study
DANN_LARTPC = DANN.get("lartpc") or {}
DANN_SHIFTS = {shift["name"]: shift["detector"] for shift in DANN_HIGGS.get("shifts", [])}
if "source" in DANN_SHIFTS or len(DANN_SHIFTS) < len(DANN_HIGGS.get("shifts", [])):
    raise ValueError("config dann.higgs.shifts: each shift needs a name of its own, and not 'source' (the "
                     "simulation the study adapts from); rename the shift")
DANN_DOMAINS = ["source", *DANN_SHIFTS]  # the Higgs study's samples: the simulation, then each shift
DANN_SHIFT_PATTERN = "|".join(DANN_SHIFTS) or "(?!)"
DANN_DOMAIN_PATTERN = "|".join(DANN_DOMAINS)


def dann_higgs_detector(domain):
    """The DetectorModel changes of one domain: the study's simulation, plus the shift's changes."""
    return {**DANN_HIGGS.get("detector", {}), **(DANN_SHIFTS[domain] if domain != "source" else {})}


def dann_runs(wildcards):
    """{STUDY/SEED: run folder} of every study configured under `dann`: each Higgs shift and the
    LArTPC study, once per seed."""
    runs = {}
    for seed in DANN_SEEDS:
        runs.update({f"higgs/{shift}/{seed}": f"{RESULTS}/dann/higgs/{shift}/seed{seed}" for shift in DANN_SHIFTS})
        if DANN_LARTPC:
            runs[f"lartpc/{seed}"] = f"{RESULTS}/dann/lartpc/seed{seed}"
    return runs


def dann_lartpc_shape():
    return image_shape(DANN_LARTPC.get("geometry", {"wires": 64, "ticks": 64}))


def dann_targets():
    """The side-by-side metrics and plots (nothing unless `dann` is among the tasks)."""
    if "dann" not in config.get("tasks", []):
        return []
    return [results_path("dann/metrics.json")]
