"""Zero-shot transfer table of one evaluation mode and source language."""
from lmvsmt.tables import cells, render
from lmvsmt.analysis import transfer
from lmvsmt.analysis.outputs import TRANSFER_PATH_KEYS
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    p, w = snakemake.params, snakemake.wildcards
    table = transfer.build_table(
        cells.load_results(snakemake.input.transfer, TRANSFER_PATH_KEYS),
        cells.load_results(snakemake.input.in_language), mode=w.mode, source=w.lang, objectives=p.objectives,
        tasks=p.tasks, languages=p.languages, seeds=p.seeds, metric=p.metric, decimals=p.decimals, ddof=p.ddof,
        bold_scope=p.bold_scope)
    render.write_table(table, snakemake.output.tex, snakemake.output.csv, snakemake.output.md)
