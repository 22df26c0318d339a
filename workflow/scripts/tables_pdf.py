"""Compile tables.tex with pdflatex."""
from lmvsmt.tables import document
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    document.compile_pdf(snakemake.input.tex, snakemake.output[0], snakemake.input.tables,
                       pdflatex=snakemake.params.pdflatex)
