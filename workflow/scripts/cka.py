"""CKA between languages (per model and layer) and between models (per language)."""
from lmvsmt.analysis import similarity
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    similarity.cka_job(snakemake.input, snakemake.params.languages, snakemake.params.min_sentences,
                       snakemake.output.languages, snakemake.output.models)
