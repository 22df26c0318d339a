"""Unpack the downloaded release files of a real corpus into its source tree, after
checking each against the size and sha256 recorded in the lock file."""
from pathlib import Path

from lmvsmt.corpus import real
from lmvsmt.download import verify
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    for path in snakemake.input:
        url, key = snakemake.params.sources[Path(path).name]
        verify(url, path, lockfile=snakemake.params.lockfile, key=key)
    real.unpack(snakemake.wildcards.corpus, list(snakemake.input), snakemake.output[0])
