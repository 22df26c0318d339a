# Shared helpers: config validation, paths, target lists and resources.
import re
import sys

from lmvsmt import config as lmvsmt_config
from lmvsmt import layout, vocabulary
from lmvsmt.pretrain import external as lmvsmt_external

_config_sources = [str(f) for f in workflow.configfiles]
if workflow.config_settings.config:
    _config_sources.append("--config")
try:
    lmvsmt_config.validate(config, " + ".join(_config_sources) or None)
except lmvsmt_config.ConfigError as exc:
    # One line, before any job runs.
    sys.exit(str(exc))

RESULTS = config["results_dir"]
DOWNLOADS_LOCK = layout.fill(layout.DOWNLOADS_LOCK, results=RESULTS)
LANGUAGES = config["languages"]
OBJECTIVES = config["objectives"]
TASKS = config["tasks"]
ENV = "../envs/lmvsmt.yaml"

# Objectives evaluated from a model trained elsewhere (pretrain.external) need no
# corpus, BPE or pretraining of ours; TRAINED are the ones this workflow pretrains.
try:
    lmvsmt_external.check(config)
except lmvsmt_config.ConfigError as exc:
    sys.exit(str(exc))
EXTERNAL = lmvsmt_external.models(config)
TRAINED = lmvsmt_external.trained_objectives(config)


def one_of(names):
    """A wildcard constraint matching exactly `names` (nothing when empty)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"

# Each stage module appends a function returning its final outputs; `rule all`
# asks for all of them.
FINAL_TARGETS = []


def all_targets(wildcards=None):
    return [target for stage in FINAL_TARGETS for target in stage()]


def path_param(pattern):
    """A path of the layout for a script (`pattern` with the job's wildcards), as a
    param. It says where the job's files are, as its outputs do, so it is declared as
    derived from them (no rerun trigger of its own)."""
    return lambda wildcards, output: layout.fill(pattern, **dict(wildcards.items()))


def logpath(rule_name, pattern=""):
    """Log file of a rule: results/logs/<rule>/<wildcards>.log."""
    return layout.log(RESULTS, rule_name, pattern)


def benchpath(rule_name, pattern=""):
    """Benchmark file of a rule: results/benchmarks/<rule>/<wildcards>.tsv."""
    return layout.benchmark(RESULTS, rule_name, pattern)


wildcard_constraints:
    lang="|".join(LANGUAGES),
    objective="|".join(o.replace("-", r"\-") for o in OBJECTIVES),
    task="|".join(TASKS),
    split=one_of(vocabulary.SPLITS),
    seed=r"\d+",
    test_lang="|".join(LANGUAGES),


# --- Evaluation (rules/evaluate.smk) -------------------------------------------
from lmvsmt.downstream.common import split_path
from lmvsmt.vocabulary import SPLITS

EVAL = config["evaluation"]
SEEDS = EVAL["seeds"]
MODES = EVAL["modes"]
MODEL_DIR = layout.fill(layout.MODEL, results=RESULTS)
FEATURES = layout.fill(layout.FEATURES, results=RESULTS)
RESULT = layout.fill(layout.EVAL_RESULT, results=RESULTS)
# Zero-shot transfer results: {lang} is the training language.
TRANSFER = layout.fill(layout.TRANSFER_RESULT, results=RESULTS)
# What one evaluation job covers (evaluation.job_scope): one language of a task, all
# languages of a task, or all tasks and languages of an objective.
SCOPE = EVAL["job_scope"]
JOB = {"language": "{objective}/{task}/{lang}", "task": "{objective}/{task}", "objective": "{objective}"}[
    SCOPE
]


def job_units(wc):
    """(task, language) pairs of one evaluation job."""
    tasks = TASKS if SCOPE == "objective" else [wc.task]
    langs = [wc.lang] if SCOPE == "language" else LANGUAGES
    return [(task, lang) for task in tasks for lang in langs]


def per_job(pattern, langs=LANGUAGES, **fixed):
    """The files of one job: `pattern` expanded over what the job covers (its tasks
    and, of `langs`, its languages) and over `fixed` values, other wildcards kept."""
    spread = {"language": {}, "task": {"lang": langs}, "objective": {"task": TASKS, "lang": langs}}
    return expand(pattern, **spread[SCOPE], **fixed, allow_missing=True)


def subword_model(wc):
    """The SentencePiece model an objective's downstream text is encoded with."""
    return lmvsmt_external.subword_model(RESULTS, config, wc.objective)


def data_dir(task, lang):
    return layout.downstream_dir(RESULTS, task, lang)


def task_data(wc):
    return [
        str(split_path(data_dir(task, lang), task, split))
        for task, lang in job_units(wc)
        for split in SPLITS
    ]


def job_tasks(wc):
    return sorted({task for task, _ in job_units(wc)})


def transfer_test_data(wc):
    """The test sets of every language of a job's tasks (fine-tuning scores them all)."""
    return [str(split_path(data_dir(task, lang), task, "test")) for task in job_tasks(wc) for lang in LANGUAGES]


def eval_units(wc, mode, transfer=True):
    """lmvsmt.evaluate.jobs.Unit fields of one job, for its script (without `transfer`
    for feature extraction, whose parameters must not change with it)."""
    return [
        dict(
            task=task,
            lang=lang,
            data_dir=data_dir(task, lang),
            features=FEATURES.format(objective=wc.objective, task=task, lang=lang),
            results={
                seed: RESULT.format(mode=mode, objective=wc.objective, task=task, lang=lang, seed=seed)
                for seed in SEEDS
            },
            **({"transfer": transfer_files(mode, wc.objective, task, lang)} if transfer else {}),
        )
        for task, lang in job_units(wc)
    ]


def transfer_files(mode, objective, task, lang):
    """A run trained on `lang` scores every language's test set: per test language its
    data, its feature cache and the transfer result files."""
    return {
        test: dict(
            data_dir=data_dir(task, test),
            features=FEATURES.format(objective=objective, task=task, lang=test),
            results={
                seed: TRANSFER.format(
                    mode=mode, objective=objective, task=task, lang=lang, test_lang=test, seed=seed
                )
                for seed in SEEDS
            },
        )
        for test in LANGUAGES
    }


def job_features(wc):
    """The feature caches of every language of a job's tasks."""
    return [FEATURES.format(objective=wc.objective, task=t, lang=lang) for t in job_tasks(wc) for lang in LANGUAGES]
