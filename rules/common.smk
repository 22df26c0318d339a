# Shared helpers: config validation, paths, target lists and resources.
import sys

from lmvsmt import config as lmvsmt_config

_config_sources = [str(f) for f in workflow.configfiles]
if workflow.config_settings.config:
    _config_sources.append("--config")
try:
    lmvsmt_config.validate(config, " + ".join(_config_sources) or None)
except lmvsmt_config.ConfigError as exc:
    # One line, before any job runs.
    sys.exit(str(exc))

RESULTS = config["results_dir"]
LANGUAGES = config["languages"]
OBJECTIVES = config["objectives"]
TASKS = config["tasks"]
ENV = "../envs/lmvsmt.yaml"

# Each stage module appends a function returning its final outputs; `rule all`
# asks for all of them.
FINAL_TARGETS = []


def all_targets(wildcards=None):
    return [target for stage in FINAL_TARGETS for target in stage()]


def logpath(rule_name, pattern=""):
    """Log file of a rule: results/logs/<rule>/<wildcards>.log."""
    return f"{RESULTS}/logs/{rule_name}/{pattern or rule_name}.log"


def benchpath(rule_name, pattern=""):
    """Benchmark file of a rule: results/benchmarks/<rule>/<wildcards>.tsv."""
    return f"{RESULTS}/benchmarks/{rule_name}/{pattern or rule_name}.tsv"


wildcard_constraints:
    lang="|".join(LANGUAGES),
    objective="|".join(o.replace("-", r"\-") for o in OBJECTIVES),
    task="|".join(TASKS),
    split="train|valid|test",
    seed=r"\d+",


# --- Evaluation (rules/evaluate.smk) -------------------------------------------
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
