"""Write every demo downstream dataset in its source's raw format."""
from lmvsmt.downstream import demo
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    demo.generate(snakemake.config, p.raw_root, p.tasks, p.languages)
