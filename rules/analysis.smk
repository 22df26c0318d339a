# The companion paper's analyses (Ji et al., LREC-COLING 2024; lmvsmt.analysis):
# zero-shot cross-lingual transfer tables, linear CKA between languages and between
# models, weight spectra. Outputs: results/analysis/ (data), results/tables/ (tables
# beside the paper's), results/plots/analysis/ (report figures).
import sys

from lmvsmt import config as lmvsmt_config
from lmvsmt.analysis import outputs as analysis_outputs

try:
    analysis_outputs.check(config)
except lmvsmt_config.ConfigError as exc:
    sys.exit(str(exc))
if analysis_outputs.similarity_notice(config):
    print(analysis_outputs.similarity_notice(config), file=sys.stderr)

ANALYSIS = config["analysis"]
SIMILARITY = ANALYSIS["similarity"]
OUT = analysis_outputs.Paths(RESULTS)
# Each objective's model directory and SentencePiece model (its own, for a model
# trained elsewhere), for the jobs that read every model.
MODEL_DIRS = [layout.model_dir(RESULTS, o) for o in OBJECTIVES]
SUBWORD_MODELS = [lmvsmt_external.subword_model(RESULTS, config, o) for o in OBJECTIVES]


# --- Zero-shot transfer ---------------------------------------------------------
# The transfer result files come from the `probe` and `finetune` jobs themselves
# (rules/evaluate.smk); the tables here pick the configured source languages.
SOURCES = ANALYSIS["transfer"]["sources"]


if SOURCES:

    rule transfer_table:
        input:
            transfer=lambda wc: analysis_outputs.transfer_inputs(config, wc.mode, wc.lang),
            in_language=lambda wc: analysis_outputs.in_language_inputs(config, wc.mode),
        output:
            tex=OUT.transfer_table("tex"),
            csv=report(
                OUT.transfer_table("csv"),
                caption="../workflow/report/transfer_table.rst",
                category="Analysis",
                subcategory="Zero-shot transfer",
                labels={"mode": "{mode}", "source": "{lang}", "format": "CSV"},
            ),
            md=OUT.transfer_table("md"),
        wildcard_constraints:
            mode="|".join(MODES),
            lang="|".join(SOURCES),
        params:
            objectives=OBJECTIVES,
            tasks=TASKS,
            languages=LANGUAGES,
            seeds=SEEDS,
            metric=ANALYSIS["transfer"]["metric"],
            decimals=config["tables"]["decimals"],
            ddof=config["tables"]["sd_ddof"],
            bold_scope=config["tables"]["bold_scope"],
        log:
            logpath("transfer_table", "{mode}_{lang}"),
        benchmark:
            benchpath("transfer_table", "{mode}_{lang}")
        conda:
            ENV
        script:
            "../workflow/scripts/transfer_table.py"


# --- Representation similarity (linear CKA) -------------------------------------
# The sentence sample is drawn once; one job encodes it with every model (all layers,
# mean-pooled; one state file per model); one job computes CKA between languages and
# between models.
rule cka_sentences:
    input:
        lambda wc: analysis_outputs.sentence_files(config),
    output:
        OUT.sentences,
    params:
        n=SIMILARITY["sentences"],
        seed=SIMILARITY["seed"],
        languages=LANGUAGES,
        source=SIMILARITY["source"],
    log:
        logpath("cka_sentences"),
    benchmark:
        benchpath("cka_sentences")
    conda:
        ENV
    script:
        "../workflow/scripts/cka_sentences.py"


rule cka_states:
    input:
        models=expand(f"{MODEL_DIR}/{layout.MODEL_CHECKPOINT}", objective=OBJECTIVES),
        spm=sorted(set(SUBWORD_MODELS)),
        sentences=OUT.sentences,
    output:
        expand(OUT.states, objective=OBJECTIVES),
    params:
        objectives=OBJECTIVES,
        # where the models and their subword models are, as the inputs say
        model_dirs=lambda wildcards, input: MODEL_DIRS,
        spm_models=lambda wildcards, input: SUBWORD_MODELS,
        batch_size=SIMILARITY["batch_size"],
        max_length=SIMILARITY["max_length"],
        decoder=SIMILARITY["decoder"],
        min_sentences=SIMILARITY["min_sentences"],
    threads: EVAL["threads"]
    log:
        logpath("cka_states"),
    benchmark:
        benchpath("cka_states")
    conda:
        ENV
    script:
        "../workflow/scripts/cka_states.py"


rule cka:
    input:
        expand(OUT.states, objective=OBJECTIVES),
    output:
        languages=report(
            OUT.cka_languages,
            caption="../workflow/report/cka_data.rst",
            category="Analysis",
            subcategory="Representation similarity",
            labels={"figure": "data (CSV)", "between": "languages", "model": "all"},
        ),
        models=report(
            OUT.cka_models,
            caption="../workflow/report/cka_data.rst",
            category="Analysis",
            subcategory="Representation similarity",
            labels={"figure": "data (CSV)", "between": "models", "model": "all"},
        ),
    params:
        languages=LANGUAGES,
        min_sentences=SIMILARITY["min_sentences"],
    log:
        logpath("cka"),
    benchmark:
        benchpath("cka")
    conda:
        ENV
    script:
        "../workflow/scripts/cka.py"


rule cka_plot:
    input:
        languages=OUT.cka_languages,
        models=OUT.cka_models,
    output:
        *[
            report(
                path,
                caption="../workflow/report/cka_heatmap.rst",
                category="Analysis",
                subcategory="Representation similarity",
                labels=labels,
            )
            for path, labels in OUT.cka_plots(OBJECTIVES)
        ],
    params:
        objectives=OBJECTIVES,
        languages=LANGUAGES,
        dpi=config["tables"]["plot_dpi"],
    log:
        logpath("cka_plot"),
    benchmark:
        benchpath("cka_plot")
    conda:
        ENV
    script:
        "../workflow/scripts/cka_plot.py"


# --- Weight spectra ---------------------------------------------------------------
rule spectra:
    input:
        expand(f"{MODEL_DIR}/{layout.MODEL_CHECKPOINT}", objective=OBJECTIVES),
    output:
        spectra=OUT.spectra,
        differences=OUT.spectra_differences,
    params:
        objectives=OBJECTIVES,
        # where the models are, as the inputs say (so no rerun trigger of its own)
        model_dirs=lambda wildcards, input: MODEL_DIRS,
        pairs=lambda wc: analysis_outputs.spectra_pairs(config),
    threads: EVAL["threads"]
    log:
        logpath("spectra"),
    benchmark:
        benchpath("spectra")
    conda:
        ENV
    script:
        "../workflow/scripts/spectra.py"


rule spectra_table:
    input:
        spectra=OUT.spectra,
        differences=OUT.spectra_differences,
    output:
        tex=OUT.spectra_table("tex"),
        csv=report(
            OUT.spectra_table("csv"),
            caption="../workflow/report/spectra_table.rst",
            category="Analysis",
            subcategory="Weight spectra",
            labels={"figure": "table (CSV)"},
        ),
        md=OUT.spectra_table("md"),
        plot=report(
            OUT.spectra_plot,
            caption="../workflow/report/spectra_plot.rst",
            category="Analysis",
            subcategory="Weight spectra",
            labels={"figure": "norm per layer"},
        ),
    params:
        pairs=lambda wc: analysis_outputs.spectra_pairs(config),
        decimals=config["tables"]["decimals"],
        dpi=config["tables"]["plot_dpi"],
    log:
        logpath("spectra_table"),
    benchmark:
        benchpath("spectra_table")
    conda:
        ENV
    script:
        "../workflow/scripts/spectra_table.py"


FINAL_TARGETS.append(lambda: analysis_outputs.stage_targets(config))
