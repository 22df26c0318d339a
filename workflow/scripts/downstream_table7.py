"""Table 7 data: downstream dataset sizes per task and language."""
from lmvsmt.downstream import prepare
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    prepare.write_table7(list(snakemake.input), snakemake.output[0])
