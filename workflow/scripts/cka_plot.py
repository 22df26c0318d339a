"""CKA heatmaps for the report."""
from lmvsmt.analysis import ckadata, figures
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    languages = ckadata.read_csv(snakemake.input.languages, ckadata.LANGUAGE_COLUMNS)
    models = ckadata.read_csv(snakemake.input.models, ckadata.MODEL_COLUMNS)
    outputs = iter(snakemake.output)
    for objective in p.objectives:
        figures.plot_language_cka(languages, objective, p.languages, next(outputs), dpi=p.dpi)
    figures.plot_language_cka_by_layer(languages, p.objectives, next(outputs), dpi=p.dpi)
    figures.plot_model_cka(models, p.languages, p.objectives, next(outputs), dpi=p.dpi)
