"""The paper's tables and plots, rendered from the result files only (rules/tables.smk).

specs     which tables (PROTOCOL.md, "The tables to generate") a configuration calls for, and
          their inputs
cells     result files -> cells (mean ± s.d. over seeds, bold) -> a `Table`; the statistics tables
render    a `Table` as LaTeX (booktabs), Markdown and CSV
document  all tables in one LaTeX/Markdown document, pdflatex; partial runs
plots     the per-task and pretraining-loss figures
__main__  `python -m lmvsmt.tables`
"""
