"""The weight spectra table (the companion paper's Table 2) and the per-layer plot."""
from lmvsmt.tables import render
from lmvsmt.analysis import figures, spectra
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    p, out = snakemake.params, snakemake.output
    values = spectra.read_spectra(snakemake.input.spectra)
    table = spectra.build_table(values, spectra.read_differences(snakemake.input.differences), p.pairs, p.decimals)
    render.write_table(table, out.tex, out.csv, out.md)
    figures.plot_spectra(values, list(dict.fromkeys(s.objective for s in values)), out.plot, dpi=p.dpi)
