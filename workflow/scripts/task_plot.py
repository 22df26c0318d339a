"""Grouped bars (objective x language) with s.d. error bars for one task and mode."""
from lmvsmt import tables
from lmvsmt.tables import plots
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    plots.plot_task(tables.load_results(snakemake.input), snakemake.output[0], mode=snakemake.wildcards.mode,
                    task=snakemake.wildcards.task, objectives=p.objectives, languages=p.languages, seeds=p.seeds,
                    ddof=p.ddof, dpi=p.dpi)
