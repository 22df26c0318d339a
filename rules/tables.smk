# Paper tables (LaTeX, CSV, Markdown), their PDF, plots and report entries.
# Everything is computed from the result files only: the evaluation results,
# the statistics TSVs and the pretraining logs. Path helpers: lmvsmt.tables.specs.
from lmvsmt.tables import specs as lmvsmt_table_specs


# Landing page of `snakemake --report` (the report collects this stage's outputs).
report: "../workflow/report/workflow.rst"


TABLES_DIR = layout.fill(layout.TABLES, results=RESULTS)
PLOTS_DIR = layout.fill(layout.PLOTS, results=RESULTS)
TABLE_IDS = lmvsmt_table_specs.tables_for(config)
TABLES_CFG = config["tables"]
TABLE_SEEDS = config["evaluation"]["seeds"]


# Table 1-4, 8, 9. Asking for a table the config has no data for (e.g. table2
# without fine-tuning) fails with one line naming the config key.
rule result_table:
    input:
        lambda wildcards: lmvsmt_table_specs.result_table_inputs(wildcards.table, config),
    output:
        tex=f"{TABLES_DIR}/{{table}}.tex",
        csv=report(
            f"{TABLES_DIR}/{{table}}.csv",
            caption="../workflow/report/result_table.rst",
            category="Tables",
            labels={"table": "{table}", "format": "CSV"},
        ),
        md=f"{TABLES_DIR}/{{table}}.md",
    wildcard_constraints:
        table="|".join(lmvsmt_table_specs.RESULT_TABLES),
    params:
        objectives=lambda wildcards: lmvsmt_table_specs.table_objectives(
            wildcards.table, config
        ),
        tasks=TASKS,
        languages=LANGUAGES,
        seeds=TABLE_SEEDS,
        decimals=TABLES_CFG["decimals"],
        ddof=TABLES_CFG["sd_ddof"],
        bold_scope=TABLES_CFG["bold_scope"],
        # where each shown model comes from, when some were trained elsewhere
        sources=lambda wildcards: lmvsmt_external.caption_sources(
            config, lmvsmt_table_specs.table_objectives(wildcards.table, config)
        ),
    log:
        logpath("result_table", "{table}"),
    benchmark:
        benchpath("result_table", "{table}")
    conda:
        ENV
    script:
        "../workflow/scripts/result_table.py"


# Table 6 (pretraining corpora) and Table 7 (downstream datasets).
rule stats_table:
    input:
        layout.fill(layout.STATS, results=RESULTS, name="{table}"),
    output:
        tex=f"{TABLES_DIR}/{{table}}.tex",
        csv=report(
            f"{TABLES_DIR}/{{table}}.csv",
            caption="../workflow/report/stats_table.rst",
            category="Tables",
            labels={"table": "{table}", "format": "CSV"},
        ),
        md=f"{TABLES_DIR}/{{table}}.md",
    wildcard_constraints:
        table="|".join(lmvsmt_table_specs.STATS_TABLES),
    params:
        corpora=config.get("corpus", {}).get("corpora"),
        tasks=TASKS,
        languages=LANGUAGES,
    log:
        logpath("stats_table", "{table}"),
    benchmark:
        benchpath("stats_table", "{table}")
    conda:
        ENV
    script:
        "../workflow/scripts/stats_table.py"


rule tables_document:
    input:
        tex=expand(f"{TABLES_DIR}/{{table}}.tex", table=TABLE_IDS),
        md=expand(f"{TABLES_DIR}/{{table}}.md", table=TABLE_IDS),
    output:
        tex=f"{TABLES_DIR}/tables.tex",
        md=report(
            f"{TABLES_DIR}/tables.md",
            caption="../workflow/report/tables_md.rst",
            category="Tables",
            labels={"table": "all", "format": "Markdown"},
        ),
    params:
        tables=TABLE_IDS,
    log:
        logpath("tables_document"),
    benchmark:
        benchpath("tables_document")
    conda:
        ENV
    script:
        "../workflow/scripts/tables_document.py"


# pdflatex is a system tool (Debian: texlive-latex-base, texlive-latex-recommended;
# `make sysdeps`), not part of the conda environment.
rule tables_pdf:
    input:
        tex=f"{TABLES_DIR}/tables.tex",
        tables=expand(f"{TABLES_DIR}/{{table}}.tex", table=TABLE_IDS),
    output:
        report(
            f"{TABLES_DIR}/tables.pdf",
            caption="../workflow/report/tables_pdf.rst",
            category="Tables",
            labels={"table": "all", "format": "PDF"},
        ),
    params:
        pdflatex=TABLES_CFG["pdflatex"],
    log:
        logpath("tables_pdf"),
    benchmark:
        benchpath("tables_pdf")
    conda:
        ENV
    script:
        "../workflow/scripts/tables_pdf.py"


rule task_plot:
    input:
        lambda wildcards: lmvsmt_table_specs.eval_results(
            config, wildcards.mode, OBJECTIVES, [wildcards.task]
        ),
    output:
        report(
            f"{PLOTS_DIR}/{{mode}}/{{task}}.png",
            caption="../workflow/report/task_plot.rst",
            category="Downstream results",
            subcategory="{mode}",
            labels={"task": "{task}", "mode": "{mode}"},
        ),
    wildcard_constraints:
        mode="|".join(config["evaluation"]["modes"]),
    params:
        objectives=OBJECTIVES,
        languages=LANGUAGES,
        seeds=TABLE_SEEDS,
        ddof=TABLES_CFG["sd_ddof"],
        dpi=TABLES_CFG["plot_dpi"],
    log:
        logpath("task_plot", "{mode}/{task}"),
    benchmark:
        benchpath("task_plot", "{mode}/{task}")
    conda:
        ENV
    script:
        "../workflow/scripts/task_plot.py"


# Pretraining loss curves of the objectives this workflow trained.
rule loss_plot:
    input:
        [layout.fill(layout.TRAIN_LOG, results=RESULTS, objective=o) for o in TRAINED],
    output:
        report(
            f"{PLOTS_DIR}/pretraining_loss.png",
            caption="../workflow/report/loss_plot.rst",
            category="Pretraining",
            labels={"figure": "loss curves"},
        ),
    params:
        objectives=TRAINED,
        dpi=TABLES_CFG["plot_dpi"],
    log:
        logpath("loss_plot"),
    benchmark:
        benchpath("loss_plot")
    conda:
        ENV
    script:
        "../workflow/scripts/loss_plot.py"


FINAL_TARGETS.append(lambda: lmvsmt_table_specs.stage_targets(config))
