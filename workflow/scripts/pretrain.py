from lmvsmt.pretrain import training
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    training.pretrain(
        snakemake.wildcards.objective,
        snakemake.config,
        snakemake.params.data_dir,
        snakemake.params.work_dir,
        dict(snakemake.output.items()),
        threads=snakemake.threads,
    )
