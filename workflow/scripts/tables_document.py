"""tables.tex (a standalone document \\input-ing every table) and tables.md."""
from lmvsmt.tables import document
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    document.write_document(snakemake.input.tex, snakemake.input.md, snakemake.output.tex, snakemake.output.md)
