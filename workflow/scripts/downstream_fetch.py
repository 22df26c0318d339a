"""Download (or extract) the raw files of one task x language and write its manifest."""
import json
from lmvsmt.downstream import sources
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    sources.fetch_raw(json.loads(p.entry), snakemake.wildcards.task, snakemake.wildcards.lang, raw_dir=p.raw_dir,
                      archive_dir=p.archive_dir, lockfile=p.lockfile)
