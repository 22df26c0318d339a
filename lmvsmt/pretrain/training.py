"""Pretraining as the rule runs it (rules/pretrain.smk): train an objective, or continue
its interrupted run, through the launcher (lmvsmt.pretrain.launch: local or Slurm), and
write the rule's outputs from the finished run (lmvsmt.pretrain.plan has the layout).

`load_model(objective, model_dir)` gives evaluation a torch module with `.dictionary`,
`.hidden_size` and `.encode(tokens, lang)` (lmvsmt.pretrain.models). torch and fairseq are
imported where they are used: the rule's own process only plans, waits and copies.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import yaml

from lmvsmt import integrity, monitoring
from lmvsmt.io import atomic_path, atomic_write, copy_file, move_aside
from lmvsmt.pretrain import autotune, launch
from lmvsmt.pretrain.checkpoints import BEST, export_checkpoint
from lmvsmt.pretrain.job import RunLock, TrainingJob
from lmvsmt.pretrain.plan import (DONE, FINAL, RAW_LOG, PretrainError, check_dictionary, dictionary_file, fingerprint,
                                  plan, read_train_log)

log = logging.getLogger(__name__)


def plot_loss(records: list[dict], objective: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, style in (("train_loss", "-"), ("valid_loss", "o-")):
        points = [(r["update"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
        if points:
            ax.plot(*zip(*points), style, label=key.replace("_", " "), markersize=3)
    ax.set_xlabel("updates")
    ax.set_ylabel("loss (bits per token)")
    ax.set_title(f"{objective} pretraining")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def pretrain(objective: str, config: dict, data_dir, work_root, outputs: dict, threads: int | None = None) -> None:
    """Train `objective` (or continue its interrupted run) and write `outputs`:
    model, dict, command, config, log, plot (paths). `threads`: CPU threads per
    training process (default pretrain.threads)."""
    pcfg = config["pretrain"]
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise PretrainError(f"{objective}: no binarized data directory {data_dir}")
    check_dictionary(dictionary_file(objective, data_dir, config["languages"]), config["languages"])
    run_dir = Path(work_root) / f"run-{fingerprint(config, objective, data_dir)}"
    run_dir.mkdir(parents=True, exist_ok=True)
    alloc = launch.allocation(pcfg, objective)
    command = plan(objective, config, data_dir, run_dir.resolve(), alloc, check_data=True)
    for note in command.notes:
        log.warning("%s: %s", objective, note)
    print(f"lmvsmt: {objective} run directory {run_dir}\nlmvsmt: {command.shell()}", flush=True)
    done = run_dir / DONE
    final = run_dir / FINAL / BEST
    if done.exists() and final.exists() and integrity.archive_problem(final) is not None:
        print(f"lmvsmt: {final} is damaged: moved aside to {move_aside(final).name}; exporting it again", flush=True)
        export_checkpoint(run_dir)
    if done.exists() and final.exists():
        print(f"lmvsmt: {objective} already trained in {run_dir}: exporting it", flush=True)
    else:
        if alloc.launcher == "local":
            with RunLock(run_dir):  # fail now, not in the job, when an orphan still trains here
                pass
        with atomic_write(run_dir / "command.txt") as fh:
            fh.write(command.shell() + "\n")
        job = TrainingJob(command.argv, str(run_dir.resolve()), threads or pcfg["threads"], command.global_batch,
                          pcfg["batch_headroom"])
        os.environ.update(monitoring.wandb_environment(config, objective, run_dir))  # the job inherits it
        launch.run(job, pcfg, objective, alloc, run_dir / "submitit", run_dir)
        if not done.exists():
            raise PretrainError(f"{objective}: the job ended without finishing training; see the log above")
    export_outputs(objective, config, data_dir, run_dir, outputs)
    print(f"lmvsmt: {objective} done: {json.loads(done.read_text())}", flush=True)


def export_outputs(objective: str, config: dict, data_dir: Path, run_dir: Path, outputs: dict) -> None:
    """The rule's outputs from a finished run directory."""
    records = read_train_log(run_dir / RAW_LOG)
    copy_file(run_dir / FINAL / BEST, Path(outputs["model"]))
    copy_file(dictionary_file(objective, data_dir, config["languages"]), Path(outputs["dict"]))
    copy_file(run_dir / "command.txt", Path(outputs["command"]))
    write_run_config(config, objective, autotune.read(run_dir), Path(outputs["config"]))
    with atomic_write(outputs["log"]) as fh:
        fh.writelines(json.dumps(r) + "\n" for r in records)
    plot_loss(records, objective, Path(outputs["plot"]))


def write_run_config(config: dict, objective: str, chosen: dict | None, path: Path) -> None:
    """The config a run used, with the values its first job chose for `auto` in place
    and the reasons (and update_freq, which is no config key) in a header comment."""
    used = json.loads(json.dumps(config))
    header = ""
    if chosen:
        if "batch_size" in chosen:
            used["pretrain"]["objectives"][objective]["batch_size"] = chosen["batch_size"]
        if "precision" in chosen:
            used["pretrain"]["precision"] = chosen["precision"]
        header = "".join(f"# {line}\n" for line in
                         [f"{objective}: chosen by the training job ({autotune.RESOLVED}):",
                          *autotune.describe(chosen).split("; ")])
    with atomic_write(path) as fh:
        fh.write(header)
        yaml.safe_dump(used, fh, sort_keys=False, allow_unicode=True)


def load_model(objective: str, model_dir):
    """The pretrained model of `objective` in `model_dir` (checkpoint_best.pt + dict.txt)
    as a torch module in eval mode with `.dictionary`, `.hidden_size` and
    `.encode(tokens, lang)`: see lmvsmt.pretrain.models.PretrainedModel."""
    from lmvsmt.pretrain import models

    return models.load_model(objective, model_dir)
