# Cache the frozen model's head inputs for the tasks and languages of one job (rule `features`).
from lmvsmt.evaluate.jobs import Unit, features_job
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    features_job(snakemake.wildcards.objective, snakemake.params.model_dir, snakemake.input.spm,
                 [Unit(**u) for u in snakemake.params.units], snakemake.config)
