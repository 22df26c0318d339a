"""Unpack the downloaded release files of a real corpus into its source tree."""
from lmvsmt.corpus import real
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    real.unpack(snakemake.wildcards.corpus, list(snakemake.input), snakemake.output[0])
