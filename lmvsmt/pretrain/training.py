"""Pretraining driver: plans a fairseq run per objective, launches it (lmvsmt.pretrain.launch),
resumes it after any interruption, and exports the final model for evaluation.

Layout ({R} = results_dir):
  {R}/work/pretrain/{objective}/run-<fingerprint>/   checkpoints, raw training log,
      submitit files; never deleted by Snakemake, so a rerun continues from the last
      checkpoint. The fingerprint covers everything a resumed run must share with the
      run it continues (hyper-parameters, size, schedule, seed, data files): a changed
      setting starts a fresh run directory and leaves the old one untouched.
      Also resolved.json: what the run's first job chose for the `auto` settings
      (batch size, update_freq, precision; lmvsmt.pretrain.autotune), kept for its later jobs.
  {R}/pretrain/{objective}/  checkpoint_best.pt (model weights, optimizer state
      dropped, under fairseq's own names: loads without lmvsmt's plugin), dict.txt,
      command.txt (as run), config.yaml (with the values chosen for `auto`),
      train_log.jsonl, loss.png.

Losses in the training log are fairseq's: cross-entropy in bits (base 2) per token.

`load_model(objective, model_dir)` gives evaluation a torch module with `.dictionary`,
`.hidden_size` and `.encode(tokens, lang)` (lmvsmt.pretrain.models). torch and fairseq are
imported where they are used: the rule's own process only plans, waits and copies.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import shlex
import signal
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lmvsmt import fairseq_compat, integrity, monitoring
from lmvsmt.pretrain import autotune, launch, objectives
from lmvsmt.io import (DiskFullError, atomic_path, atomic_write, copy_file, disk_full_error, move_aside, read_json,
                       read_text)

log = logging.getLogger(__name__)

RAW_LOG = "train_log.raw.jsonl"
DONE = "done.json"
FINAL = "final"
LOCK = "train.lock"
# The rule's outputs in {R}/pretrain/{objective}/.
OUTPUTS = ("checkpoint_best.pt", "dict.txt", "command.txt", "config.yaml", "train_log.jsonl", "loss.png")


def output_files(results, objective: str) -> list[str]:
    return [f"{results}/pretrain/{objective}/{name}" for name in OUTPUTS]


class PretrainError(RuntimeError):
    """A pretraining run cannot start or did not finish; the message says why."""


# --------------------------------------------------------------------------- planning


def data_identity(data_dir: Path) -> list:
    """Names and sizes of the binarized files and the hash of the dictionary: cheap to
    compute at paper scale, and changes whenever the data is rebuilt differently."""
    files = sorted(p for p in Path(data_dir).iterdir() if p.is_file())
    ident = [[p.name, p.stat().st_size] for p in files]
    dicts = [p for p in files if p.name.startswith("dict")]
    if dicts:
        ident.append(hashlib.sha256(dicts[0].read_bytes()).hexdigest())
    return ident


def fingerprint(config: dict, objective: str, data_dir: Path) -> str:
    blob = json.dumps([objectives.training_settings(config, objective), data_identity(data_dir)],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


_IDX_HEADER = 34  # fairseq mmap .idx: magic 9 B, version 8 B, dtype 1 B, items 8 B, documents 8 B


def _indexed_items(idx: Path) -> int:
    """Items in a fairseq mmap .idx file (-1: another format)."""
    with open(idx, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or not head.startswith(b"MMIDIDX"):
        return -1  # another format: let fairseq judge
    return struct.unpack("<Q", head[18:26])[0]


def indexed_sizes(idx: Path):
    """Tokens of each item of a fairseq mmap .idx file (int32 array; the sizes follow the header)."""
    import numpy as np

    count = _indexed_items(idx)
    if count < 0:
        raise PretrainError(f"{idx}: not a fairseq mmap index")
    return np.fromfile(idx, dtype=np.int32, count=count, offset=_IDX_HEADER)


def available_pairs(data_dir: Path, pairs: list[str]) -> tuple[list[str], list[str]]:
    """Directions with training data (fairseq reads b-a from the a-b binarization)."""
    keep, dropped = [], []
    for pair in pairs:
        src, tgt = pair.split("-")
        candidates = [Path(data_dir) / f"train.{src}-{tgt}.{src}.idx", Path(data_dir) / f"train.{tgt}-{src}.{src}.idx"]
        found = [c for c in candidates if c.exists()]
        (keep if found and _indexed_items(found[0]) != 0 else dropped).append(pair)
    return keep, dropped


def dictionary_file(objective: str, data_dir: Path, languages: list[str]) -> Path:
    if objectives.DATASET[objective] == "bitext":  # one copy per language, all identical
        return Path(data_dir) / f"dict.{sorted(languages)[0]}.txt"
    return Path(data_dir) / "dict.txt"


def data_dir_of(results, objective: str) -> str:
    """The binarized data an objective trains on (path contract, issue 4)."""
    return f"{results}/data-bin/{objectives.DATASET[objective]}"


def input_files(results, objective: str, languages: list[str]) -> list[str]:
    """The data files the rule waits for (train and valid splits, dictionaries)."""
    from lmvsmt.bpe.binarize import output_names

    dataset = objectives.DATASET[objective]
    return [f"{results}/data-bin/{dataset}/{name}" for name in output_names(dataset, languages)
            if not name.startswith("test.")]


def planned_commands(config: dict, work_root) -> dict[str, objectives.PlannedCommand]:
    """The command each configured objective will run with the configured launcher (shown
    by `snakemake -n`); the job recomputes it for the processes it actually gets."""
    commands = {}
    for objective in config["objectives"]:
        alloc = launch.allocation(config["pretrain"], objective)
        command = objectives.build(objective, config, data_dir_of(config["results_dir"], objective),
                                   f"{work_root}/{objective}/run-<fingerprint>", alloc.world_size, alloc.gpu)
        commands[objective] = objectives.PlannedCommand(command.shell())
    return commands


def check_dictionary(path: Path, languages: list[str]) -> None:
    """The shared dictionary must already hold the tokens fairseq would otherwise append
    per task (<mask> for MLM and 2-LM, __xx__ for 2-MT): token ids then agree across the
    five models (path contract, issue 4)."""
    entries = {line.split(" ", 1)[0] for line in read_text(path).splitlines()}
    missing = [t for t in ["<mask>", *(f"__{lang}__" for lang in languages)] if t not in entries]
    if missing:
        raise PretrainError(f"{path}: the dictionary lacks {', '.join(missing)}; the five models would not "
                            "share token ids (rebuild the bpe stage)")


def plan(objective: str, config: dict, data_dir, run_dir, allocation: launch.Allocation | None = None,
         check_data: bool = False) -> objectives.Command:
    """The fairseq command for the processes of `allocation` (default: the configured one)."""
    alloc = allocation or launch.allocation(config["pretrain"], objective)
    pairs = None
    if objective == "2-MT" and check_data:
        hp = objectives.hyperparameters(config["pretrain"], objective)
        pairs, dropped = available_pairs(Path(data_dir), objectives.lang_pairs(config["languages"], hp))
        if not pairs:
            raise PretrainError(f"2-MT: no translation direction has training data in {data_dir}")
        if dropped:
            log.warning("2-MT: no training data for %s in %s: these directions are left out",
                        ", ".join(dropped), data_dir)
    return objectives.build(objective, config, str(data_dir), str(run_dir), alloc.world_size, alloc.gpu, pairs)


# --------------------------------------------------------------------------- inside the job


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
            raise _Diverged(start, update, str(exc).splitlines()[0], resumed[0]) from exc
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


# --------------------------------------------------------------------------- resume point

LAST = "checkpoint_last.pt"
BEST = "checkpoint_best.pt"
_NUMBERED = re.compile(r"checkpoint_\d+_(\d+)\.pt")
# A non-finite loss within this many updates of a resume, before the resumed run saved a
# checkpoint of its own, is blamed on the checkpoint it resumed from.
DIVERGENCE_WINDOW = 100


def _numbered(save_dir: Path) -> dict[int, Path]:
    """fairseq's interval checkpoints (checkpoint_<epoch>_<update>.pt) by update."""
    return {int(m.group(1)): p for p in save_dir.glob("checkpoint_*_*.pt") if (m := _NUMBERED.fullmatch(p.name))}


def choose_resume_point(save_dir: Path) -> Path | None:
    """Make checkpoint_last.pt the newest intact checkpoint of the run, walking back
    through the interval checkpoints; return it (None: training starts from scratch).

    fairseq writes each save to checkpoint_<epoch>_<update>.pt (atomically) and then
    copies it to checkpoint_last.pt (not atomically): a kill between the two, or during
    the copy, leaves checkpoint_last.pt older or cut short. A damaged checkpoint (any
    member whose CRC-32 disagrees, lmvsmt.integrity) is moved aside, never resumed from.
    Partial saves of a dead process (*.pt.tmp) are removed."""
    save_dir = Path(save_dir)
    for partial in save_dir.glob("checkpoint*.pt.tmp"):
        partial.unlink()
    last = save_dir / LAST
    candidates = [p for p in [last, *_numbered(save_dir).values()] if p.exists()]
    # Newest first; checkpoint_last.pt first among equals (it is the copy made last).
    candidates.sort(key=lambda p: (p.stat().st_mtime, p == last), reverse=True)
    for path in candidates:
        problem = integrity.archive_problem(path)
        if problem is None:
            if path != last:
                print(f"lmvsmt: resuming from {path.name}, the newest intact checkpoint", flush=True)
                copy_file(path, last)
            return last
        aside = move_aside(path)
        print(f"lmvsmt: {path} is damaged ({problem}): moved aside to {aside.name}", flush=True)
    if candidates:
        print(f"lmvsmt: no intact checkpoint is left in {save_dir}: training from scratch", flush=True)
    return None


class _Diverged(Exception):
    """A non-finite loss right after a resume (raised inside the training process)."""

    def __init__(self, start: int, update: int, why: str, resume_digest):
        super().__init__(f"non-finite loss ({why}) at update {update}, {update - start} update(s) after "
                         f"resuming from update {start}")
        self.start, self.update, self.resume_digest = start, update, resume_digest


def roll_back(save_dir: Path, diverged: _Diverged, job_id: str) -> str:
    """Move aside every copy of the checkpoint a diverged run resumed from, so that the
    next start resumes from the one before it, and leave a note for the launcher
    (launch.ROLLBACK names it) to resubmit. Gives up (PretrainError) when no earlier
    checkpoint is left or when the run had already been rolled back to this one."""
    save_dir = Path(save_dir)
    note = save_dir / launch.ROLLBACK
    if note.exists() and read_json(note).get("resume_at") == diverged.start:
        raise PretrainError(f"training diverged again: {diverged}, the checkpoint an earlier divergence rolled "
                            f"back to ({save_dir}); giving up (lower the learning rate or change the seed)")
    earlier = {u: p for u, p in _numbered(save_dir).items() if u < diverged.start}
    if not earlier:
        raise PretrainError(f"training diverged: {diverged}, and {save_dir} holds no earlier checkpoint to try")
    copies = [p for p in (save_dir / LAST, save_dir / BEST, *_numbered(save_dir).values())
              if p.exists() and integrity.member_digest(p) == diverged.resume_digest]
    set_aside = [move_aside(p, "diverged").name for p in copies]
    with atomic_write(note) as fh:
        json.dump({"job_id": job_id, "diverged_at": diverged.update, "resumed_from": diverged.start,
                   "resume_at": max(earlier), "set_aside": set_aside}, fh)
    return (f"training diverged: {diverged}; moved {', '.join(set_aside)} aside: the next start resumes "
            f"from update {max(earlier)}")


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


class _RunLock:
    """One training per run directory at a time (a killed rule's orphan, a second
    Snakemake): the holder's pid and host are in the lock file."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self.fh = None

    def __enter__(self) -> "_RunLock":
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


def _intact_best(run_dir: Path) -> Path:
    """checkpoint_best.pt of a finished run, verified. fairseq copies it (not atomically)
    from the interval checkpoint of the same update, so a damaged one is restored from
    that checkpoint, found by the lowest validation loss of the training log."""
    best = run_dir / BEST
    problem = integrity.archive_problem(best)
    if problem is None:
        return best
    aside = move_aside(best)
    valid = [r for r in read_train_log(run_dir / RAW_LOG) if isinstance(r.get("valid_loss"), (int, float))]
    # fairseq keeps the later of equal losses as the best
    update = min(valid, key=lambda r: (r["valid_loss"], -r["update"]))["update"] if valid else None
    source = _numbered(run_dir).get(update)
    if source is None or integrity.archive_problem(source) is not None:
        raise PretrainError(f"{best}: damaged ({problem}); moved aside to {aside.name}, and the interval checkpoint "
                            f"of its update ({update}) is gone or damaged too: delete {run_dir} to train again")
    print(f"lmvsmt: {best} was damaged ({problem}): moved aside to {aside.name}, restored from {source.name}",
          flush=True)
    copy_file(source, best)
    return best


def _export_checkpoint(run_dir: Path) -> Path:
    """The best checkpoint without the optimizer state (evaluation needs the weights only),
    under fairseq's own architecture and optimizer names (no lmvsmt plugin needed to load it)."""
    import torch

    fairseq_compat.prepare()
    best = run_dir / BEST
    source = _intact_best(run_dir) if best.exists() else run_dir / LAST
    state = torch.load(source, map_location="cpu", weights_only=False)
    state["last_optimizer_state"] = None
    if _uses_plugin(state):
        from lmvsmt.pretrain.fairseq_plugin import plain_checkpoint

        plain_checkpoint(state)
    target = run_dir / FINAL / "checkpoint_best.pt"
    with atomic_path(target) as tmp:
        torch.save(state, tmp)
    return target


def _uses_plugin(state: dict) -> bool:
    common = (state.get("cfg") or {}).get("common") or {}
    args = state.get("args")
    return bool(common.get("user_dir") or getattr(args, "user_dir", None))


def finish_run(run_dir: Path, state: dict) -> None:
    """Export the final model of a finished run and mark the run done."""
    _export_checkpoint(run_dir)
    with atomic_write(run_dir / DONE) as fh:
        json.dump({"update": state["last_update"], "resumed_from": state["start_update"]}, fh)


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
        lock = _RunLock(run_dir) if rank == 0 else contextlib.nullcontext()
        with lock:
            if rank == 0:
                monitoring.record_start(run_dir, env.job_id, world)
            try:
                state = run_fairseq(argv, stop, run_dir / RAW_LOG)
            except _Diverged as diverged:  # rank 0 only
                raise PretrainError(roll_back(run_dir, diverged, str(env.job_id))) from None
        if state["stopped"]:
            if rank == 0:
                stop.hand_over()
            raise SystemExit(0)  # the other ranks end with rank 0's requeue
        if rank == 0:
            finish_run(run_dir, state)
        return state

    def checkpoint(self, *args, **kwargs):
        """submitit calls this at the time limit: requeue the same job (fairseq itself
        resumes from checkpoint_last.pt)."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


# --------------------------------------------------------------------------- the rule's side


def read_train_log(path: Path) -> list[dict]:
    """Training log records, one per (kind, update): a resumed run logs again the updates
    after its checkpoint, and the later (resumed) line wins. A line cut short by a killed
    job is skipped with a warning."""
    records: dict[tuple, dict] = {}
    if Path(path).exists():
        for number, line in enumerate(read_text(path).splitlines(), 1):
            if line.strip():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("%s:%d: skipped a line cut short by an interrupted job", path, number)
                    continue
                kind = "valid" if "valid_loss" in rec else "train"
                records[(rec["update"], kind)] = rec
    return [records[k] for k in sorted(records, key=lambda k: (k[0], k[1] == "valid"))]


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
        _export_checkpoint(run_dir)
    if done.exists() and final.exists():
        print(f"lmvsmt: {objective} already trained in {run_dir}: exporting it", flush=True)
    else:
        if alloc.launcher == "local":
            with _RunLock(run_dir):  # fail now, not in the job, when an orphan still trains here
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


# --------------------------------------------------------------------------- evaluation API


def load_model(objective: str, model_dir):
    """The pretrained model of `objective` in `model_dir` (checkpoint_best.pt + dict.txt)
    as a torch module in eval mode with `.dictionary`, `.hidden_size` and
    `.encode(tokens, lang)`: see lmvsmt.pretrain.models.PretrainedModel."""
    from lmvsmt.pretrain import models

    return models.load_model(objective, model_dir)
