"""Token counts per objective, dataset, split and language ({R}/stats/tokens.tsv)."""
from lmvsmt.bpe import binarize
from lmvsmt.io import rule_log

p = snakemake.params
with rule_log(snakemake.log[0]):
    binarize.write_token_stats(dict(zip(p.datasets, snakemake.input)), p.objectives, snakemake.output[0])
