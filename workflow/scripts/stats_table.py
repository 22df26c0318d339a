"""Statistics table (Table 6: pretraining corpora, Table 7: downstream data)."""
from lmvsmt.tables import cells, render
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    if snakemake.wildcards.table == "table6":
        table = cells.build_table6(snakemake.input[0], p.corpora)
    else:
        table = cells.build_table7(snakemake.input[0], p.tasks, p.languages)
    render.write_table(table, snakemake.output.tex, snakemake.output.csv, snakemake.output.md)
