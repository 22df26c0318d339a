"""A run's checkpoints: the newest intact one to resume from (walking back through the
interval checkpoints), rolling back past a checkpoint whose resumed run diverged at
once, and the exported model (the best checkpoint, verified, without optimizer state,
under fairseq's own names)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from lmvsmt import fairseq_compat, integrity
from lmvsmt.errors import LmvsmtError
from lmvsmt.io import atomic_path, atomic_write, copy_file, move_aside, read_json
from lmvsmt.pretrain import launch
from lmvsmt.pretrain.plan import DONE, FINAL, RAW_LOG, PretrainError, read_train_log


LAST = "checkpoint_last.pt"
BEST = "checkpoint_best.pt"
_NUMBERED = re.compile(r"checkpoint_\d+_(\d+)\.pt")
# A non-finite loss within this many updates of a resume, before the resumed run saved a
# checkpoint of its own, is blamed on the checkpoint it resumed from.
DIVERGENCE_WINDOW = 100


def numbered(save_dir: Path) -> dict[int, Path]:
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
    candidates = [p for p in [last, *numbered(save_dir).values()] if p.exists()]
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


class Diverged(LmvsmtError):
    """A non-finite loss right after a resume (raised inside the training process)."""

    def __init__(self, start: int, update: int, why: str, resume_digest):
        super().__init__(f"non-finite loss ({why}) at update {update}, {update - start} update(s) after "
                         f"resuming from update {start}")
        self.start, self.update, self.resume_digest = start, update, resume_digest


def roll_back(save_dir: Path, diverged: Diverged, job_id: str) -> str:
    """Move aside every copy of the checkpoint a diverged run resumed from, so that the
    next start resumes from the one before it, and leave a note for the launcher
    (launch.ROLLBACK names it) to resubmit. Gives up (PretrainError) when no earlier
    checkpoint is left or when the run had already been rolled back to this one."""
    save_dir = Path(save_dir)
    note = save_dir / launch.ROLLBACK
    if note.exists() and read_json(note).get("resume_at") == diverged.start:
        raise PretrainError(f"training diverged again: {diverged}, the checkpoint an earlier divergence rolled "
                            f"back to ({save_dir}); giving up (lower the learning rate or change the seed)")
    earlier = {u: p for u, p in numbered(save_dir).items() if u < diverged.start}
    if not earlier:
        raise PretrainError(f"training diverged: {diverged}, and {save_dir} holds no earlier checkpoint to try")
    copies = [p for p in (save_dir / LAST, save_dir / BEST, *numbered(save_dir).values())
              if p.exists() and integrity.member_digest(p) == diverged.resume_digest]
    set_aside = [move_aside(p, "diverged").name for p in copies]
    with atomic_write(note) as fh:
        json.dump({"job_id": job_id, "diverged_at": diverged.update, "resumed_from": diverged.start,
                   "resume_at": max(earlier), "set_aside": set_aside}, fh)
    return (f"training diverged: {diverged}; moved {', '.join(set_aside)} aside: the next start resumes "
            f"from update {max(earlier)}")


def intact_best(run_dir: Path) -> Path:
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
    source = numbered(run_dir).get(update)
    if source is None or integrity.archive_problem(source) is not None:
        raise PretrainError(f"{best}: damaged ({problem}); moved aside to {aside.name}, and the interval checkpoint "
                            f"of its update ({update}) is gone or damaged too: delete {run_dir} to train again")
    print(f"lmvsmt: {best} was damaged ({problem}): moved aside to {aside.name}, restored from {source.name}",
          flush=True)
    copy_file(source, best)
    return best


def export_checkpoint(run_dir: Path) -> Path:
    """The best checkpoint without the optimizer state (evaluation needs the weights only),
    under fairseq's own architecture and optimizer names (no lmvsmt plugin needed to load it)."""
    import torch

    fairseq_compat.prepare()
    best = run_dir / BEST
    source = intact_best(run_dir) if best.exists() else run_dir / LAST
    state = torch.load(source, map_location="cpu", weights_only=False)
    state["last_optimizer_state"] = None
    if _uses_plugin(state):
        from lmvsmt.pretrain.fairseq_plugin import plain_checkpoint

        plain_checkpoint(state)
    target = run_dir / FINAL / BEST
    with atomic_path(target) as tmp:
        torch.save(state, tmp)
    return target


def _uses_plugin(state: dict) -> bool:
    common = (state.get("cfg") or {}).get("common") or {}
    args = state.get("args")
    return bool(common.get("user_dir") or getattr(args, "user_dir", None))


def finish_run(run_dir: Path, state: dict) -> None:
    """Export the final model of a finished run and mark the run done."""
    export_checkpoint(run_dir)
    with atomic_write(run_dir / DONE) as fh:
        json.dump({"update": state["last_update"], "resumed_from": state["start_update"]}, fh)
