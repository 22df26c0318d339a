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
