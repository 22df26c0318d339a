"""Result table (Table 1-4, 8, 9) from evaluation result files."""
from lmvsmt.tables import cells, render
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    table = cells.build_result_table(
        snakemake.wildcards.table, cells.load_results(snakemake.input), objectives=p.objectives, tasks=p.tasks,
        languages=p.languages, seeds=p.seeds, decimals=p.decimals, ddof=p.ddof, bold_scope=p.bold_scope,
        sources=p.sources)
    render.write_table(table, snakemake.output.tex, snakemake.output.csv, snakemake.output.md)
    print(f"{snakemake.wildcards.table}: {len(snakemake.input)} result files")
