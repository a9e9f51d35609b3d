# Higgs signal vs background: generate -> features -> k-fold training -> calibrate -> score -> plots.


rule higgs_generate:
    output:
        ntuple="results/higgs/ntuples/{process}.root",
    params:
        events=HIGGS.get("generate", {}).get("events_per_class", 200000),
        seed=config["seed"],
        first=lambda wc: 0 if wc.process == "signal" else 1_000_000_000,
        detector=as_json_arg(HIGGS.get("generate", {}).get("detector")),
    wildcard_constraints:
        process="signal|background",
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/higgs/generate_{process}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "hepml simulate {wildcards.process} --events {params.events} --seed {params.seed}"
        " --first-event {params.first} --detector {params.detector} --out {output.ntuple} > {log} 2>&1"


rule higgs_features:
    input:
        ntuples=lambda wc: HIGGS_SAMPLES[wc.sample]["files"],
        spec=HIGGS["spec"],
    output:
        features="results/higgs/features/{sample}.root",
    params:
        sources=lambda wc: " ".join(
            shlex.quote(f"{f}:{HIGGS_SAMPLES[wc.sample]['tree']}") for f in HIGGS_SAMPLES[wc.sample]["files"]
        ),
        label=lambda wc: HIGGS_SAMPLES[wc.sample]["label"],
        weight=lambda wc: shlex.quote(HIGGS_SAMPLES[wc.sample]["weight"]),
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/higgs/features_{sample}.log",
    resources:
        mem_mb=3000,
        runtime=20,
    shell:
        "hepml features {params.sources} --spec {input.spec} --label {params.label} --weight {params.weight}"
        " --out {output.features} > {log} 2>&1"


rule higgs_train_fold:
    input:
        features=expand("results/higgs/features/{sample}.root", sample=HIGGS_SAMPLES),
        spec=HIGGS["spec"],
    output:
        fold=directory("results/higgs/folds/{model}_{featureset}/fold{fold}"),
    params:
        k=HIGGS["kfold"],
        seed=config["seed"],
        config=lambda wc: as_json_arg(HIGGS.get(wc.model)),
        importance=lambda wc: "--importance" if f"{wc.model}_{wc.featureset}" == HIGGS["reference"] else "",
    wildcard_constraints:
        model="dnn|bdt|xgb",
        fold=r"\d+",
    threads: 2
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/higgs/train_{model}_{featureset}_fold{fold}.log",
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=lambda wc: 1 if wc.model == "dnn" else 0,
        request_gpus=lambda wc: 1 if wc.model == "dnn" else 0,
    shell:
        "hepml train-fold {input.features} --spec {input.spec} --group {wildcards.featureset}"
        " --model {wildcards.model} --k {params.k} --fold {wildcards.fold} --seed {params.seed}"
        " --model-config {params.config} {params.importance} --out {output.fold} > {log} 2>&1"


rule higgs_calibrate:
    input:
        features=expand("results/higgs/features/{sample}.root", sample=HIGGS_SAMPLES),
        spec=HIGGS["spec"],
        folds=lambda wc: expand(
            "results/higgs/folds/{model}_{featureset}/fold{fold}",
            model=wc.model, featureset=wc.featureset, fold=range(HIGGS["kfold"]),
        ),
    output:
        bundle=directory("results/higgs/models/{model}_{featureset}"),
    params:
        seed=config["seed"],
        calibration=HIGGS["calibration"],
        config=lambda wc: as_json_arg(HIGGS.get(wc.model)),
    wildcard_constraints:
        model="dnn|bdt|xgb",
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/higgs/calibrate_{model}_{featureset}.log",
    resources:
        mem_mb=4000,
        runtime=15,
    shell:
        "hepml calibrate {input.features} --spec {input.spec} --group {wildcards.featureset}"
        " --model {wildcards.model} --folds {input.folds} --seed {params.seed}"
        " --calibration {params.calibration} --model-config {params.config} --out {output.bundle} > {log} 2>&1"


rule higgs_score:
    input:
        bundle=f"results/higgs/models/{HIGGS['reference']}",
        ntuple=lambda wc: HIGGS_FILES[(wc.sample, wc.name)],
    output:
        scores="results/higgs/scores/{sample}/{name}.root",
    params:
        source=lambda wc: shlex.quote(f"{HIGGS_FILES[(wc.sample, wc.name)]}:{HIGGS_SAMPLES[wc.sample]['tree']}"),
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/higgs/score_{sample}_{name}.log",
    resources:
        mem_mb=3000,
        runtime=30,
    shell:
        "hepml score {input.bundle} {params.source} --out {output.scores} > {log} 2>&1"


rule higgs_evaluate:
    input:
        bundles=expand("results/higgs/models/{bundle}", bundle=HIGGS_BUNDLES),
    output:
        metrics="results/higgs/metrics.json",
    params:
        reference=HIGGS["reference"],
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/higgs/evaluate.log",
    resources:
        mem_mb=3000,
        runtime=10,
    shell:
        "hepml evaluate {input.bundles} --reference {params.reference} --out {output.metrics} > {log} 2>&1"


rule higgs_plot:
    input:
        bundles=expand("results/higgs/models/{bundle}", bundle=HIGGS_BUNDLES),
        features=expand("results/higgs/features/{sample}.root", sample=HIGGS_SAMPLES),
    output:
        plots=directory("results/higgs/plots"),
    params:
        reference=HIGGS["reference"],
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/higgs/plot.log",
    resources:
        mem_mb=3000,
        runtime=10,
    shell:
        "hepml plot {input.bundles} --features {input.features} --reference {params.reference}"
        " --out {output.plots} > {log} 2>&1"
