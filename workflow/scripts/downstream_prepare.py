"""Parse one task x language's raw files into the common format (three splits + meta.json)."""
from pathlib import Path

from lmvsmt.downstream import prepare
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    prepare.prepare(Path(p.raw_dir), Path(p.out_dir),
                    snakemake.wildcards.task, snakemake.wildcards.lang, seed=p.seed, own_split=p.own_split,
                    pos_token_budget=p.pos_token_budget, dedupe=p.dedupe,
                    dedupe_across_splits=p.dedupe_across_splits)
