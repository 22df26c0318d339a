# Downstream datasets (SA, NER, POS, NLI) per language: raw sources in their own
# formats (downloaded, or written by the demo world) -> one common format -> Table 7.
import json
import sys

from lmvsmt.config import ConfigError
from lmvsmt.downstream import common as ds_common
from lmvsmt.downstream import demo as ds_demo
from lmvsmt.downstream import sources as ds_sources

DS = config["downstream"]
DS_RAW = f"{RESULTS}/downstream/raw"
DS_MANIFEST = f"{DS_RAW}/{{task}}/{{lang}}/source.json"
DS_OUT = f"{RESULTS}/downstream/{{task}}/{{lang}}"
DS_LOCK = f"{RESULTS}/downloads.lock"


FINAL_TARGETS.append(lambda: ds_common.final_targets(RESULTS, TASKS, LANGUAGES))


if DS["source"] == "real":
    try:
        DS_ENTRIES = {(t, l): ds_sources.source_entry(config, t, l) for t in TASKS for l in LANGUAGES}
        DS_ARCHIVES = ds_sources.archives(config, TASKS, LANGUAGES)
    except ConfigError as exc:
        sys.exit(str(exc))

    rule downstream_archive:
        output:
            f"{DS_RAW}/archives/{{archive}}",
        wildcard_constraints:
            archive=one_of(DS_ARCHIVES),
        params:
            url=lambda wildcards: DS_ARCHIVES[wildcards.archive],
            lockfile=DS_LOCK,
        log:
            logpath("downstream_archive", "{archive}"),
        benchmark:
            benchpath("downstream_archive", "{archive}")
        conda:
            ENV
        script:
            "../workflow/scripts/downstream_archive.py"

    rule downstream_fetch:
        input:
            lambda wildcards: [
                f"{DS_RAW}/archives/{a}"
                for a in ds_sources.archives_of(DS_ENTRIES[(wildcards.task, wildcards.lang)])
            ],
        output:
            DS_MANIFEST,
        params:
            # the whole source entry, so that editing it downloads again
            entry=lambda wildcards: json.dumps(DS_ENTRIES[(wildcards.task, wildcards.lang)], sort_keys=True),
            lockfile=DS_LOCK,
        log:
            logpath("downstream_fetch", "{task}/{lang}"),
        benchmark:
            benchpath("downstream_fetch", "{task}/{lang}")
        conda:
            ENV
        script:
            "../workflow/scripts/downstream_fetch.py"

else:

    rule downstream_demo:
        output:
            expand(DS_MANIFEST, task=TASKS, lang=LANGUAGES),
        params:
            world=json.dumps(ds_demo.world_params(config), sort_keys=True),
            sizes=ds_demo.sizes_from_config(config),
            tasks=TASKS,
            languages=LANGUAGES,
        log:
            logpath("downstream_demo"),
        benchmark:
            benchpath("downstream_demo")
        conda:
            ENV
        script:
            "../workflow/scripts/downstream_demo.py"


rule downstream_prepare_token:
    input:
        DS_MANIFEST,
    output:
        train=f"{DS_OUT}/train.conll",
        valid=f"{DS_OUT}/valid.conll",
        test=f"{DS_OUT}/test.conll",
        meta=f"{DS_OUT}/meta.json",
    wildcard_constraints:
        task="NER|POS",
    params:
        seed=DS["split_seed"],
        own_split=DS["own_split"],
        pos_token_budget=lambda wildcards: DS["pos_token_budget"] if wildcards.task == "POS" else 0,
        dedupe=DS["dedupe"],
        dedupe_across_splits=DS["dedupe_across_splits"],
    log:
        logpath("downstream_prepare", "{task}/{lang}"),
    benchmark:
        benchpath("downstream_prepare", "{task}/{lang}")
    conda:
        ENV
    script:
        "../workflow/scripts/downstream_prepare.py"


use rule downstream_prepare_token as downstream_prepare_sentence with:
    output:
        train=f"{DS_OUT}/train.tsv",
        valid=f"{DS_OUT}/valid.tsv",
        test=f"{DS_OUT}/test.tsv",
        meta=f"{DS_OUT}/meta.json",
    wildcard_constraints:
        task="SA|NLI",


rule downstream_table7:
    input:
        expand(f"{DS_OUT}/meta.json", task=TASKS, lang=LANGUAGES),
    output:
        f"{RESULTS}/stats/table7.tsv",
    log:
        logpath("downstream_table7"),
    benchmark:
        benchpath("downstream_table7")
    conda:
        ENV
    script:
        "../workflow/scripts/downstream_table7.py"
