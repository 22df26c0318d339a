"""What Snakemake and Slurm say about a run, read from their own files and commands and
never written: Snakemake's latest log in the working directory (jobs, progress, errors,
Slurm job ids), its lock and incomplete-output markers, its running processes, and the
states Slurm reports (sacct, squeue). lmvsmt.status builds its screen from these."""
from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

# Slurm states (sacct/squeue) grouped as the status shows them.
SLURM_QUEUED = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "SUSPENDED", "RESIZING"}
SLURM_RUNNING = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"}


# --------------------------------------------------------------------------- Snakemake's log

_JOB = re.compile(r"^\s*(?:local)?(?:rule|checkpoint) (\S+):$")
_ERROR = re.compile(r"^\s*Error in rule (\S+):$")
_FIELD = re.compile(r"^\s+(jobid|input|output|log|wildcards|message|external_jobid): (.*)$")
_FINISHED = re.compile(r"^Finished jobid: (\d+) ")
_PROGRESS = re.compile(r"^(\d+) of (\d+) steps \([^)]*\) done$")
_MESSAGE = re.compile(r"^Job (\d+): (.*)$")  # a job of a rule with a `message:` (no rule block)
_SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+)\)\.$")
_SLURM_FAILED = re.compile(r"SLURM-job '(\d+)'")
_WORKDIR = re.compile(r"^\s*Working directory: (.+)$")
_LOG_SUFFIX = " (check log file(s) for error details)"


@dataclass
class SnakemakeJob:
    jobid: str
    rule: str
    wildcards: dict = field(default_factory=dict)
    output: list = field(default_factory=list)
    log: list = field(default_factory=list)
    slurm_job_id: str | None = None
    slurm_log: str | None = None
    finished: bool = False
    failed: bool = False
    message: str | None = None
    description: str | None = None  # the rule's `message:`, where it has one


@dataclass
class SnakemakeLog:
    path: Path
    workdir: Path
    jobs: dict[str, SnakemakeJob]
    progress: tuple[int, int] | None


def _paths(value: str) -> list[str]:
    value = value.removesuffix(_LOG_SUFFIX)
    return [p for p in value.split(", ") if p]


def _wildcards(value: str) -> dict:
    return dict(part.split("=", 1) for part in value.split(", ") if "=" in part)


def parse_snakemake_log(path: Path, default_workdir: Path) -> SnakemakeLog:
    """Jobs of one Snakemake log: rule, wildcards, files, Slurm job, finished / failed."""
    jobs: dict[str, SnakemakeJob] = {}
    workdir, progress = default_workdir, None
    block: dict | None = None

    def job_of(jid: str, rule: str = "?") -> SnakemakeJob:
        job = jobs.setdefault(jid, SnakemakeJob(jid, rule))
        if job.rule == "?":
            job.rule = rule
        return job

    def close() -> None:
        if not block or "jobid" not in block:
            return
        job = job_of(block["jobid"], block["rule"])
        logs = _paths(block.get("log", ""))
        if "wildcards" in block:
            job.wildcards = _wildcards(block["wildcards"])
        if "output" in block:
            job.output = _paths(block["output"])
        if not block["error"]:
            job.log = logs
            return
        # An error lists the rule's logs and then the executor's (the Slurm log).
        job.failed, job.message = True, block.get("message") if block.get("message") != "None" else None
        job.log = job.log or logs
        extra = [p for p in logs if p not in job.log]
        if extra:
            job.slurm_log = extra[0]
        if job.message and (found := _SLURM_FAILED.search(job.message)):
            job.slurm_job_id = found.group(1)

    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        header, error = _JOB.match(line), _ERROR.match(line)
        if header or error:
            close()
            block = {"rule": (header or error).group(1), "error": error is not None}
            continue
        field_ = _FIELD.match(line) if block is not None else None
        if field_:
            block.setdefault(field_.group(1), field_.group(2).strip())
            continue
        if block is not None and line.startswith((" ", "\t")):
            continue  # a multi-line field (shell command, reason)
        close()
        block = None
        if found := _FINISHED.match(line):
            job_of(found.group(1)).finished = True
        elif found := _PROGRESS.match(line):
            progress = (int(found.group(1)), int(found.group(2)))
        elif found := _MESSAGE.match(line):
            job_of(found.group(1)).description = found.group(2)
        elif found := _SUBMITTED.search(line):
            job = job_of(found.group(1))
            job.slurm_job_id, job.slurm_log = found.group(2), found.group(3)
        elif found := _WORKDIR.match(line):
            workdir = Path(found.group(1))
    close()
    return SnakemakeLog(path, workdir, jobs, progress)


def _under(path: str, base: Path, root: Path) -> bool:
    p = Path(path)
    p = p if p.is_absolute() else base / p
    try:
        p.resolve().relative_to(root)
        return True
    except ValueError:
        return False


def latest_snakemake_log(workdir: Path, results: Path) -> SnakemakeLog | None:
    """The newest Snakemake log with a job writing into `results` (logs of runs on
    other results directories share .snakemake/log)."""
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"), reverse=True)
    for path in logs:
        parsed = parse_snakemake_log(path, workdir)
        if any(_under(f, parsed.workdir, results) for job in parsed.jobs.values() for f in job.output + job.log):
            return parsed
    return None


def snakemake_locked(workdir: Path, results: Path) -> bool:
    """A Snakemake holds its locks on files of `results` (.snakemake/locks lists them)."""
    for lock in (workdir / ".snakemake" / "locks").glob("*.lock"):
        try:
            lines = lock.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        if any(_under(line.strip(), workdir, results) for line in lines if line.strip()):
            return True
    return False


def incomplete_outputs(workdir: Path) -> dict[str, str | None]:
    """Outputs Snakemake marked incomplete (jobs running, or cut short by a kill) and
    the executor's job id of each (.snakemake/incomplete: one file per output, named
    by the path in URL-safe base64, long names split into "@"-prefixed directories)."""
    root = workdir / ".snakemake" / "incomplete"
    out: dict[str, str | None] = {}
    for marker in root.rglob("*"):
        if not marker.is_file():
            continue
        name = "".join(part.removeprefix("@") for part in marker.relative_to(root).parts)
        try:
            path = base64.urlsafe_b64decode(name).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue  # Snakemake's own bookkeeping files
        try:
            jobid = json.loads(marker.read_text() or "{}").get("external_jobid")
        except (OSError, ValueError, AttributeError):
            jobid = None
        out[str(resolve(path, workdir).resolve())] = None if jobid is None else str(jobid)
    return out


def snakemake_processes(workdir: Path) -> list[int]:
    """Snakemake processes on this machine working in `workdir` (/proc)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if any(Path(a.decode(errors="replace")).name == "snakemake" for a in argv[:2]) and \
                    Path(os.readlink(proc / "cwd")) == workdir:
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


# --------------------------------------------------------------------------- Slurm


def slurm_states(job_ids: Sequence[str]) -> dict[str, str]:
    """Current state of each Slurm job (sacct, or squeue for the active ones); empty
    where Slurm is not installed or does not answer."""
    ids = sorted({str(j) for j in job_ids if str(j).isdigit()})
    states: dict[str, str] = {}
    if not ids:
        return states
    if shutil.which("sacct"):
        out = _run(["sacct", "-n", "-P", "-X", "-j", ",".join(ids), "-o", "JobID,State"])
        for line in out.splitlines():
            parts = line.split("|")
            if len(parts) >= 2 and parts[0] in ids:
                states[parts[0]] = parts[1].split()[0] if parts[1].split() else "?"
    missing = [j for j in ids if j not in states]
    if missing and shutil.which("squeue"):
        for line in _run(["squeue", "-h", "-j", ",".join(missing), "-o", "%i|%T"]).splitlines():
            parts = line.split("|")
            if len(parts) == 2 and parts[0] in missing:
                states[parts[0]] = parts[1].strip()
    return states


def _run(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout if proc.returncode == 0 else ""


def slurm_available() -> bool:
    return bool(shutil.which("sacct") or shutil.which("squeue"))


def resolve(path, workdir: Path) -> Path:
    """`path` as Snakemake means it: relative paths are relative to its working directory."""
    path = Path(path)
    return path if path.is_absolute() else workdir / path
