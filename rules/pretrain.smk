# Pretraining of the five objectives with fairseq (issue 5). Logic: lmvsmt/objectives.py
# (commands), lmvsmt/launch.py (submitit: local or Slurm, requeue), lmvsmt/pretrain.py.
# Checkpoints live in {RESULTS}/work/pretrain/{objective}/, which Snakemake never
# deletes: a rerun after any interruption continues from the last checkpoint.
import sys

from lmvsmt import binarize as lmvsmt_binarize
from lmvsmt import config as lmvsmt_config_errors
from lmvsmt import launch as lmvsmt_launch
from lmvsmt import objectives as lmvsmt_objectives

PRETRAIN = config["pretrain"]
PRETRAIN_OUT = f"{RESULTS}/pretrain/{{objective}}"
PRETRAIN_WORK = f"{RESULTS}/work/pretrain"


def pretrain_data_dir(objective):
    return f"{RESULTS}/data-bin/{lmvsmt_objectives.DATASET[objective]}"


def pretrain_planned_commands():
    """The command each objective will run with the configured launcher (shown by
    `snakemake -n`); the job recomputes it for the processes it actually gets."""
    commands = {}
    for objective in OBJECTIVES:
        alloc = lmvsmt_launch.allocation(PRETRAIN, objective)
        commands[objective] = lmvsmt_objectives.PlannedCommand(lmvsmt_objectives.build(
            objective,
            config,
            pretrain_data_dir(objective),
            f"{PRETRAIN_WORK}/{objective}/run-<fingerprint>",
            alloc.world_size,
            alloc.gpu,
        ).shell())
    return commands


try:
    PRETRAIN_COMMANDS = pretrain_planned_commands()
except lmvsmt_config_errors.ConfigError as exc:
    sys.exit(str(exc))  # one line, before any job runs


def pretrain_inputs(wildcards):
    dataset = lmvsmt_objectives.DATASET[wildcards.objective]
    return [
        f"{RESULTS}/data-bin/{dataset}/{name}"
        for name in lmvsmt_binarize.output_names(dataset, LANGUAGES)
        if not name.startswith("test.")
    ]


def pretrain_settings(wildcards):
    # Everything the trained model depends on: a change reruns the rule (and trains
    # in a fresh run directory); launcher settings are deliberately left out.
    return lmvsmt_objectives.training_settings(config, wildcards.objective)


# With launcher slurm the rule only submits and waits (submitit puts the GPU job on
# Slurm), so under `snakemake --profile slurm` it runs on the submit host.
if PRETRAIN["launcher"] == "slurm":

    localrules:
        pretrain,


rule pretrain:
    input:
        pretrain_inputs,
    output:
        model=f"{PRETRAIN_OUT}/checkpoint_best.pt",
        dict=f"{PRETRAIN_OUT}/dict.txt",
        command=f"{PRETRAIN_OUT}/command.txt",
        config=f"{PRETRAIN_OUT}/config.yaml",
        log=f"{PRETRAIN_OUT}/train_log.jsonl",
        plot=f"{PRETRAIN_OUT}/loss.png",
    params:
        settings=pretrain_settings,
        data_dir=lambda wc: pretrain_data_dir(wc.objective),
        work_dir=lambda wc: f"{PRETRAIN_WORK}/{wc.objective}",
        command=lambda wc: PRETRAIN_COMMANDS[wc.objective],
    message:
        "pretrain {wildcards.objective}: {params.command}"
    threads: PRETRAIN["threads"] if PRETRAIN["launcher"] == "local" else 1
    log:
        logpath("pretrain", "{objective}"),
    benchmark:
        benchpath("pretrain", "{objective}")
    conda:
        ENV
    script:
        "../workflow/scripts/pretrain.py"


FINAL_TARGETS.append(
    lambda: expand(
        f"{PRETRAIN_OUT}/{{name}}",
        objective=OBJECTIVES,
        name=["checkpoint_best.pt", "dict.txt", "command.txt", "config.yaml", "train_log.jsonl", "loss.png"],
    )
)
