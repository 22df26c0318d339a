"""Take one file of a model trained elsewhere out of its archive."""
from lmvsmt.pretrain import external
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    external.unpack(snakemake.params.entry, snakemake.input[0], snakemake.output[0])
