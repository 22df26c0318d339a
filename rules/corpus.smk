# Pretraining corpora (issue 3): sources in their release formats (the demo
# world's, or downloaded), exactly-once allocation, splits, text and Table 6 data.
from lmvsmt import corpus as lmvsmt_corpus
from lmvsmt.corpus import real as corpus_real

CORPUS_CFG = config["corpus"]
CORPORA = CORPUS_CFG["corpora"]
CORPUS_RAW = layout.fill(layout.CORPUS_RAW, results=RESULTS)
CORPUS_DIR = layout.fill(layout.CORPUS, results=RESULTS)
CORPUS_DOWNLOAD = layout.fill(layout.CORPUS_DOWNLOAD, results=RESULTS)


wildcard_constraints:
    corpus="unpc|opensubtitles",


# documents per split and language, both sides of every pair per split
CORPUS_DOCS, CORPUS_BITEXTS = layout.corpus_texts(CORPUS_DIR, LANGUAGES)


if CORPUS_CFG["source"] == "demo":

    rule corpus_demo_sources:
        output:
            directory(CORPUS_RAW),
        params:
            demo=config["demo"],
            languages=LANGUAGES,
        log:
            logpath("corpus_demo_sources", "{corpus}"),
        benchmark:
            benchpath("corpus_demo_sources", "{corpus}")
        conda:
            ENV
        script:
            "../workflow/scripts/corpus_demo_sources.py"

else:

    rule corpus_download:
        output:
            CORPUS_DOWNLOAD,
        wildcard_constraints:
            file=r"[^/]+",
        params:
            url=lambda w: corpus_real.downloads(config, w.corpus)[w.file][0],
            key=lambda w: corpus_real.downloads(config, w.corpus)[w.file][1],
            lockfile=DOWNLOADS_LOCK,
        log:
            logpath("corpus_download", "{corpus}/{file}"),
        benchmark:
            benchpath("corpus_download", "{corpus}/{file}")
        conda:
            ENV
        script:
            "../workflow/scripts/corpus_download.py"

    rule corpus_unpack:
        input:
            lambda w: expand(
                CORPUS_DOWNLOAD,
                corpus=w.corpus,
                file=corpus_real.downloads(config, w.corpus),
            ),
        output:
            directory(CORPUS_RAW),
        params:
            # URL and config key of each download, to verify it against the lock file
            sources=lambda w: corpus_real.downloads(config, w.corpus),
            lockfile=DOWNLOADS_LOCK,
        log:
            logpath("corpus_unpack", "{corpus}"),
        benchmark:
            benchpath("corpus_unpack", "{corpus}")
        conda:
            ENV
        script:
            "../workflow/scripts/corpus_unpack.py"


rule corpus_build:
    input:
        raw=CORPUS_RAW,
    output:
        uncapped=f"{CORPUS_DIR}/{layout.CORPUS_ALLOCATION.format(kind='uncapped')}",
        capped=f"{CORPUS_DIR}/{layout.CORPUS_ALLOCATION.format(kind='capped')}",
        stats=f"{CORPUS_DIR}/{layout.CORPUS_STATS}",
        links=f"{CORPUS_DIR}/{layout.CORPUS_LINKS}",
        docs=CORPUS_DOCS,
        bitexts=CORPUS_BITEXTS,
    params:
        out_dir=path_param(CORPUS_DIR),
        languages=LANGUAGES,
        allocation=CORPUS_CFG["allocation"],
        splits=CORPUS_CFG["splits"],
        max_bad_share=CORPUS_CFG["max_bad_share"],
        links=CORPUS_CFG["links"],
    log:
        logpath("corpus_build", "{corpus}"),
    benchmark:
        benchpath("corpus_build", "{corpus}")
    conda:
        ENV
    script:
        "../workflow/scripts/corpus_build.py"


rule corpus_table6:
    input:
        expand(f"{CORPUS_DIR}/{layout.CORPUS_STATS}", corpus=CORPORA),
    output:
        layout.stats(RESULTS, "table6"),
    params:
        corpora=CORPORA,
    log:
        logpath("corpus_table6"),
    benchmark:
        benchpath("corpus_table6")
    conda:
        ENV
    script:
        "../workflow/scripts/corpus_table6.py"


# Only objectives this workflow trains need the corpora (not models trained elsewhere).
if TRAINED:
    FINAL_TARGETS.append(lambda: lmvsmt_corpus.stage_targets(RESULTS, CORPORA, LANGUAGES))
