"""Download one file of a model trained elsewhere (checked against its pins and the lock file)."""
from lmvsmt.pretrain import external
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    external.download(snakemake.params.entry, snakemake.output[0], snakemake.params.lockfile)
