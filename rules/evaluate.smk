# Probing and fine-tuning (PROTOCOL.md, "Evaluation protocol"): features are cached
# once per (objective, task, language); probing trains heads from the cache, one
# result file per seed; fine-tuning trains all weights, one run per seed.
from lmvsmt.taskdata import TASK_SUFFIX

EVAL = config["evaluation"]
SEEDS = EVAL["seeds"]
MODES = EVAL["modes"]
MODEL_DIR = f"{RESULTS}/pretrain/{{objective}}"
FEATURES = f"{RESULTS}/features/{{objective}}/{{task}}/{{lang}}/features.pt"
RESULT = f"{RESULTS}/eval/{{mode}}/{{objective}}/{{task}}/{{lang}}/seed{{seed}}.json"
# With jobs_per_language false, one job covers every language of a task.
JOB = "{objective}/{task}/{lang}" if EVAL["jobs_per_language"] else "{objective}/{task}"
JOB_LANGS = (lambda wc: [wc.lang]) if EVAL["jobs_per_language"] else (lambda wc: LANGUAGES)


def per_job(pattern, **fixed):
    """The files of one job: `pattern` expanded over the job's languages (when a job
    covers all of them) and over `fixed` values, other wildcards kept."""
    langs = {} if EVAL["jobs_per_language"] else {"lang": LANGUAGES}
    return expand(pattern, **langs, **fixed, allow_missing=True)


def task_data(wc):
    return [
        f"{RESULTS}/downstream/{wc.task}/{lang}/{split}.{TASK_SUFFIX[wc.task]}"
        for lang in JOB_LANGS(wc)
        for split in ("train", "valid", "test")
    ]


def eval_units(wc, mode):
    """lmvsmt.evaluation.Unit fields of a job's languages, for its script."""
    units = []
    for lang in JOB_LANGS(wc):
        units.append(
            dict(
                lang=lang,
                data_dir=f"{RESULTS}/downstream/{wc.task}/{lang}",
                features=FEATURES.format(objective=wc.objective, task=wc.task, lang=lang),
                results={
                    seed: RESULT.format(mode=mode, objective=wc.objective,
                                        task=wc.task, lang=lang, seed=seed)
                    for seed in SEEDS
                },
            )
        )
    return units


rule features:
    input:
        model=f"{MODEL_DIR}/checkpoint_best.pt",
        spm=f"{RESULTS}/bpe/spm.model",
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
        spm=f"{RESULTS}/bpe/spm.model",
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


def eval_targets():
    return expand(RESULT, mode=MODES, objective=OBJECTIVES, task=TASKS, lang=LANGUAGES, seed=SEEDS)


FINAL_TARGETS.append(eval_targets)
