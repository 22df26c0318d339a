# Train probing heads from cached features, one result file per seed (rule `probe`).
from lmvsmt.evaluate.jobs import Unit, probe_job
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    probe_job(snakemake.wildcards.objective, [Unit(**u) for u in snakemake.params.units], snakemake.config)
