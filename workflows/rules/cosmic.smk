# Cosmic removal in LArTPC images: generate -> train UResNet -> score pixels -> evaluate, once per
# seed of cosmic.seeds.  The first seed is the reference: its model, scores and displays are the
# task's (results/cosmic/model, scores/, displays/); the others live in results/cosmic/seed<N>/.


rule cosmic_generate:
    output:
        events=results_path("cosmic/events/{sample}.root"),
    params:
        events=lambda wc: COSMIC["events"][wc.sample],
        seed=lambda wc: config["seed"] + (0 if wc.sample == "train" else 1),
        first=lambda wc: 0 if wc.sample == "train" else 10_000_000,
        geometry=lambda wc: as_json_arg(COSMIC["geometry"]),
        detector=lambda wc: as_json_arg(COSMIC.get("detector")),
    wildcard_constraints:
        sample="train|test",
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/cosmic/generate_{sample}.log"),
    resources:
        mem_mb=3000,
        runtime=10,
    shell:
        "hepml simulate lartpc --events={params.events:q} --seed={params.seed:q} --first-event={params.first:q}"
        " --geometry={params.geometry:q} --detector={params.detector:q} --out {output.events:q} > {log:q} 2>&1"


rule cosmic_train:
    input:
        events=results_path("cosmic/events/train.root"),
    output:
        bundle=directory(results_path("cosmic/model")),
    params:
        shape=cosmic_shape(),
        config=as_json_arg(COSMIC["uresnet"]) if COSMIC else "{}",
        seed=COSMIC_SEEDS[0],
    threads: 2
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/cosmic/train.log"),
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=1,
        request_gpus=1,
    shell:
        "hepml train-segmentation {input.events:q} --shape={params.shape:q} --model-config={params.config:q}"
        " --seed={params.seed:q} --out {output.bundle:q} > {log:q} 2>&1"


rule cosmic_score:
    input:
        bundle=results_path("cosmic/model"),
        events=results_path("cosmic/events/{sample}.root"),
    output:
        scores=results_path("cosmic/scores/{sample}.root"),
    params:
        threshold=COSMIC["threshold"] if COSMIC else 0.5,
        mirrors=cosmic_mirrors_flag(),
    threads: 2  # convolutions over whole windows use both
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/cosmic/score_{sample}.log"),
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "hepml score-pixels {input.bundle:q} {input.events:q} --out {output.scores:q} --threshold={params.threshold:q}"
        " --write-removed {params.mirrors} > {log:q} 2>&1"


rule cosmic_evaluate:
    input:
        bundle=results_path("cosmic/model"),
        events=results_path("cosmic/events/test.root"),
        scores=results_path("cosmic/scores/test.root"),
    output:
        metrics=results_path("cosmic/evaluation.json"),
        displays=report(directory(results_path("cosmic/displays")), patterns=["{name}.png"], caption="../report/cosmic.rst",
                        category="Cosmic"),
    params:
        label=PLOT_LABEL,
        shape=cosmic_shape(),
        threshold=COSMIC["threshold"] if COSMIC else 0.5,
        mirrors=cosmic_mirrors_flag(),
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/cosmic/evaluate.log"),
    resources:
        mem_mb=4000,
        runtime=15,
    shell:
        "hepml --plot-label={params.label:q} evaluate-segmentation --truth {input.events:q} --scores {input.scores:q} --shape={params.shape:q}"
        " --threshold={params.threshold:q} --bundle {input.bundle:q} --displays {output.displays:q} {params.mirrors}"
        " --out {output.metrics:q} > {log:q} 2>&1"


use rule cosmic_train as cosmic_train_seed with:
    output:
        bundle=directory(results_path("cosmic/seed{seed}/model")),
    params:
        shape=cosmic_shape(),
        config=as_json_arg(COSMIC["uresnet"]) if COSMIC else "{}",
        seed=lambda wc: int(wc.seed),
    log:
        results_path("logs/cosmic/seed{seed}/train.log"),


use rule cosmic_score as cosmic_score_seed with:
    input:
        bundle=results_path("cosmic/seed{seed}/model"),
        events=results_path("cosmic/events/{sample}.root"),
    output:
        scores=results_path("cosmic/seed{seed}/scores/{sample}.root"),
    log:
        results_path("logs/cosmic/seed{seed}/score_{sample}.log"),


use rule cosmic_evaluate as cosmic_evaluate_seed with:
    input:
        bundle=results_path("cosmic/seed{seed}/model"),
        events=results_path("cosmic/events/test.root"),
        scores=results_path("cosmic/seed{seed}/scores/test.root"),
    output:
        metrics=results_path("cosmic/seed{seed}/evaluation.json"),
        displays=directory(results_path("cosmic/seed{seed}/displays")),
    log:
        results_path("logs/cosmic/seed{seed}/evaluate.log"),


rule cosmic_metrics:
    input:
        unpack(cosmic_evaluations),
    output:
        metrics=report(results_path("cosmic/metrics.json"), caption="../report/cosmic.rst", category="Cosmic"),
    params:
        parts=lambda wc, input: [f"{seed}={path}" for seed, path in input.items()],
    conda:
        "../envs/hepml.yaml"
    log:
        results_path("logs/cosmic/metrics.log"),
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "hepml merge-seeds {params.parts:q} --out {output.metrics:q} > {log:q} 2>&1"
