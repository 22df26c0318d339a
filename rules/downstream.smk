# Downstream datasets (SA, NER, POS, NLI) per language: raw sources in their own
# formats (downloaded, or written by the demo world) -> one common format -> Table 7.
import json
import sys

from lmvsmt.config import ConfigError
from lmvsmt.downstream import common as ds_common
from lmvsmt.downstream import demo as ds_demo
from lmvsmt.downstream import sources as ds_sources

DS = config["downstream"]
DS_RAW = layout.fill(layout.DOWNSTREAM_RAW, results=RESULTS)
DS_ARCHIVE = layout.fill(layout.DOWNSTREAM_ARCHIVE, results=RESULTS)
DS_SOURCE = layout.fill(layout.DOWNSTREAM_SOURCE, results=RESULTS)
DS_MANIFEST = f"{DS_SOURCE}/{layout.MANIFEST}"
DS_OUT = layout.fill(layout.DOWNSTREAM, results=RESULTS)
DS_META = layout.fill(layout.DOWNSTREAM_META, results=RESULTS)
# Token tasks are written as .conll, sentence tasks as .tsv (lmvsmt.downstream.common).
DS_TOKEN_TASKS = [t for t in vocabulary.TASKS if vocabulary.is_token_task(t)]
DS_SENTENCE_TASKS = [t for t in vocabulary.TASKS if not vocabulary.is_token_task(t)]


FINAL_TARGETS.append(lambda: ds_common.final_targets(RESULTS, TASKS, LANGUAGES))


if DS["source"] == "real":
    try:
        DS_ENTRIES = {(t, l): ds_sources.source_entry(config, t, l) for t in TASKS for l in LANGUAGES}
        DS_ARCHIVES = ds_sources.archives(config, TASKS, LANGUAGES)
    except ConfigError as exc:
        sys.exit(str(exc))

    rule downstream_archive:
        output:
            DS_ARCHIVE,
        wildcard_constraints:
            archive=one_of(DS_ARCHIVES),
        params:
            url=lambda wildcards: DS_ARCHIVES[wildcards.archive],
            lockfile=DOWNLOADS_LOCK,
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
                layout.fill(DS_ARCHIVE, archive=a)
                for a in ds_sources.archives_of(DS_ENTRIES[(wildcards.task, wildcards.lang)])
            ],
        output:
            DS_MANIFEST,
        params:
            # the whole source entry, so that editing it downloads again
            entry=lambda wildcards: json.dumps(DS_ENTRIES[(wildcards.task, wildcards.lang)], sort_keys=True),
            raw_dir=path_param(DS_SOURCE),
            archive_dir=path_param(layout.fill(layout.DOWNSTREAM_ARCHIVES, results=RESULTS)),
            lockfile=DOWNLOADS_LOCK,
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
            raw_root=path_param(DS_RAW),
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
        meta=DS_META,
    wildcard_constraints:
        task=one_of(DS_TOKEN_TASKS),
    params:
        raw_dir=path_param(DS_SOURCE),
        out_dir=path_param(DS_OUT),
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
        meta=DS_META,
    wildcard_constraints:
        task=one_of(DS_SENTENCE_TASKS),


rule downstream_table7:
    input:
        expand(DS_META, task=TASKS, lang=LANGUAGES),
    output:
        layout.stats(RESULTS, "table7"),
    log:
        logpath("downstream_table7"),
    benchmark:
        benchpath("downstream_table7")
    conda:
        ENV
    script:
        "../workflow/scripts/downstream_table7.py"
