# Pretraining of the five objectives with fairseq (issue 5). Logic: lmvsmt/pretrain/objectives.py
# (commands), lmvsmt/pretrain/launch.py (submitit: local or Slurm, requeue), lmvsmt/pretrain/ (plan, job,
# checkpoints, training).
# Checkpoints live in {RESULTS}/work/pretrain/{objective}/, which Snakemake never
# deletes: a rerun after any interruption continues from the last checkpoint.
import sys

from lmvsmt import config as lmvsmt_config_errors
from lmvsmt.pretrain import cost as lmvsmt_cost
from lmvsmt.pretrain import objectives as lmvsmt_objectives
from lmvsmt.pretrain import plan as lmvsmt_pretrain_plan

PRETRAIN = config["pretrain"]
PRETRAIN_OUT = layout.fill(layout.MODEL, results=RESULTS)
PRETRAIN_WORK = layout.fill(layout.PRETRAIN_WORK, results=RESULTS)

try:
    # Only objectives without an external model (pretrain.external) are trained.
    PRETRAIN_COMMANDS = lmvsmt_pretrain_plan.planned_commands({**config, "objectives": TRAINED}, PRETRAIN_WORK)
except lmvsmt_config_errors.ConfigError as exc:
    sys.exit(str(exc))  # one line, before any job runs

# With launcher slurm the rule only submits and waits (submitit puts the GPU job on
# Slurm), so under `snakemake --profile slurm` it runs on the submit host.
if PRETRAIN["launcher"] == "slurm":

    localrules:
        pretrain,


rule pretrain:
    input:
        lambda wc: lmvsmt_pretrain_plan.input_files(RESULTS, wc.objective, LANGUAGES),
    wildcard_constraints:
        objective=one_of(TRAINED),
    output:
        **lmvsmt_pretrain_plan.named_outputs(PRETRAIN_OUT),
    params:
        # What the trained model depends on: a change reruns the rule (training in a
        # fresh run directory). Launcher settings are left out on purpose.
        settings=lambda wc: lmvsmt_objectives.training_settings(config, wc.objective),
        data_dir=lambda wc: lmvsmt_pretrain_plan.data_dir_of(RESULTS, wc.objective),
        work_dir=lambda wc: f"{PRETRAIN_WORK}/{wc.objective}",
        # Display only (see lmvsmt.pretrain.objectives.PlannedCommand): not rerun triggers.
        command=lambda wc: PRETRAIN_COMMANDS[wc.objective],
        cost=lambda wc: lmvsmt_objectives.PlannedCommand(
            lmvsmt_cost.describe(
                lmvsmt_cost.estimate(wc.objective, config, lmvsmt_pretrain_plan.data_dir_of(RESULTS, wc.objective))
            )
        ),
    message:
        "pretrain {wildcards.objective} ({params.cost}): {params.command}"
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
    lambda: [f for o in TRAINED for f in lmvsmt_pretrain_plan.output_files(RESULTS, o)]
)
