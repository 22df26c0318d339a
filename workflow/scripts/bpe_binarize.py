"""Encode one objective dataset with the shared BPE model and binarize it (fairseq-preprocess)."""
from lmvsmt.bpe import binarize
from lmvsmt.io import rule_log

p = snakemake.params
with rule_log(snakemake.log[0]):
    binarize.build(
        p.dataset,
        p.results,
        p.corpora,
        p.languages,
        snakemake.input.model,
        snakemake.input.dict,
        p.out_dir,
        p.work_dir,
        snakemake.threads,
    )
