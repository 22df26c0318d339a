"""Write every demo downstream dataset in its source's raw format."""
from lmvsmt.downstream import demo
from lmvsmt.downstream.run import one_line_errors
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]), one_line_errors():
    p = snakemake.params
    demo.generate(snakemake.config, p.raw_root, p.tasks, p.languages)
