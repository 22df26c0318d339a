# lmvsmt: language modeling vs. machine translation as multilingual pretraining
# objectives (Li et al., EMNLP 2024). Stages live in rules/*.smk, logic in lmvsmt/.
from snakemake.utils import min_version

min_version("9.0")

# The demo config is the default; `--configfile X` replaces it entirely (it is not
# merged on top), so config/paper.yaml is read exactly as written.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/corpus.smk"
include: "rules/bpe.smk"
include: "rules/pretrain.smk"
include: "rules/external.smk"
include: "rules/downstream.smk"
include: "rules/evaluate.smk"
include: "rules/analysis.smk"
# The tables stage reads every other stage's outputs: keep it the last include.
include: "rules/tables.smk"


rule all:
    default_target: True
    input:
        all_targets,
