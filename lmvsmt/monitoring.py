"""Watching a run: TensorBoard event files, Weights & Biases, the starts of a
pretraining run, and the throughput and ETA figures its log and `lmvsmt.status` show.

Nothing here changes what a run computes: event files go to {R}/tensorboard/, never
into a result file, and the keys of the `monitoring` config section are no rerun
trigger. Layout ({R} = results_dir):

  {R}/tensorboard/pretrain/{objective}/run-<fingerprint>/{train_inner,train,valid}/
      fairseq's own event files (--tensorboard-logdir); one directory per training
      run, so a run with other settings does not mix its curve into the old one
  {R}/tensorboard/{mode}/{objective}/{task}/{lang}/seed{N}/
      probing and fine-tuning, one point per epoch: tags {mode}/{task}/{lang}/train_loss,
      .../valid_loss and .../valid_accuracy, so each chart compares the objectives
"""
from __future__ import annotations

import json
import logging
import math
import os
import socket
import time
from pathlib import Path

from lmvsmt.layout import TENSORBOARD

log = logging.getLogger(__name__)

# One line per start of a training run (first start, requeue, resubmission, rerun).
STARTS = "starts.jsonl"


def pretrain_logdir(results, objective: str, run_name: str) -> str:
    return f"{TENSORBOARD.format(results=results)}/pretrain/{objective}/{run_name}"


def eval_logdir(results, mode: str, objective: str, task: str, lang: str, seed: int) -> str:
    return f"{TENSORBOARD.format(results=results)}/{mode}/{objective}/{task}/{lang}/seed{seed}"


# --------------------------------------------------------------------------- pretraining


def fairseq_flags(config: dict, objective: str, save_dir: str) -> list[str]:
    """fairseq-train flags for the curves of a run saving to `save_dir`."""
    mon = config["monitoring"]
    args = []
    if mon["tensorboard"]:
        args += ["--tensorboard-logdir", pretrain_logdir(config["results_dir"], objective, Path(save_dir).name)]
    if mon["wandb_project"]:
        args += ["--wandb-project", mon["wandb_project"]]
    return args


def wandb_environment(config: dict, objective: str, run_dir: Path) -> dict[str, str]:
    """Environment of a training job for Weights & Biases: the run is named after the
    objective and keeps one id across requeues (fairseq only passes the project)."""
    if not config["monitoring"]["wandb_project"]:
        return {}
    return {"WANDB_NAME": objective, "WANDB_RUN_ID": f"{objective}-{Path(run_dir).name}", "WANDB_RESUME": "allow"}


def record_start(run_dir: Path, job_id: str, processes: int) -> None:
    """Note a start of the training in `run_dir` (rank 0, before fairseq starts)."""
    rec = {"time": round(time.time(), 3), "job_id": str(job_id), "host": socket.gethostname(),
           "processes": processes}
    with open(Path(run_dir) / STARTS, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec) + "\n")


def read_starts(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / STARTS
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
    return out


def eta_seconds(update: int, max_update: int, updates_per_s) -> float | None:
    """Training time left at `updates_per_s`."""
    if not isinstance(updates_per_s, (int, float)) or updates_per_s <= 0:
        return None
    return max(max_update - update, 0) / updates_per_s


def format_duration(seconds) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def progress_line(record: dict, max_update: int) -> str:
    """The pretraining log's line at each log interval (from a training-log record)."""
    update, ups, wps = record["update"], record.get("ups"), record.get("wps")
    rate = f"{ups:.2f} updates/s" if isinstance(ups, (int, float)) else "? updates/s"
    tokens = f"{wps:,.0f} tokens/s" if isinstance(wps, (int, float)) else "? tokens/s"
    eta = format_duration(eta_seconds(update, max_update, ups))
    return (f"lmvsmt: update {update:,} of {max_update:,} ({100 * update / max_update:.1f}%): "
            f"{rate}, {tokens}, ETA {eta}")


# --------------------------------------------------------------------------- probing and fine-tuning


class EpochCurves:
    """The `progress` callback of lmvsmt.evaluate.head.fit for one evaluation unit and seed:
    a log line per epoch and, when `logdir` is given, TensorBoard scalars there (the
    directory's old event files, from an earlier run of the same unit, are replaced)."""

    def __init__(self, logdir: str | None, mode: str, objective: str, task: str, lang: str, seed: int,
                 epochs: int):
        self.logdir, self.epochs = logdir, epochs
        self.name = f"{mode} {objective} {task} {lang} seed {seed}"
        self.tag = f"{mode}/{task}/{lang}"
        self.writer = None
        self.started = time.perf_counter()

    def __call__(self, epoch: int, stats: dict) -> None:
        shown = ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in stats.items() if v is not None)
        log.info("%s: epoch %d of at most %d: %s (%s)", self.name, epoch, self.epochs, shown,
                 format_duration(time.perf_counter() - self.started))
        if self.logdir is None:
            return
        if self.writer is None:
            self.writer = _event_writer(self.logdir)
        for key, value in stats.items():
            if value is not None:
                self.writer.add_scalar(f"{self.tag}/{key}", value, epoch)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __enter__(self) -> "EpochCurves":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def epoch_curves(config: dict, mode: str, objective: str, task: str, lang: str, seed: int) -> EpochCurves:
    ev, mon = config["evaluation"], config["monitoring"]
    logdir = eval_logdir(config["results_dir"], mode, objective, task, lang, seed) if mon["tensorboard"] else None
    return EpochCurves(logdir, mode, objective, task, lang, seed, ev[mode]["epochs"])


def _event_writer(logdir: str):
    from tensorboardX import SummaryWriter

    path = Path(logdir)
    for old in path.glob("events.out.tfevents.*"):
        old.unlink()
    path.mkdir(parents=True, exist_ok=True)
    # The pid keeps the names of writers started in the same second apart.
    return SummaryWriter(str(path), filename_suffix=f".{os.getpid()}")
