# Domain adaptation: pseudo-data -> source-only / DANN / oracle side by side, for the Higgs network
# (its own nominal sample against each shifted detector of the suite) and the UResNet (on its own
# small LArTPC samples); every study once per seed of dann.seeds.


rule dann_generate:
    output:
        ntuple=results_path("dann/higgs/{domain}/ntuples/{process}.root"),
    params:
        events=DANN_HIGGS.get("events_per_class", 50000),
        # every domain its own events: the source and each shift are independent samples
        seed=lambda wc: config["seed"] + 7 + DANN_DOMAINS.index(wc.domain),
        first=lambda wc: (5_000_000_000 if wc.process == "signal" else 6_000_000_000)
                         + 10_000_000 * DANN_DOMAINS.index(wc.domain),
        detector=lambda wc: as_json_arg(dann_higgs_detector(wc.domain)),
    wildcard_constraints:
        process="signal|background",
        domain=DANN_DOMAIN_PATTERN,
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/dann/higgs/{domain}/generate_{process}.log"),
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "hepml simulate {wildcards.process:q} --events={params.events:q} --seed={params.seed:q}"
        " --first-event={params.first:q} --detector={params.detector:q} --out {output.ntuple:q} > {log:q} 2>&1"


rule dann_features:
    input:
        ntuple=results_path("dann/higgs/{domain}/ntuples/{process}.root"),
        spec=HIGGS["spec"],
    output:
        features=results_path("dann/higgs/{domain}/features/{process}.root"),
    params:
        label=lambda wc: 1 if wc.process == "signal" else 0,
    wildcard_constraints:
        process="signal|background",
        domain=DANN_DOMAIN_PATTERN,
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/dann/higgs/{domain}/features_{process}.log"),
    resources:
        mem_mb=3000,
        runtime=20,
    shell:
        "hepml --quiet features {input.ntuple:q} --spec {input.spec:q} --label={params.label:q} --out {output.features:q} > {log:q} 2>&1"


rule dann_higgs:
    input:
        source=expand(results_path("dann/higgs/source/features/{process}.root"), process=["signal", "background"]),
        target=expand(results_path("dann/higgs/{{shift}}/features/{process}.root"), process=["signal", "background"]),
        spec=HIGGS["spec"],
    output:
        run=report(directory(results_path("dann/higgs/{shift}/seed{seed}")), patterns=["plots/{name}.png"],
                   caption="../report/dann.rst", category="DANN", subcategory="Higgs {shift}, seed {seed}"),
    params:
        label=PLOT_LABEL,
        group=DANN_HIGGS.get("featureset", "all"),
        dnn=as_json_arg(DANN_HIGGS.get("dnn")),
        dann=as_json_arg(DANN_HIGGS.get("dann")),
    wildcard_constraints:
        shift=DANN_SHIFT_PATTERN,
        seed=r"\d+",
    threads: 1  # a small dense network: no faster on two threads, so two runs share two cores
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/dann/higgs/{shift}/seed{seed}.log"),
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=1,
        request_gpus=1,
    shell:
        "hepml --plot-label={params.label:q} dann-higgs --source {input.source:q} --target {input.target:q} --spec {input.spec:q} --group={params.group:q}"
        " --dnn-config={params.dnn:q} --dann-config={params.dann:q} --seed={wildcards.seed:q} --out {output.run:q} > {log:q} 2>&1"


rule dann_lartpc_generate:
    output:
        events=results_path("dann/lartpc/events/{domain}_{sample}.root"),
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
        results_path("logs/dann/lartpc_generate_{domain}_{sample}.log"),
    resources:
        mem_mb=3000,
        runtime=10,
    shell:
        "hepml simulate lartpc --events={params.events:q} --seed={params.seed:q} --first-event={params.first:q}"
        " --geometry={params.geometry:q} --detector={params.detector:q} --out {output.events:q} > {log:q} 2>&1"


rule dann_lartpc:
    input:
        source_train=results_path("dann/lartpc/events/source_train.root"),
        source_test=results_path("dann/lartpc/events/source_test.root"),
        target_train=results_path("dann/lartpc/events/target_train.root"),
        target_test=results_path("dann/lartpc/events/target_test.root"),
    output:
        run=report(directory(results_path("dann/lartpc/seed{seed}")), patterns=["plots/{name}.png"],
                   caption="../report/dann.rst", category="DANN", subcategory="LArTPC, seed {seed}"),
    params:
        label=PLOT_LABEL,
        shape=dann_lartpc_shape(),
        uresnet=as_json_arg(DANN_LARTPC.get("uresnet")),
        dann=as_json_arg(DANN_LARTPC.get("dann")),
    wildcard_constraints:
        seed=r"\d+",
    threads: 2
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/dann/lartpc/seed{seed}.log"),
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=1,
        request_gpus=1,
    shell:
        "hepml --plot-label={params.label:q} dann-lartpc --source-train {input.source_train:q} --source-test {input.source_test:q}"
        " --target-train {input.target_train:q} --target-test {input.target_test:q} --shape={params.shape:q}"
        " --model-config={params.uresnet:q} --dann-config={params.dann:q} --seed={wildcards.seed:q} --out {output.run:q} > {log:q} 2>&1"


rule dann_metrics:
    input:
        unpack(dann_runs),
    output:
        metrics=report(results_path("dann/metrics.json"), caption="../report/dann.rst", category="DANN"),
        plots=report(directory(results_path("dann/plots")), patterns=["{name}.png"], caption="../report/dann.rst",
                     category="DANN", subcategory="over seeds"),
    params:
        # STUDY/SEED=metrics.json, e.g. higgs/jes/42=results/dann/higgs/jes/seed42/metrics.json
        parts=lambda wc, input: [f"{study}={path}/metrics.json" for study, path in input.items()],
        about=as_json_arg({f"higgs/{shift}": {"target_detector": changes} for shift, changes in DANN_SHIFTS.items()}),
        label=PLOT_LABEL,
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/dann/metrics.log"),
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "hepml --plot-label={params.label:q} dann-merge {params.parts:q} --about={params.about:q} --plots {output.plots:q}"
        " --out {output.metrics:q} > {log:q} 2>&1"
