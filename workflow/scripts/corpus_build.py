"""Scan, allocate, split and write one pretraining corpus."""
from pathlib import Path

from lmvsmt import corpus
from lmvsmt.io import rule_log

p = snakemake.params
with rule_log(snakemake.log[0]):
    corpus.build(
        snakemake.wildcards.corpus,
        Path(snakemake.input.raw),
        Path(p.out_dir),
        p.languages,
        unit=p.allocation["unit"],
        allocation_seed=p.allocation["seed"],
        use=p.allocation["use"],
        valid=p.splits["valid"],
        test=p.splits["test"],
        split_seed=p.splits["seed"],
        max_bad_share=p.max_bad_share,
        links=p.links,
    )
