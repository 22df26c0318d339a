"""Every model's mean-pooled layer states on the CKA sentences, and CKA between languages."""
from lmvsmt.analysis import similarity
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    similarity.states_job(list(zip(p.objectives, p.model_dirs, p.spm_models, snakemake.output)),
                          snakemake.input.sentences, batch_size=p.batch_size, max_length=p.max_length,
                          decoder=p.decoder, min_sentences=p.min_sentences, threads=snakemake.threads)
