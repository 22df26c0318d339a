"""Singular values of every model's attention and feed-forward matrices, and the differences of the pairs."""
from lmvsmt.analysis import spectra
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    model_dirs = dict(zip(snakemake.params.objectives, snakemake.params.model_dirs))
    spectra.spectra_job(model_dirs, snakemake.params.pairs, snakemake.output.spectra, snakemake.output.differences,
                        threads=snakemake.threads)
