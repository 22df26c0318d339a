"""Check the corpus files and draw the language-balanced BPE training sample."""
from pathlib import Path

from lmvsmt.bpe import inputs, training

p = snakemake.params
out = Path(snakemake.output[0])
with inputs.stage_step(snakemake.log[0]):
    # {R}/bpe/train_sample.txt: the corpus files lie under the same results directory.
    results = out.parents[1]
    training.prepare_sample(results, p.corpora, p.languages, out, p.size, p.seed, declared=snakemake.input)
