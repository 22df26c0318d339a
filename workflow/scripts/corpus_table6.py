"""Table 6 data: sentences per corpus and split."""
from lmvsmt import corpus
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    corpus.write_table6(dict(zip(snakemake.params.corpora, snakemake.input)), snakemake.output[0])
