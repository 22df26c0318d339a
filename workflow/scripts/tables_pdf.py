"""Compile tables.tex with pdflatex."""
from lmvsmt import tables
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    tables.compile_pdf(snakemake.input.tex, snakemake.output[0], snakemake.input.tables,
                       pdflatex=snakemake.params.pdflatex)
