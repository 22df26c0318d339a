# Probing and fine-tuning (PROTOCOL.md, "Evaluation protocol"): features are cached
# once per (objective, task, language); probing trains heads from the cache, one
# result file per seed; fine-tuning trains all weights, one run per seed.
rule features:
    input:
        model=f"{MODEL_DIR}/checkpoint_best.pt",
        spm=subword_model,
        data=task_data,
    output:
        per_job(FEATURES),
    params:
        max_length=EVAL["max_length"],
        pooling=EVAL["head"]["pooling"],
        units=lambda wc: eval_units(wc, "probe"),
    threads: EVAL["threads"]
    log:
        logpath("features", JOB),
    benchmark:
        benchpath("features", JOB)
    group:
        "probe"
    conda:
        ENV
    script:
        "../workflow/scripts/features.py"


rule probe:
    input:
        per_job(FEATURES),
    output:
        per_job(RESULT, mode="probe", seed=SEEDS),
    params:
        optim=EVAL["probe"],
        head=EVAL["head"],
        units=lambda wc: eval_units(wc, "probe"),
    threads: EVAL["threads"]
    log:
        logpath("probe", JOB),
    benchmark:
        benchpath("probe", JOB)
    group:
        "probe"
    conda:
        ENV
    script:
        "../workflow/scripts/probe.py"


rule finetune:
    input:
        model=f"{MODEL_DIR}/checkpoint_best.pt",
        spm=subword_model,
        data=task_data,
    output:
        per_job(RESULT, mode="finetune", seed=SEEDS),
    params:
        optim=EVAL["finetune"],
        head=EVAL["head"],
        max_length=EVAL["max_length"],
        units=lambda wc: eval_units(wc, "finetune"),
    threads: EVAL["threads"]
    log:
        logpath("finetune", JOB),
    benchmark:
        benchpath("finetune", JOB)
    conda:
        ENV
    script:
        "../workflow/scripts/finetune.py"


FINAL_TARGETS.append(
    lambda: expand(
        RESULT, mode=MODES, objective=OBJECTIVES, task=TASKS, lang=LANGUAGES, seed=SEEDS
    )
)
