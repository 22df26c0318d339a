"""Write the demo world's documents and links for one corpus in its release format."""
import logging
from pathlib import Path

from lmvsmt.corpus.synthetic import write_demo_sources
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    counts = write_demo_sources(
        snakemake.wildcards.corpus, Path(snakemake.output[0]), snakemake.params.languages, snakemake.params.demo
    )
    logging.info("SYNTHETIC %s sources written: %s", snakemake.wildcards.corpus, counts)
