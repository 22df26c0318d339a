"""What a pretraining job chooses on the hardware it lands on (the `auto` settings).

  batch_size auto   the largest per-GPU batch that fits in memory: a short trial runs
                    training steps on the longest samples of the training set, at
                    batch sizes that divide global_batch / processes (a binary search),
                    and keeps the largest whose peak memory stays under
                    (1 - batch_headroom) of what the GPU has; update_freq follows.
  precision auto    bf16 where the GPU computes in it natively (compute capability 8+),
                    fp16 otherwise.
  num_workers auto  data-loader workers: the CPUs of the process minus one.

The batch and the precision change what is trained, so a run chooses them once: its
first job writes them, with the reason, to <run_dir>/resolved.json, and every later
job of the run (a requeue, a resume) reads them from there: no second trial, the same
batches in the same order. Other processes of a multi-GPU job wait for rank 0's file.
Workers change only the speed and are chosen by each job.

`search` takes the memory probe as a function, so the choice is testable without a GPU.
"""
from __future__ import annotations

import gc
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from lmvsmt.errors import LmvsmtError
from lmvsmt.pretrain import objectives
from lmvsmt.io import atomic_write

RESOLVED = "resolved.json"
GIB = 1024 ** 3


class AutotuneError(LmvsmtError, RuntimeError):
    """No batch fits, or the run's choices cannot be read; the message says why."""


class OutOfMemory(LmvsmtError):
    """A probe ran out of GPU memory."""


@dataclass
class Trial:
    batch: int
    peak_bytes: int | None  # None: out of memory
    fits: bool


def candidates(global_batch: int, processes: int) -> list[int]:
    """Per-process batch sizes that make global_batch exactly: the divisors of
    global_batch / processes, ascending."""
    if global_batch % processes:
        raise AutotuneError(f"global_batch {global_batch} is not a multiple of the {processes} processes")
    per_process = global_batch // processes
    return [d for d in range(1, per_process + 1) if per_process % d == 0]


def search(sizes: list[int], probe: Callable[[int], int], capacity_bytes: int, headroom: float
           ) -> tuple[int, list[Trial], str]:
    """The largest of `sizes` (ascending) whose probe (peak bytes, or OutOfMemory) stays
    within (1 - headroom) x capacity, by binary search (memory grows with the batch).
    Returns (batch, trials in the order run, reason)."""
    limit = (1 - headroom) * capacity_bytes
    trials: list[Trial] = []
    lo, hi = -1, len(sizes)  # sizes[lo] fits, sizes[hi] does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            peak = int(probe(sizes[mid]))
            trials.append(Trial(sizes[mid], peak, peak <= limit))
        except OutOfMemory:
            trials.append(Trial(sizes[mid], None, False))
        if trials[-1].fits:
            lo = mid
        else:
            hi = mid
    budget = f"{(1 - headroom) * 100:.0f}% of the GPU's {capacity_bytes / GIB:.1f} GiB"
    if lo < 0:
        raise AutotuneError(f"batch_size auto: even {sizes[0]} sequence(s) of the longest do not fit in {budget}")
    best = next(t for t in trials if t.batch == sizes[lo])
    reason = (f"largest divisor of {sizes[-1]} whose training step on the longest samples peaked within "
              f"{budget}: {best.batch} ({best.peak_bytes / GIB:.1f} GiB)")
    if hi < len(sizes):
        over = next(t for t in trials if t.batch == sizes[hi])
        reason += (f"; {over.batch} " + ("ran out of memory" if over.peak_bytes is None else
                                         f"peaked at {over.peak_bytes / GIB:.1f} GiB"))
    else:
        reason += " (the whole global batch per process: update_freq 1)"
    return sizes[lo], trials, reason


def best_precision() -> tuple[str, str]:
    """(bf16 or fp16, why) for this process's GPU."""
    import torch

    name = torch.cuda.get_device_name()
    major, minor = torch.cuda.get_device_capability()
    if major >= 8:
        return "bf16", f"{name} (compute capability {major}.{minor}) computes in bf16"
    return "fp16", f"{name} (compute capability {major}.{minor}) has no native bf16"


def loader_workers(processes_on_node: int = 1) -> tuple[int, str]:
    """(data-loader workers, why): the CPUs this process has, minus one for itself."""
    slurm = os.environ.get("SLURM_CPUS_PER_TASK")
    if slurm and slurm.isdigit():
        cpus, origin = int(slurm), "SLURM_CPUS_PER_TASK"
    else:
        usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        cpus = max(usable // max(processes_on_node, 1), 1)
        origin = f"{usable} CPUs for {processes_on_node} training process(es)"
    return max(cpus - 1, 0), f"{cpus} CPUs per process ({origin}), minus one"


def _set_flag(argv: list[str], flag: str, value: str) -> list[str]:
    out = list(argv)
    out[out.index(flag) + 1] = value
    return out


class FairseqTrial:
    """The memory probe of `batch_size auto` on this process's GPU: builds the task,
    model, criterion and trainer of a fairseq command once; `probe(b)` runs one training
    step (forward, backward, optimizer) on the b longest training samples and returns
    the peak memory reserved by torch. (With --cpu, for tests: the process's peak RSS.)"""

    def __init__(self, argv: list[str]):
        import numpy as np
        import torch

        from lmvsmt import fairseq_compat

        fairseq_compat.prepare()
        fairseq_compat.check_argv(argv)
        fairseq_compat.allow_empty_splits()
        if "--user-dir" in argv:
            fairseq_compat.import_user_dir(argv[argv.index("--user-dir") + 1])
        from fairseq import tasks, utils
        from fairseq.trainer import Trainer

        cfg = fairseq_compat.parse_train_args(argv)
        task = tasks.setup_task(cfg.task)
        split = cfg.dataset.train_subset
        task.load_dataset(split, epoch=1, combine=True)
        model = task.build_model(cfg.model)
        criterion = task.build_criterion(cfg.criterion)
        self.trainer = Trainer(cfg, task, model, criterion)
        self.dataset = task.dataset(split)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(1)
        max_positions = utils.resolve_max_positions(task.max_positions(), model.max_positions())
        indices, _ = self.dataset.filter_indices_by_size(np.arange(len(self.dataset)), max_positions)
        lengths = _lengths(self.dataset)[indices]
        self.longest = indices[np.argsort(-lengths, kind="stable")]
        self.cuda = not cfg.common.cpu
        if self.cuda:
            self.device = torch.cuda.get_device_name()
            free, _total = torch.cuda.mem_get_info()
            self.capacity = free + torch.cuda.memory_reserved()
        else:
            self.device = "CPU"
            self.capacity = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

    def __call__(self, batch: int) -> int:
        import torch

        if batch > len(self.longest):
            raise AutotuneError(f"batch_size auto: the training set has {len(self.longest)} samples, "
                                f"fewer than a batch of {batch}")
        if self.cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        sample = self.dataset.collater([self.dataset[int(i)] for i in self.longest[:batch]])
        try:
            self.trainer.train_step([sample], raise_oom=True)
            if self.cuda:
                torch.cuda.synchronize()
        except RuntimeError as exc:  # torch.cuda.OutOfMemoryError included
            if "out of memory" not in str(exc):
                raise
            self.trainer.zero_grad()
            del exc
            raise OutOfMemory() from None
        finally:
            del sample
        if self.cuda:
            return torch.cuda.max_memory_reserved()
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def close(self) -> None:
        import torch

        self.trainer = self.dataset = None
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()


def _lengths(dataset):
    """Tokens of each sample (source and target together for translation pairs)."""
    import numpy as np

    sizes = dataset.sizes
    if isinstance(sizes, (list, tuple)):
        sizes = np.max(np.stack([np.asarray(s) for s in sizes]), axis=0)
    sizes = np.asarray(sizes)
    return sizes.sum(axis=1) if sizes.ndim == 2 else sizes


def read(run_dir: Path) -> dict | None:
    path = Path(run_dir) / RESOLVED
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AutotuneError(f"{path}: unreadable ({exc}); delete it to choose again") from None


def choose(argv: list[str], run_dir: Path, global_batch: int, processes: int, headroom: float,
           make_probe: Callable[[list[str]], Callable[[int], int]] = FairseqTrial, log=print) -> dict:
    """The run's batch (and update_freq) and precision where `argv` leaves them to the job:
    read from run_dir/resolved.json when an earlier job of this run chose them for as many
    processes, else chosen now (precision first: the trial runs in it) and saved there."""
    needs = objectives.unresolved(argv)
    record = read(run_dir)
    if record is not None and record.get("processes") == processes:
        log(f"lmvsmt: this run's choices, made by its first job ({Path(run_dir) / RESOLVED}), are kept: "
            + describe(record))
        return record
    if record is not None:
        log(f"lmvsmt: {RESOLVED} was chosen for {record.get('processes')} processes, this job has {processes}: "
            "choosing again (the batches change)")
    record = {"processes": processes}
    if "precision" in needs:
        record["precision"], record["precision_reason"] = best_precision()
    if "--batch-size" in needs:
        trial_argv = objectives.fill(argv, batch_size=1, update_freq=1, num_workers=0,
                                     precision=record.get("precision"))
        probe = make_probe(_set_flag(trial_argv, "--distributed-world-size", "1"))
        started = time.time()
        try:
            batch, trials, reason = search(candidates(global_batch, processes), probe, probe.capacity, headroom)
        finally:
            close = getattr(probe, "close", None)
            if close:
                close()
        record.update(batch_size=batch, update_freq=global_batch // (batch * processes), batch_reason=reason,
                      trials=[asdict(t) for t in trials], trial_seconds=round(time.time() - started, 1),
                      device=getattr(probe, "device", None))
    with atomic_write(Path(run_dir) / RESOLVED) as fh:
        json.dump(record, fh, indent=1)
    log("lmvsmt: chosen for this run: " + describe(record))
    return record


def wait(run_dir: Path, processes: int, timeout_s: float = 3600, poll_s: float = 1.0) -> dict:
    """Rank > 0: rank 0's choices for this many processes, once written."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        record = read(run_dir)
        if record is not None and record.get("processes") == processes:
            return record
        time.sleep(poll_s)
    raise AutotuneError(f"{Path(run_dir) / RESOLVED}: rank 0 wrote no choices for {processes} processes "
                        f"within {timeout_s:.0f} s")


def describe(record: dict) -> str:
    parts = []
    if "batch_size" in record:
        parts.append(f"batch_size {record['batch_size']} per process x {record['processes']} process(es) x "
                     f"update_freq {record['update_freq']} (batch_size auto: {record['batch_reason']})")
    if "precision" in record:
        parts.append(f"precision {record['precision']} (precision auto: {record['precision_reason']})")
    return "; ".join(parts)
