# hepml demo workflow: `snakemake --cores all` runs every task of workflows/config/default.yaml.
from snakemake.utils import min_version

min_version("9.0")


configfile: "workflows/config/default.yaml"


include: "workflows/rules/common.smk"
include: "workflows/rules/higgs.smk"
include: "workflows/rules/cosmic.smk"
include: "workflows/rules/dann.smk"


rule all:
    input:
        higgs_targets(),
        cosmic_targets(),
        dann_targets(),
    default_target: True
