# Probing and fine-tuning (PROTOCOL.md, "Evaluation protocol"): features are cached
# once per (objective, task, language); probing trains heads from the cache, one
# result file per seed; fine-tuning trains all weights, one run per seed.
rule features:
    input:
        model=f"{MODEL_DIR}/{layout.MODEL_CHECKPOINT}",
        spm=subword_model,
        data=task_data,
    output:
        per_job(FEATURES),
    params:
        model_dir=path_param(MODEL_DIR),
        max_length=EVAL["max_length"],
        pooling=EVAL["head"]["pooling"],
        units=lambda wc: eval_units(wc, "probe", transfer=False),
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


# Every probing and fine-tuning run also scores the test sets of the task's other
# languages with the weights it selected (zero-shot transfer, rules/analysis.smk):
# probing from their cached features, fine-tuning before its weights are discarded.
rule probe:
    input:
        job_features,
    output:
        results=per_job(RESULT, mode="probe", seed=SEEDS),
        transfer=per_job(TRANSFER, mode="probe", seed=SEEDS, test_lang=LANGUAGES),
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
        model=f"{MODEL_DIR}/{layout.MODEL_CHECKPOINT}",
        spm=subword_model,
        data=task_data,
        transfer_data=transfer_test_data,
    output:
        results=per_job(RESULT, mode="finetune", seed=SEEDS),
        transfer=per_job(TRANSFER, mode="finetune", seed=SEEDS, test_lang=LANGUAGES),
    params:
        model_dir=path_param(MODEL_DIR),
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
