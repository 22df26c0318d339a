# Pretraining corpora (issue 3): sources in their release formats (the demo
# world's, or downloaded), exactly-once allocation, splits, text and Table 6 data.
from lmvsmt import corpus as lmvsmt_corpus
from lmvsmt.corpus import real as corpus_real

CORPUS_CFG = config["corpus"]
CORPORA = CORPUS_CFG["corpora"]
CORPUS_RAW = f"{RESULTS}/corpus/raw/{{corpus}}"
CORPUS_DIR = f"{RESULTS}/corpus/{{corpus}}"


wildcard_constraints:
    corpus="unpc|opensubtitles",


# documents per split and language, both sides of every pair per split
CORPUS_DOCS, CORPUS_BITEXTS = lmvsmt_corpus.text_files(CORPUS_DIR, LANGUAGES)


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
            f"{RESULTS}/corpus/download/{{corpus}}/{{file}}",
        wildcard_constraints:
            file=r"[^/]+",
        params:
            url=lambda w: corpus_real.downloads(config, w.corpus)[w.file][0],
            key=lambda w: corpus_real.downloads(config, w.corpus)[w.file][1],
            lockfile=f"{RESULTS}/downloads.lock",
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
                f"{RESULTS}/corpus/download/{{corpus}}/{{file}}",
                corpus=w.corpus,
                file=corpus_real.downloads(config, w.corpus),
            ),
        output:
            directory(CORPUS_RAW),
        params:
            # URL and config key of each download, to verify it against the lock file
            sources=lambda w: corpus_real.downloads(config, w.corpus),
            lockfile=f"{RESULTS}/downloads.lock",
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
        uncapped=f"{CORPUS_DIR}/allocation.uncapped.tsv",
        capped=f"{CORPUS_DIR}/allocation.capped.tsv",
        stats=f"{CORPUS_DIR}/stats.tsv",
        links=f"{CORPUS_DIR}/{lmvsmt_corpus.LINKS_REPORT}",
        docs=CORPUS_DOCS,
        bitexts=CORPUS_BITEXTS,
    params:
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
        expand(f"{CORPUS_DIR}/stats.tsv", corpus=CORPORA),
    output:
        f"{RESULTS}/stats/table6.tsv",
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
