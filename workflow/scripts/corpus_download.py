"""Download one release file of a real corpus (verified against the lock file)."""
from lmvsmt.download import fetch
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    fetch(snakemake.params.url, snakemake.output[0], lockfile=snakemake.params.lockfile, key=snakemake.params.key)
