"""Grouped bars (objective x language) with s.d. error bars for one task and mode."""
from lmvsmt.tables import cells
from lmvsmt.tables import plots
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    plots.plot_task(cells.load_results(snakemake.input), snakemake.output[0], mode=snakemake.wildcards.mode,
                    task=snakemake.wildcards.task, objectives=p.objectives, languages=p.languages, seeds=p.seeds,
                    ddof=p.ddof, dpi=p.dpi)
