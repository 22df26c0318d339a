"""What runs in every process of a pretraining job (`TrainingJob`, submitted by
lmvsmt.pretrain.launch): the `auto` settings chosen (lmvsmt.pretrain.autotune), the
rendezvous of a distributed run, fairseq-train in this process with lmvsmt's hooks
(lmvsmt.fairseq_compat), a stop at an update boundary on the time-limit signal, the lock
on the run directory, and the export once training is done. torch, fairseq and submitit
are imported in the job, not by the rule's process."""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import shlex
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmvsmt import fairseq_compat, integrity, monitoring
from lmvsmt.io import DiskFullError, atomic_write, disk_full_error
from lmvsmt.pretrain import autotune, objectives
from lmvsmt.pretrain.checkpoints import DIVERGENCE_WINDOW, LAST, Diverged, choose_resume_point, finish_run, roll_back
from lmvsmt.pretrain.plan import LOCK, RAW_LOG, PretrainError

log = logging.getLogger(__name__)


class _StopRequest:
    """Turns the time-limit/preemption signal into a stop at the next update boundary
    (a checkpoint written mid-update would be inconsistent); the previous handler
    (submitit's checkpoint-and-requeue) runs once the checkpoint is saved."""

    def __init__(self, signum: int = signal.SIGUSR2):
        self.signum, self.requested, self.previous = signum, False, None

    def install(self) -> "_StopRequest":
        with contextlib.suppress(ValueError):  # not the main thread: no signal handling
            self.previous = signal.signal(self.signum, self._handler)
        return self

    def _handler(self, signum, frame) -> None:
        self.requested = True
        print(f"lmvsmt: got signal {signal.Signals(signum).name}: saving a checkpoint at the next update",
              flush=True)

    def release(self) -> None:
        """Ignore the signal from now on: the training is over, there is nothing to
        checkpoint, and a Python handler is reset to the default (terminate) while the
        interpreter exits, so a signal then would mark a finished Slurm job FAILED."""
        with contextlib.suppress(ValueError):
            signal.signal(self.signum, signal.SIG_IGN)

    def hand_over(self) -> None:
        if callable(self.previous):
            self.previous(self.signum, None)  # submitit: checkpoint(), requeue, exit
        raise SystemExit(f"lmvsmt: stopped on {signal.Signals(self.signum).name} after saving a checkpoint")


def _number(value):
    try:
        return round(float(value), 6)
    except (TypeError, ValueError):
        return value


def _train_record(stats: dict) -> dict:
    rec = {"update": int(float(stats["num_updates"])), "train_loss": _number(stats["loss"]),
           "time": round(time.time(), 3)}
    for key in ("nll_loss", "ppl", "lr", "gnorm", "wps", "ups", "wpb", "bsz", "wall", "gb_free"):
        if key in stats:
            rec[key] = _number(stats[key])
    return rec


def _valid_record(stats: dict, step) -> dict:
    rec = {"update": int(step if step is not None else float(stats["num_updates"])),
           "valid_loss": _number(stats["loss"])}
    for key in ("nll_loss", "ppl", "best_loss"):
        if key in stats:
            rec[f"valid_{key}"] = _number(stats[key])
    return rec


def run_fairseq(argv: list[str], stop: _StopRequest | None = None, raw_log: Path | None = None) -> dict:
    """Run `fairseq-train <argv[1:]>` in this process with three hooks: a stop request
    saves a checkpoint and ends training at an update boundary, the resume point is
    logged, and every training/validation log line is appended to `raw_log` (JSON)."""
    fairseq_compat.prepare()
    fairseq_compat.check_argv(argv)
    if objectives.unresolved(argv):
        raise PretrainError(f"the command still leaves {', '.join(objectives.unresolved(argv))} to the job")
    if "--user-dir" in argv:
        fairseq_compat.import_user_dir(argv[argv.index("--user-dir") + 1])
    cfg = fairseq_compat.parse_train_args(argv)
    state: dict[str, Any] = {"start_update": None, "last_update": 0, "stopped": False}
    live: dict[str, Any] = {}  # the trainer (not part of the returned, pickled state)

    def after_validate(cfg_, trainer, epoch_itr, valid_losses, should_stop) -> bool:
        state["last_update"] = trainer.get_num_updates()
        if "parameters" not in state:
            state["parameters"] = sum(p.numel() for p in trainer.model.parameters())
        # Every rank must stop at the same update, or the next all-reduce hangs.
        if not should_stop and fairseq_compat.any_rank(trainer, bool(stop is not None and stop.requested)):
            interval = cfg_.checkpoint.save_interval_updates
            if not (interval and state["last_update"] % interval == 0):  # else just saved
                fairseq_compat.save_checkpoint(cfg_, trainer, epoch_itr, valid_losses[0])
            state["stopped"] = should_stop = True
            print(f"lmvsmt: stopping at update {state['last_update']} for a requeue "
                  "(checkpoint_last.pt holds it)", flush=True)
        return should_stop

    def after_load(cfg_, trainer) -> None:
        live["trainer"] = trainer
        state["start_update"] = n = trainer.get_num_updates()
        if n:
            print(f"lmvsmt: resuming from {cfg_.save_dir}/checkpoint_last.pt at update {n}", flush=True)
        else:
            print(f"lmvsmt: no checkpoint in {cfg_.save_dir}: training from scratch", flush=True)

    def write(record: dict) -> None:
        if raw_log is not None and fairseq_compat.global_rank() == 0:
            with open(raw_log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")

    def train_log(stats) -> None:
        if "loss" in stats and "num_updates" in stats:
            record = _train_record(stats)
            write(record)
            if fairseq_compat.global_rank() == 0:
                print(monitoring.progress_line(record, cfg.optimization.max_update), flush=True)
            if _nonfinite(stats["loss"]):
                raise FloatingPointError(f"training loss {stats['loss']}")

    def valid_log(stats, tag, step) -> None:
        if tag and tag != "train" and "loss" in stats:
            write(_valid_record(stats, step))

    # Rank 0 chooses the resume point before it joins the other ranks' rendezvous, so
    # none of them reads checkpoint_last.pt before the choice is made. Only rank 0 can
    # tell a divergence right after the resume (and roll back).
    save_dir = Path(cfg.checkpoint.save_dir)
    resume = choose_resume_point(save_dir) if fairseq_compat.global_rank() == 0 else None
    resumed = (integrity.member_digest(resume), resume.stat().st_mtime) if resume is not None else None
    fairseq_compat.allow_empty_splits()
    fairseq_compat.reset_process_state()
    earlier_loaders = fairseq_compat.data_loader_iterators()
    try:
        fairseq_compat.train(cfg, fairseq_compat.TrainHooks(after_validate=after_validate, after_load=after_load,
                                                             train_log=train_log, valid_log=valid_log))
    except FloatingPointError as exc:
        trainer, start = live.get("trainer"), state["start_update"]
        update = trainer.get_num_updates() + 1 if trainer is not None else 0
        saved_since = resumed is None or not (save_dir / LAST).exists() or \
            (save_dir / LAST).stat().st_mtime != resumed[1]
        if start and update - start <= DIVERGENCE_WINDOW and not saved_since:
            raise Diverged(start, update, str(exc).splitlines()[0], resumed[0]) from exc
        raise
    except Exception as exc:
        full = _disk_full(save_dir, exc)
        if full is not None:
            raise full from exc
        raise
    finally:
        fairseq_compat.shut_down_data_loaders(keep=earlier_loaders)
        del earlier_loaders
    return state


def _nonfinite(value) -> bool:
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _disk_full(save_dir: Path, exc: BaseException) -> DiskFullError | None:
    """A checkpoint save that failed on a full disk, named by the file fairseq was writing;
    its partial file is removed (the space is needed to log the error)."""
    partials = sorted(Path(save_dir).glob("*.tmp"), key=lambda p: p.stat().st_mtime)
    target = partials[-1].with_suffix("") if partials else Path(save_dir)
    full = disk_full_error(target, exc, partial=partials[-1] if partials else None)
    if full is not None:
        for partial in partials:
            partial.unlink(missing_ok=True)
    return full


class RunLock:
    """One training per run directory at a time (a killed rule's orphan, a second
    Snakemake): the holder's pid and host are in the lock file."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self.fh = None

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "unknown process"
            self.fh.close()
            raise PretrainError(f"another training is running in {self.path.parent} ({holder}); "
                                "wait for it or stop it, then rerun") from None
        except OSError as exc:  # e.g. no lock support on a network file system
            log.warning("cannot lock %s (%s); continuing without a lock", self.path, exc)
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        self.fh.flush()
        return self

    def __exit__(self, *exc) -> None:
        if self.fh is not None:
            self.fh.close()


def resolve_auto(argv: list[str], run_dir: Path, global_batch: int, processes: int, headroom: float,
                 rank: int = 0, processes_on_node: int = 1, make_probe=None) -> tuple[list[str], dict | None]:
    """`argv` with what it leaves to the job chosen (lmvsmt.pretrain.autotune): loader workers
    by each process, batch and precision once per run (rank 0; other ranks wait for its
    resolved.json). Returns (argv, the run's choices or None)."""
    needs = objectives.unresolved(argv)
    workers = None
    if "--num-workers" in needs:
        workers, why = autotune.loader_workers(processes_on_node)
        if rank == 0:
            print(f"lmvsmt: {workers} data-loader worker(s) per process (num_workers auto: {why})", flush=True)
    record = None
    if {"--batch-size", "precision"} & set(needs):
        if rank == 0:
            kwargs = {"make_probe": make_probe} if make_probe else {}
            record = autotune.choose(argv, run_dir, global_batch, processes, headroom, **kwargs)
        else:
            record = autotune.wait(run_dir, processes)
        record = record or {}
    argv = objectives.fill(argv, batch_size=(record or {}).get("batch_size"),
                           update_freq=(record or {}).get("update_freq"), num_workers=workers,
                           precision=(record or {}).get("precision"))
    return argv, record


@dataclass
class TrainingJob:
    """What runs in every process of the submitit job (one per GPU, or one CPU process).
    `global_batch` and `headroom` serve `batch_size: auto` (lmvsmt.pretrain.autotune)."""

    argv: list
    run_dir: str
    threads: int = 1
    global_batch: int = 0
    headroom: float = 0.1

    def __call__(self) -> dict:
        stop = _StopRequest().install()  # first: a signal during start-up still stops cleanly
        import submitit
        import torch

        env = submitit.JobEnvironment()
        rank, world = env.global_rank, env.num_tasks
        print(f"lmvsmt: process {rank}/{world} on {socket.gethostname()} ({env})", flush=True)
        argv = list(self.argv)
        gpu = "--cpu" not in argv
        if gpu and not torch.cuda.is_available():
            raise PretrainError(f"this job was planned for GPUs but torch sees none on {socket.gethostname()} "
                                f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})")
        run_dir = Path(self.run_dir)
        if objectives.unresolved(argv):
            if gpu:
                dist_env = submitit.helpers.TorchDistributedEnvironment() if world > 1 else None
                torch.cuda.set_device(dist_env.local_rank % torch.cuda.device_count() if dist_env else 0)
            argv, _ = resolve_auto(argv, run_dir, self.global_batch, world, self.headroom, rank,
                                   max(world // env.num_nodes, 1))
            if rank == 0:
                with atomic_write(run_dir / "command.txt") as fh:
                    fh.write(shlex.join(argv) + "\n")
        if world > 1:
            # Explicit rendezvous: fairseq's own env:// inference assumes CUDA. A process
            # sees all GPUs of its node, or only its own if Slurm binds them per task.
            dist = submitit.helpers.TorchDistributedEnvironment()
            host = "127.0.0.1" if env.num_nodes == 1 else dist.master_addr
            device = dist.local_rank % torch.cuda.device_count() if gpu else 0
            argv += ["--distributed-init-method", f"tcp://{host}:{dist.master_port}", "--distributed-rank",
                     str(dist.rank), "--device-id", str(device), "--distributed-no-spawn"]
        torch.set_num_threads(self.threads)
        lock = RunLock(run_dir) if rank == 0 else contextlib.nullcontext()
        with lock:
            if rank == 0:
                monitoring.record_start(run_dir, env.job_id, world)
            try:
                state = run_fairseq(argv, stop, run_dir / RAW_LOG)
            except Diverged as diverged:  # rank 0 only
                raise PretrainError(roll_back(run_dir, diverged, str(env.job_id))) from None
        if state["stopped"]:
            if rank == 0:
                stop.hand_over()
            raise SystemExit(0)  # the other ranks end with rank 0's requeue
        stop.release()
        if rank == 0:
            finish_run(run_dir, state)
        return state

    def checkpoint(self, *args, **kwargs):
        """submitit calls this at the time limit: requeue the same job (fairseq itself
        resumes from checkpoint_last.pt)."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)
