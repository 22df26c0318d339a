"""Download (or extract) the raw files of one task x language and write its manifest."""
import json
from pathlib import Path

from lmvsmt.downstream import sources
from lmvsmt.downstream.run import one_line_errors
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]), one_line_errors():
    sources.fetch_raw(json.loads(snakemake.params.entry), snakemake.wildcards.task, snakemake.wildcards.lang,
                      raw_dir=Path(snakemake.output[0]).parent,
                      archive_dir=Path(snakemake.input[0]).parent if snakemake.input else None,
                      lockfile=snakemake.params.lockfile)
