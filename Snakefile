# hepml demo workflow: `snakemake --cores all` runs every task of workflows/config/default.yaml.
from snakemake.utils import min_version

min_version("9.0")


configfile: "workflows/config/default.yaml"


report: "workflows/report/workflow.rst"


include: "workflows/rules/common.smk"
include: "workflows/rules/higgs.smk"
include: "workflows/rules/cosmic.smk"
include: "workflows/rules/dann.smk"


rule all:
    input:
        higgs_targets(),
        cosmic_targets(),
        dann_targets(),
        results_path("config.json"),
    default_target: True


# the resolved configuration next to the results, and in `snakemake --report report.html`
rule record_config:
    output:
        report(results_path("config.json"), caption="workflows/report/config.rst", category="Configuration"),
    params:
        text=json.dumps(config, indent=2, sort_keys=True),
    log:
        results_path("logs/record_config.log"),
    conda:
        "workflows/envs/hepml.yaml"
    localrule: True
    shell:
        "printf '%s\\n' {params.text:q} > {output:q} 2> {log:q}"
