"""Download one shared downstream archive (verified against the lock file)."""
from lmvsmt.downstream import sources
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    sources.fetch_archive(snakemake.params.url, snakemake.output[0], snakemake.params.lockfile,
                          key=f"downstream.sources (archive {snakemake.wildcards.archive})")
