"""One model's mean-pooled layer states on the CKA sentences, and CKA between languages."""
from lmvsmt.analysis import similarity
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    similarity.states_job(snakemake.wildcards.objective, p.model_dir, snakemake.input.spm,
                          snakemake.input.sentences, snakemake.output[0], batch_size=p.batch_size,
                          max_length=p.max_length, decoder=p.decoder, min_sentences=p.min_sentences,
                          threads=snakemake.threads)
