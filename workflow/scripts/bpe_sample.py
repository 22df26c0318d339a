"""Check the corpus files and draw the language-balanced BPE training sample."""
from lmvsmt import bpe

p = snakemake.params
with bpe.stage_step(snakemake.log[0]):
    bpe.prepare_sample(p.results, p.corpora, p.languages, snakemake.output[0], p.size, p.seed)
