"""Launching a pretraining job through submitit, on this machine or on Slurm.

The job is a picklable callable (lmvsmt.pretrain.job.TrainingJob) run once per
process (one process per GPU, or one CPU process). At the time limit (or on
preemption) submitit sends SIGUSR2 `signal_delay_s` seconds early; the job saves a
checkpoint at the next update boundary and hands over to submitit, which requeues
it (Slurm: `scontrol requeue`; local: the controller restarts it). The requeued job
resumes from fairseq's checkpoint_last.pt. submitit counts time-limit requeues
against `max_requeues`.

The submitting side (the Snakemake rule) waits for the job, copies the job's log
into the rule's log as it grows, and fails with one clear message when the job
fails. If a Slurm job dies without requeueing itself (node failure, a kill at the
limit before the checkpoint was written) but made progress, it is resubmitted
(within the same cap). A rerun after the rule itself was interrupted reattaches to
a Slurm job that is still queued or running instead of submitting a second one.
"""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lmvsmt.errors import LmvsmtError
from lmvsmt.io import atomic_write, disk_full_error, read_json

log = logging.getLogger(__name__)

# Written into the run directory by a job that diverged right after resuming and moved
# that checkpoint aside (lmvsmt.pretrain.checkpoints.roll_back): the job is resubmitted.
ROLLBACK = "rollback.json"
# Slurm states in which a job may still produce its result.
_ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
           "SUSPENDED", "RESIZING", "STAGE_OUT", "SIGNALING"}


class LaunchError(LmvsmtError, RuntimeError):
    """A training job failed; the message says why and where its logs are."""


@dataclass(frozen=True)
class Allocation:
    """Processes a training run gets: nodes x processes per node, on GPUs or the CPU."""

    launcher: str
    nodes: int
    procs_per_node: int
    gpu: bool

    @property
    def world_size(self) -> int:
        return self.nodes * self.procs_per_node


def local_gpu_count() -> int:
    """GPUs visible to this machine, counted without importing torch (the Snakefile
    calls this to plan commands): CUDA_VISIBLE_DEVICES, else the NVIDIA driver's list."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    driver = Path("/proc/driver/nvidia/gpus")
    return len(list(driver.iterdir())) if driver.is_dir() else 0


def allocation(pcfg: dict, objective: str) -> Allocation:
    if pcfg["launcher"] == "slurm":
        s = pcfg["slurm"]
        nodes = s["nodes_per_objective"].get(objective, s["nodes"])
        return Allocation("slurm", nodes, max(s["gpus_per_node"], 1), s["gpus_per_node"] > 0)
    gpus = pcfg["local"]["gpus"]
    gpus = local_gpu_count() if gpus == "auto" else gpus
    return Allocation("local", 1, gpus or pcfg["local"]["cpu_processes"], gpus > 0)


def _executor(pcfg: dict, alloc: Allocation, folder: Path, objective: str):
    import submitit

    if alloc.launcher == "local":
        lc = pcfg["local"]
        ex = submitit.LocalExecutor(folder=str(folder), max_num_timeout=lc["max_requeues"])
        ex.update_parameters(timeout_min=lc["time_min"], signal_delay_s=lc["signal_delay_s"],
                             tasks_per_node=alloc.procs_per_node, gpus_per_node=alloc.procs_per_node if alloc.gpu else 0)
        return ex
    s = pcfg["slurm"]
    ex = submitit.SlurmExecutor(folder=str(folder), max_num_timeout=s["max_requeues"])
    params: dict[str, Any] = dict(
        job_name=f"pretrain-{objective}", nodes=alloc.nodes, ntasks_per_node=alloc.procs_per_node,
        cpus_per_task=s["cpus_per_task"], time=s["time_min"], signal_delay_s=s["signal_delay_s"],
        setup=list(s["setup"]), additional_parameters=dict(s["additional_parameters"]),
    )
    if alloc.gpu:
        params["gpus_per_node"] = alloc.procs_per_node
    for key in ("partition", "account", "qos", "constraint"):
        if s[key]:
            params[key] = s[key]
    if s["mem_gb"]:
        params["mem"] = f"{int(s['mem_gb'] * 1024)}M"
    ex.update_parameters(**params)
    return ex


class _LogTail:
    """Copies what the job's processes write (rank 0's stdout and stderr) to our stdout."""

    def __init__(self, paths: list[Path]):
        self.offsets = {p: 0 for p in paths}

    def pump(self) -> None:
        for path, offset in self.offsets.items():
            try:
                with open(path, "rb") as fh:
                    if os.fstat(fh.fileno()).st_size < offset:  # rewritten by a requeued job
                        offset = 0
                    fh.seek(offset)
                    data = fh.read()
            except FileNotFoundError:
                continue
            if data:
                self.offsets[path] = offset + len(data)
                sys.stdout.write(data.decode("utf-8", "replace"))
                sys.stdout.flush()


def _job_record(folder: Path) -> Path:
    return folder / "job.json"


def _slurm_state(job) -> str:
    """Slurm's state of the job now ("CANCELLED by 0" -> "CANCELLED")."""
    return job.watcher.get_state(job.job_id, mode="force").split(" ")[0]


def _reattach(pcfg: dict, alloc: Allocation, folder: Path):
    """The still-active Slurm job of an earlier attempt, if any."""
    record = _job_record(folder)
    if alloc.launcher != "slurm" or not record.exists():
        return None
    import submitit

    info = read_json(record)
    job = submitit.SlurmJob(folder=str(folder), job_id=info["job_id"], tasks=tuple(range(info["tasks"])))
    state = _slurm_state(job)
    if state in _ACTIVE:
        log.info("reattaching to Slurm job %s (state %s) submitted by an earlier run", job.job_id, state)
        return job
    return None


def _checkpoint_mtime(save_dir: Path) -> float:
    try:
        return (save_dir / "checkpoint_last.pt").stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _submit(job_fn: Callable[[], Any], pcfg: dict, objective: str, alloc: Allocation, folder: Path,
            again: bool):
    """The still-active job of an earlier attempt, or a newly submitted one; any failure
    (a full disk, sbatch refusing, Slurm unreachable) is one LaunchError line."""
    try:
        job = _reattach(pcfg, alloc, folder)
        if job is None:
            job = _executor(pcfg, alloc, folder, objective).submit(job_fn)
            with atomic_write(_job_record(folder)) as fh:
                json.dump({"job_id": job.job_id, "tasks": alloc.world_size}, fh)
            log.info("submitted %s job %s (%d node(s) x %d %s process(es))", alloc.launcher, job.job_id,
                     alloc.nodes, alloc.procs_per_node, "GPU" if alloc.gpu else "CPU")
        return job
    except Exception as exc:  # noqa: BLE001 (every cause ends in one line)
        cause = disk_full_error(folder, exc) or exc
        lines = [ln.strip() for ln in str(cause).splitlines() if ln.strip()]
        raise LaunchError(f"pretraining {objective}: cannot {'resubmit' if again else 'submit'} the "
                          f"{alloc.launcher} job: {lines[0] if lines else type(exc).__name__}. Checkpoints are kept "
                          f"in {folder.parent}; rerunning resumes from the last one.") from exc


def _rolled_back(save_dir: Path, job) -> bool:
    """Whether `job` diverged right after resuming and moved that checkpoint aside
    (lmvsmt.pretrain.checkpoints.roll_back), so that a new job resumes from the one before."""
    try:
        return str(read_json(save_dir / ROLLBACK).get("job_id")) == str(job.job_id)
    except (OSError, ValueError, AttributeError):
        return False


def run(job_fn: Callable[[], Any], pcfg: dict, objective: str, alloc: Allocation, folder: Path,
        save_dir: Path) -> Any:
    """Run `job_fn` with the configured launcher, wait for it and return rank 0's result."""
    folder.mkdir(parents=True, exist_ok=True)
    cap = pcfg[alloc.launcher]["max_requeues"]
    poll = pcfg["slurm"]["poll_interval_s"] if alloc.launcher == "slurm" else 0.2
    resubmits = 0
    while True:
        job = _submit(job_fn, pcfg, objective, alloc, folder, again=resubmits > 0)
        started = _checkpoint_mtime(save_dir)
        first = job.task(0)
        tail = _LogTail([first.paths.stdout, first.paths.stderr])
        try:
            with _cancel_local_on_interrupt(job, alloc):
                while not job.done(force_check=alloc.launcher == "slurm"):
                    tail.pump()
                    time.sleep(poll)
            tail.pump()
            result = job.results()[0]
            if alloc.launcher == "slurm":
                _await_end(job, pcfg["slurm"])
            return result
        except (KeyboardInterrupt, _Terminated):
            if alloc.launcher == "slurm":
                log.warning("interrupted: Slurm job %s keeps running; rerun to reattach, `scancel %s` to stop it",
                            job.job_id, job.job_id)
            raise
        except Exception as exc:  # submitit's UncompletedJobError / FailedJobError
            from submitit.core.utils import UncompletedJobError

            tail.pump()
            reason = _reason(exc)
            # A job killed from outside (no result written) that saved progress is worth
            # another go; an exception inside the job, or the requeue cap, is final.
            killed = type(exc) is UncompletedJobError and "timed-out too many times" not in str(exc)
            if killed and _checkpoint_mtime(save_dir) > started and resubmits < cap:
                resubmits += 1
                log.warning("job %s ended without finishing (%s) after saving progress: resubmitting (%d/%d)",
                            job.job_id, reason, resubmits, cap)
                continue
            if _rolled_back(save_dir, job) and resubmits < cap:
                resubmits += 1
                log.warning("job %s: %s: resubmitting (%d/%d)", job.job_id, reason, resubmits, cap)
                continue
            raise LaunchError(
                f"pretraining {objective} failed in {alloc.launcher} job {job.job_id}: {reason}. "
                f"Job logs: {first.paths.stdout} and {first.paths.stderr}. "
                f"Checkpoints are kept in {save_dir}; rerunning resumes from the last one."
            ) from None


def _await_end(job, scfg: dict) -> None:
    """Wait until Slurm reports the job ended: its result file is written before the
    job's processes exit, and the rule should not end (and the next GPU job start)
    while the job still holds its nodes, nor leave its accounting unfinished."""
    deadline = time.time() + scfg["end_wait_s"]
    while True:
        state = _slurm_state(job)
        if state not in _ACTIVE:
            break
        if time.time() >= deadline:
            log.warning("Slurm job %s wrote its result but is still %s after %s s; not waiting longer",
                        job.job_id, state, scfg["end_wait_s"])
            return
        time.sleep(min(scfg["poll_interval_s"], 5))
    if state != "COMPLETED":
        log.warning("Slurm job %s wrote its result, then ended in state %s (see its logs: %s)",
                    job.job_id, state, job.task(0).paths.stderr)


# The last line of a Python traceback ("pkg.mod.SomeError: message"), and the lines by
# which Slurm or the kernel say why a process died.
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt)(?::\s.*)?$")
_DEATH_LINE = re.compile(r"slurmstepd: error:|oom-kill|Out Of Memory|^Killed\b|CANCELLED|DUE TO TIME LIMIT", re.I)
_HEADERS = ("Error stream produced:", "No error stream produced", "No output/error stream produced")


def _reason(exc: Exception) -> str:
    """The job's own error line from a submitit job error: the exception that ended the
    job (last line of its traceback), else the last line of its error stream by which
    Slurm or the kernel killed it, else the job's state."""
    text = str(exc)
    if "timed-out too many times" in text:
        return "it reached the time limit more often than max_requeues allows"
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not set(ln) <= {"-"} and not ln.startswith(_HEADERS)
             and not ln.startswith("You can check full logs") and not ln.startswith("- ")]
    found = [ln for ln in lines if _EXCEPTION_LINE.match(ln)] or [ln for ln in lines if _DEATH_LINE.search(ln)]
    if found:
        return _strip_module(found[-1])[:500]
    state = re.search(r"has not produced any output \(state: ([^)]*)\)", text)
    if state:
        return f"the job ended without a result (state {state.group(1)}; killed from outside?)"
    return (lines[0] if lines else type(exc).__name__)[:500]


def _strip_module(line: str) -> str:
    """'lmvsmt.pretrain.plan.PretrainError: x' -> 'PretrainError: x'."""
    head, sep, rest = line.partition(":")
    return head.rsplit(".", 1)[-1] + sep + rest if _EXCEPTION_LINE.match(line) else line


class _Terminated(LmvsmtError):
    """SIGTERM on the submitting side (Snakemake stopping the rule)."""


class _cancel_local_on_interrupt:
    """Stop a local job when the rule is stopped (Ctrl-C, SIGTERM): it would otherwise
    keep training beside a rerun. Slurm jobs are left alone (a rerun reattaches)."""

    def __init__(self, job, alloc: Allocation):
        self.job, self.alloc, self.previous = job, alloc, None

    def __enter__(self):
        if _in_main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise _Terminated()

    def __exit__(self, exc_type, exc, tb):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        if exc_type is not None and self.alloc.launcher == "local" and not self.job.done():
            self.job.cancel(check=False)
            deadline = time.time() + 30
            while not self.job.done() and time.time() < deadline:
                time.sleep(0.2)
        return False


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
