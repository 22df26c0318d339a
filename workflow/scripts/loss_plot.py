"""Pretraining loss curves of every objective."""
from lmvsmt.tables import plots
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    plots.plot_loss_curves(dict(zip(snakemake.params.objectives, snakemake.input)), snakemake.output[0],
                           dpi=snakemake.params.dpi)
