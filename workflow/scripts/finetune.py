# Fine-tune the pretrained model, one result file per seed (rule `finetune`).
from lmvsmt.evaluate.jobs import Unit, finetune_job
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    finetune_job(snakemake.wildcards.objective, snakemake.params.model_dir, snakemake.input.spm,
                 [Unit(**u) for u in snakemake.params.units], snakemake.config)
