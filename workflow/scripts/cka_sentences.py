"""The parallel sentences of the CKA analysis, sampled once for every model."""
from lmvsmt.analysis import sentences
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    directories, split = sentences.text_directories(snakemake.config)
    files = sentences.bitext_files(directories, split, snakemake.params.languages)
    sentences.sample_sentences(files, snakemake.params.n, snakemake.params.seed).save(snakemake.output[0])
