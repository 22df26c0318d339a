# Pretraining corpora (issue 3): sources in their release formats (the demo
# world's, or downloaded), exactly-once allocation, splits, text and Table 6 data.
from lmvsmt import corpus as lmvsmt_corpus
from lmvsmt.corpus import real as corpus_real

CORPUS_CFG = config["corpus"]
CORPORA = CORPUS_CFG["corpora"]
CORPUS_RAW = RESULTS + "/corpus/raw/{corpus}"
CORPUS_DIR = RESULTS + "/corpus/{corpus}"
CORPUS_PAIRS = lmvsmt_corpus.language_pairs(LANGUAGES)


wildcard_constraints:
    corpus="unpc|opensubtitles",


def corpus_texts(corpus="{corpus}"):
    """Every text file of a corpus: documents per split and language, both sides
    of every language pair per split."""
    docs = [
        f"{RESULTS}/corpus/{corpus}/" + lmvsmt_corpus.DOC_PATTERN.format(split=s, lang=l)
        for s in lmvsmt_corpus.SPLITS
        for l in LANGUAGES
    ]
    bitexts = [
        f"{RESULTS}/corpus/{corpus}/"
        + lmvsmt_corpus.BITEXT_PATTERN.format(split=s, lang1=a, lang2=b, side=x)
        for s in lmvsmt_corpus.SPLITS
        for a, b in CORPUS_PAIRS
        for x in (a, b)
    ]
    return docs, bitexts


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
            RESULTS + "/corpus/download/{corpus}/{file}",
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
                RESULTS + "/corpus/download/{corpus}/{file}",
                corpus=w.corpus,
                file=corpus_real.downloads(config, w.corpus),
            ),
        output:
            directory(CORPUS_RAW),
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
        uncapped=CORPUS_DIR + "/allocation.uncapped.tsv",
        capped=CORPUS_DIR + "/allocation.capped.tsv",
        stats=CORPUS_DIR + "/stats.tsv",
        docs=corpus_texts()[0],
        bitexts=corpus_texts()[1],
    params:
        languages=LANGUAGES,
        allocation=CORPUS_CFG["allocation"],
        splits=CORPUS_CFG["splits"],
        max_bad_share=CORPUS_CFG["max_bad_share"],
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
        expand(CORPUS_DIR + "/stats.tsv", corpus=CORPORA),
    output:
        RESULTS + "/stats/table6.tsv",
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


def corpus_targets():
    targets = [f"{RESULTS}/stats/table6.tsv"]
    for corpus in CORPORA:
        docs, bitexts = corpus_texts(corpus)
        targets += docs + bitexts
        targets += [f"{RESULTS}/corpus/{corpus}/allocation.{k}.tsv" for k in ("uncapped", "capped")]
    return targets


FINAL_TARGETS.append(corpus_targets)
