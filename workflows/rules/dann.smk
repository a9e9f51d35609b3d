# Domain adaptation on the Higgs task: pseudo-data -> features -> source-only / DANN / oracle.


rule dann_generate:
    output:
        ntuple="results/dann/higgs/ntuples/{process}.root",
    params:
        events=DANN.get("higgs", {}).get("events_per_class", 100000),
        seed=config["seed"] + 7,
        first=lambda wc: 5_000_000_000 if wc.process == "signal" else 6_000_000_000,
        detector=as_json_arg(DANN.get("higgs", {}).get("target_detector")),
    wildcard_constraints:
        process="signal|background",
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/dann/generate_{process}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "hepml simulate {wildcards.process} --events {params.events} --seed {params.seed}"
        " --first-event {params.first} --detector {params.detector} --out {output.ntuple} > {log} 2>&1"


rule dann_features:
    input:
        ntuple="results/dann/higgs/ntuples/{process}.root",
        spec=HIGGS["spec"],
    output:
        features="results/dann/higgs/features/{process}.root",
    params:
        label=lambda wc: 1 if wc.process == "signal" else 0,
    wildcard_constraints:
        process="signal|background",
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/dann/features_{process}.log",
    resources:
        mem_mb=3000,
        runtime=20,
    shell:
        "hepml features {input.ntuple} --spec {input.spec} --label {params.label} --out {output.features} > {log} 2>&1"


rule dann_higgs:
    input:
        source=expand("results/higgs/features/{sample}.root", sample=HIGGS_SAMPLES),
        target=expand("results/dann/higgs/features/{process}.root", process=["signal", "background"]),
        spec=HIGGS["spec"],
    output:
        run=directory("results/dann/higgs/run"),
    params:
        group=DANN.get("higgs", {}).get("featureset", "all"),
        dnn=as_json_arg(DANN.get("higgs", {}).get("dnn")),
        dann=as_json_arg(DANN.get("higgs", {}).get("dann")),
        seed=config["seed"],
    threads: 2
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/dann/higgs.log",
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=1,
        request_gpus=1,
    shell:
        "hepml dann-higgs --source {input.source} --target {input.target} --spec {input.spec} --group {params.group}"
        " --dnn-config {params.dnn} --dann-config {params.dann} --seed {params.seed} --out {output.run} > {log} 2>&1"


rule dann_metrics:
    input:
        higgs="results/dann/higgs/run",
    output:
        metrics="results/dann/metrics.json",
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/dann/metrics.log",
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "hepml dann-merge higgs={input.higgs}/metrics.json --out {output.metrics} > {log} 2>&1"
