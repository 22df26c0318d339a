"""Write every demo downstream dataset in its source's raw format."""
from pathlib import Path

from lmvsmt.downstream import demo
from lmvsmt.downstream.run import one_line_errors
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]), one_line_errors():
    p = snakemake.params
    raw_root = Path(snakemake.output[0]).parents[2]  # {raw_root}/{task}/{lang}/source.json
    demo.generate(snakemake.config, raw_root, p.tasks, p.languages)
