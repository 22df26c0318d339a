"""Encode one objective dataset with the shared BPE model and binarize it (fairseq-preprocess)."""
from pathlib import Path

from lmvsmt import binarize, bpe

p = snakemake.params
with bpe.stage_step(snakemake.log[0]):
    binarize.build(
        p.dataset,
        p.results,
        p.corpora,
        p.languages,
        snakemake.input.model,
        snakemake.input.dict,
        Path(snakemake.output.tokens).parent,
        p.work_dir,
        snakemake.threads,
    )
