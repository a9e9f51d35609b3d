# Domain adaptation: pseudo-data -> source-only / DANN / oracle side by side, for the Higgs network
# (on the Higgs task's features) and the UResNet (on its own small LArTPC samples).


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
        "hepml simulate {wildcards.process:q} --events={params.events:q} --seed={params.seed:q}"
        " --first-event={params.first:q} --detector={params.detector:q} --out {output.ntuple:q} > {log:q} 2>&1"


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
        "hepml features {input.ntuple:q} --spec {input.spec:q} --label={params.label:q} --out {output.features:q} > {log:q} 2>&1"


rule dann_higgs:
    input:
        source=HIGGS_FEATURES,
        target=expand("results/dann/higgs/features/{process}.root", process=["signal", "background"]),
        spec=HIGGS["spec"],
    output:
        run=report(directory("results/dann/higgs/run"), patterns=["plots/{name}.png"], caption="../report/dann.rst",
                   category="DANN", subcategory="Higgs"),
    params:
        label=PLOT_LABEL,
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
        "hepml --plot-label={params.label:q} dann-higgs --source {input.source:q} --target {input.target:q} --spec {input.spec:q} --group={params.group:q}"
        " --dnn-config={params.dnn:q} --dann-config={params.dann:q} --seed={params.seed:q} --out {output.run:q} > {log:q} 2>&1"


rule dann_lartpc_generate:
    output:
        events="results/dann/lartpc/events/{domain}_{sample}.root",
    params:
        events=lambda wc: DANN_LARTPC["events"][wc.sample],
        seed=lambda wc: config["seed"] + {"source_train": 20, "source_test": 21, "target_train": 22, "target_test": 23}[f"{wc.domain}_{wc.sample}"],
        first=lambda wc: {"source": 20_000_000, "target": 30_000_000}[wc.domain] + (0 if wc.sample == "train" else 1_000_000),
        geometry=as_json_arg(DANN_LARTPC.get("geometry")),
        detector=lambda wc: as_json_arg({**DANN_LARTPC.get("detector", {}),
                                         **(DANN_LARTPC.get("target_detector", {}) if wc.domain == "target" else {})}),
    wildcard_constraints:
        domain="source|target",
        sample="train|test",
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/dann/lartpc_generate_{domain}_{sample}.log",
    resources:
        mem_mb=3000,
        runtime=10,
    shell:
        "hepml simulate lartpc --events={params.events:q} --seed={params.seed:q} --first-event={params.first:q}"
        " --geometry={params.geometry:q} --detector={params.detector:q} --out {output.events:q} > {log:q} 2>&1"


rule dann_lartpc:
    input:
        source_train="results/dann/lartpc/events/source_train.root",
        source_test="results/dann/lartpc/events/source_test.root",
        target_train="results/dann/lartpc/events/target_train.root",
        target_test="results/dann/lartpc/events/target_test.root",
    output:
        run=report(directory("results/dann/lartpc/run"), patterns=["plots/{name}.png"], caption="../report/dann.rst",
                   category="DANN", subcategory="LArTPC"),
    params:
        label=PLOT_LABEL,
        shape=dann_lartpc_shape(),
        uresnet=as_json_arg(DANN_LARTPC.get("uresnet")),
        dann=as_json_arg(DANN_LARTPC.get("dann")),
        seed=config["seed"],
    threads: 2
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/dann/lartpc.log",
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=1,
        request_gpus=1,
    shell:
        "hepml --plot-label={params.label:q} dann-lartpc --source-train {input.source_train:q} --source-test {input.source_test:q}"
        " --target-train {input.target_train:q} --target-test {input.target_test:q} --shape={params.shape:q}"
        " --model-config={params.uresnet:q} --dann-config={params.dann:q} --seed={params.seed:q} --out {output.run:q} > {log:q} 2>&1"


rule dann_metrics:
    input:
        unpack(dann_runs),
    output:
        metrics=report("results/dann/metrics.json", caption="../report/dann.rst", category="DANN"),
    params:
        parts=lambda wc, input: [f"{task}={path}/metrics.json" for task, path in input.items()],
    conda:
        "../envs/hepml.yaml"
    log:
        "logs/dann/metrics.log",
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "hepml dann-merge {params.parts:q} --out {output.metrics:q} > {log:q} 2>&1"
