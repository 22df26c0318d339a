"""Check the corpus files and draw the language-balanced BPE training sample."""
from lmvsmt.bpe import training
from lmvsmt.io import rule_log

p = snakemake.params
with rule_log(snakemake.log[0]):
    training.prepare_sample(p.results, p.corpora, p.languages, snakemake.output[0], p.size, p.seed)
