"""Encode one objective dataset with the shared BPE model and binarize it (fairseq-preprocess)."""
from pathlib import Path

from lmvsmt.bpe import binarize, inputs

p = snakemake.params
out_dir = Path(snakemake.output.tokens).parent
with inputs.stage_step(snakemake.log[0]):
    # {R}/data-bin/{dataset}/: the corpus files and the scratch space lie under {R}.
    results = out_dir.parents[1]
    binarize.build(
        p.dataset,
        results,
        p.corpora,
        p.languages,
        snakemake.input.model,
        snakemake.input.dict,
        out_dir,
        results / "work" / "bpe",
        snakemake.threads,
        declared=snakemake.input.corpus,
    )
