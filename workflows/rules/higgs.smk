# Higgs signal vs background: generate -> features -> k-fold training -> calibrate -> score -> plots.


rule higgs_generate:
    output:
        ntuple=results_path("higgs/ntuples/{process}.root"),
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
        results_path("logs/higgs/generate_{process}.log"),
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "hepml simulate {wildcards.process:q} --events={params.events:q} --seed={params.seed:q}"
        " --first-event={params.first:q} --detector={params.detector:q} --out {output.ntuple:q} > {log:q} 2>&1"


rule higgs_features:
    input:
        ntuples=lambda wc: HIGGS_SAMPLES[wc.sample]["files"],
        spec=HIGGS["spec"],
    output:
        features=results_path("higgs/features/{sample}.root"),
    params:
        sources=lambda wc: [f"{f}:{HIGGS_SAMPLES[wc.sample]['tree']}" for f in HIGGS_SAMPLES[wc.sample]["files"]],
        label=lambda wc: HIGGS_SAMPLES[wc.sample]["label"],
        weight=lambda wc: HIGGS_SAMPLES[wc.sample]["weight"],
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/higgs/features_{sample}.log"),
    resources:
        mem_mb=3000,
        runtime=20,
    shell:
        "hepml features {params.sources:q} --spec {input.spec:q} --label={params.label:q} --weight={params.weight:q}"
        " --out {output.features:q} > {log:q} 2>&1"


rule higgs_train_fold:
    input:
        features=HIGGS_FEATURES,
        spec=HIGGS["spec"],
    output:
        fold=directory(results_path("higgs/folds/{model}_{featureset}/fold{fold}")),
    params:
        k=HIGGS["kfold"],
        seed=config["seed"],
        config=lambda wc: as_json_arg(HIGGS.get(wc.model)),
        importance=lambda wc: ["--importance"] if f"{wc.model}_{wc.featureset}" == HIGGS["reference"] else [],
    wildcard_constraints:
        model=MODEL_PATTERN,
        fold=r"\d+",
    # one thread: these small dense networks train no faster on two (hepml honours the rule's
    # threads, so two folds share two cores; README "On a batch farm")
    threads: 1
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/higgs/train_{model}_{featureset}_fold{fold}.log"),
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=lambda wc: MODEL_GPU[wc.model],
        request_gpus=lambda wc: MODEL_GPU[wc.model],
    shell:
        "hepml train-fold {input.features:q} --spec {input.spec:q} --group={wildcards.featureset:q}"
        " --model={wildcards.model:q} --k={params.k:q} --fold={wildcards.fold:q} --seed={params.seed:q}"
        " --model-config={params.config:q} {params.importance:q} --out {output.fold:q} > {log:q} 2>&1"


rule higgs_calibrate:
    input:
        features=HIGGS_FEATURES,
        spec=HIGGS["spec"],
        folds=lambda wc: expand(
            results_path("higgs/folds/{model}_{featureset}/fold{fold}"),
            model=wc.model, featureset=wc.featureset, fold=range(HIGGS["kfold"]),
        ),
    output:
        bundle=directory(results_path("higgs/models/{model}_{featureset}")),
    params:
        seed=config["seed"],
        calibration=HIGGS["calibration"],
        prior=HIGGS.get("calibration_prior", "balanced"),
        config=lambda wc: as_json_arg(HIGGS.get(wc.model)),
    wildcard_constraints:
        model=MODEL_PATTERN,
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/higgs/calibrate_{model}_{featureset}.log"),
    resources:
        mem_mb=4000,
        runtime=15,
    shell:
        "hepml calibrate {input.features:q} --spec {input.spec:q} --group={wildcards.featureset:q}"
        " --model={wildcards.model:q} --folds {input.folds:q} --seed={params.seed:q}"
        " --calibration={params.calibration:q} --prior={params.prior:q} --model-config={params.config:q} --out {output.bundle:q} > {log:q} 2>&1"


rule higgs_score:
    input:
        bundle=f"{RESULTS}/higgs/models/{HIGGS['reference']}",
        ntuple=lambda wc: HIGGS_FILES[(wc.sample, wc.name)],
    output:
        scores=results_path("higgs/scores/{sample}/{name}.root"),
    params:
        source=lambda wc: f"{HIGGS_FILES[(wc.sample, wc.name)]}:{HIGGS_SAMPLES[wc.sample]['tree']}",
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/higgs/score_{sample}_{name}.log"),
    resources:
        mem_mb=3000,
        runtime=30,
    shell:
        "hepml score {input.bundle:q} {params.source:q} --out {output.scores:q} > {log:q} 2>&1"


rule higgs_evaluate:
    input:
        bundles=expand(results_path("higgs/models/{bundle}"), bundle=HIGGS_BUNDLES),
    output:
        metrics=report(results_path("higgs/metrics.json"), caption="../report/higgs_metrics.rst", category="Higgs"),
    params:
        reference=HIGGS["reference"],
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/higgs/evaluate.log"),
    resources:
        mem_mb=3000,
        runtime=10,
    shell:
        "hepml evaluate {input.bundles:q} --reference={params.reference:q} --out {output.metrics:q} > {log:q} 2>&1"


rule higgs_plot:
    input:
        bundles=expand(results_path("higgs/models/{bundle}"), bundle=HIGGS_BUNDLES),
        features=HIGGS_FEATURES,
    output:
        plots=report(directory(results_path("higgs/plots")), patterns=["{name}.png"], caption="../report/higgs_plots.rst",
                     category="Higgs"),
    params:
        label=PLOT_LABEL,
        reference=HIGGS["reference"],
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/higgs/plot.log"),
    resources:
        mem_mb=3000,
        runtime=10,
    shell:
        "hepml --plot-label={params.label:q} plot {input.bundles:q} --features {input.features:q} --reference={params.reference:q}"
        " --out {output.plots:q} > {log:q} 2>&1"
