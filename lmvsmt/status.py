"""One screen on a run: `python -m lmvsmt.status [--configfile F] [--results DIR] [--json]`.

Reads, never writes: the results directory (pretraining run directories, result
files), Snakemake's own files in the working directory (.snakemake/log, .snakemake/locks)
and, where Slurm is installed, sacct/squeue (those two through lmvsmt.runstate). Safe while Snakemake runs: every file the
workflow writes is renamed into place, and a log line cut short is skipped.

What is planned comes from the workflow's own planners (lmvsmt.pretrain.plan.output_files,
lmvsmt.tables.specs.eval_results / result_tables_for / stage_targets), never re-derived here.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from lmvsmt import layout, monitoring
from lmvsmt.config import ConfigError, load
from lmvsmt.pretrain import external, plan
from lmvsmt.runstate import (SLURM_QUEUED, SLURM_RUNNING, SnakemakeJob, SnakemakeLog, incomplete_outputs,
                             latest_snakemake_log, resolve, slurm_available, slurm_states, snakemake_locked,
                             snakemake_processes)
from lmvsmt.tables import cells, specs

# --------------------------------------------------------------------------- pretraining


def lock_holder(path: Path) -> int | None:
    """The pid holding a flock on `path` on this machine (/proc/locks), if any; read
    only, so a status check can never make a starting training fail its own lock."""
    try:
        st = path.stat()
        locks = Path("/proc/locks").read_text()
    except OSError:
        return None
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in locks.splitlines():
        parts = line.split()
        if "->" not in parts and len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == device:
            return int(parts[4])
    return None


def submitit_job_ids(folder: Path) -> list[str]:
    """Jobs submitit submitted from `folder`, oldest first; the last is the current one."""
    ids = {m.group(1) for p in folder.glob("*_submitted.pkl") if (m := re.match(r"(\d+)_submitted\.pkl$", p.name))}
    record = folder / "job.json"
    current = None
    if record.exists():
        try:
            current = str(json.loads(record.read_text())["job_id"])
        except (ValueError, KeyError):
            current = None
    ordered = sorted(ids - {current}, key=int) + ([current] if current else [])
    return ordered


@dataclass
class Pretraining:
    objective: str
    state: str
    max_update: int
    update: int | None = None
    train_loss: float | None = None
    valid_loss: float | None = None
    tokens_per_s: float | None = None
    updates_per_s: float | None = None
    eta_s: float | None = None
    last_log_age_s: float | None = None
    requeues: int = 0
    slurm_job_id: str | None = None
    slurm_state: str | None = None
    run_dir: str | None = None
    log: str | None = None
    other_runs: int = 0


def pretraining_status(config: dict, objective: str, results: Path, workdir: Path,
                       smk: SnakemakeLog | None, running: bool, incomplete: dict, now: float) -> Pretraining:
    pcfg = config["pretrain"]
    status = Pretraining(objective, "not started", pcfg["max_update"])
    outputs = [resolve(p, workdir) for p in plan.output_files(config["results_dir"], objective)]
    work = Path(layout.fill(layout.PRETRAIN_WORK, results=results)) / objective
    data_dir = Path(plan.data_dir_of(results, objective))
    run_dir = None
    if data_dir.is_dir():
        try:
            candidate = work / f"run-{plan.fingerprint(config, objective, data_dir)}"
            run_dir = candidate if candidate.is_dir() else None
        except (OSError, ValueError):
            run_dir = None
    others = sorted((d for d in work.glob("run-*") if d != run_dir), key=lambda d: d.stat().st_mtime)
    done = all(p.exists() for p in outputs)
    if run_dir is None and done and others:
        # Trained under settings the config no longer gives (e.g. before an upgrade):
        # the newest run is the one the outputs come from.
        run_dir = others.pop()
    status.other_runs = len(others)

    job_ids: list[str] = []
    live_local = False
    if run_dir is not None:
        status.run_dir = str(run_dir)
        try:
            records = plan.read_train_log(run_dir / plan.RAW_LOG)
        except ValueError:  # a line being written: the next look reads it whole
            records = []
        train = [r for r in records if "train_loss" in r]
        valid = [r for r in records if "valid_loss" in r]
        if train:
            last = train[-1]
            status.update, status.train_loss = last["update"], last["train_loss"]
            status.tokens_per_s, status.updates_per_s = last.get("wps"), last.get("ups")
            status.eta_s = monitoring.eta_seconds(last["update"], pcfg["max_update"], last.get("ups"))
            if isinstance(last.get("time"), (int, float)):
                status.last_log_age_s = round(now - last["time"], 1)
        if valid:
            status.valid_loss = valid[-1]["valid_loss"]
            status.update = max(status.update or 0, valid[-1]["update"])
        status.requeues = max(len(monitoring.read_starts(run_dir)) - 1, 0)
        if pcfg["launcher"] == "slurm":
            job_ids = submitit_job_ids(run_dir / "submitit")
        live_local = lock_holder(run_dir / plan.LOCK) is not None

    # The rule's job in Snakemake's log (found by its outputs: a rule with a message
    # is logged without its wildcards) and its incomplete marks (the rule at work).
    # With launcher local under `--profile slurm`, the rule itself is the Slurm job.
    names = {str(p.resolve()) for p in outputs}
    smk_job = None
    if smk is not None:
        for job in smk.jobs.values():
            if any(str(resolve(p, smk.workdir).resolve()) in names for p in job.output):
                smk_job = job
        if smk_job is not None and smk_job.log:
            status.log = smk_job.log[0]
    marked = [incomplete[n] for n in names if n in incomplete]
    external = next((j for j in marked if j), None) or (smk_job.slurm_job_id if smk_job else None)
    if external and not job_ids:
        job_ids = [external]
    if job_ids:
        status.slurm_job_id = job_ids[-1]
        status.slurm_state = slurm_states(job_ids[-1:]).get(job_ids[-1])

    if done:
        status.state, status.eta_s = "done", None
    elif status.slurm_state in SLURM_QUEUED:
        status.state = "queued"
    elif status.slurm_state in SLURM_RUNNING or live_local:
        status.state = "running"
    elif run_dir is not None and (run_dir / plan.DONE).exists():
        status.state = "trained, exporting" if running else "trained, not exported"
    elif running and marked:
        status.state = "starting"
    elif status.update is not None or status.requeues or (run_dir is not None and (run_dir / "command.txt").exists()):
        status.state = "stopped"
    if smk_job is not None and smk_job.failed and status.state == "stopped":
        status.state = "failed"
    return status


# --------------------------------------------------------------------------- evaluation and tables


def evaluation_status(config: dict, workdir: Path) -> dict:
    """Result files present of those planned, per mode and objective."""
    out = {}
    for mode in config["evaluation"]["modes"]:
        out[mode] = {}
        for objective in config["objectives"]:
            planned = specs.eval_results(config, mode, [objective])
            present = sum(resolve(p, workdir).exists() for p in planned)
            out[mode][objective] = {"present": present, "planned": len(planned)}
    return out


def table_status(config: dict, workdir: Path, problems: list[str]) -> list[dict]:
    """Cells of each result table with a value (and with every seed) of the total."""
    records = []
    for path in cells.find_result_files(resolve(config["results_dir"], workdir), config):
        try:
            records.append(cells.load_result(path))
        except (specs.TableError, OSError) as exc:
            problems.append(str(exc))
    out = []
    cfg = config["tables"]
    for name in specs.result_tables_for(config):
        try:
            table = cells.build_result_table(
                name, records, objectives=specs.table_objectives(name, config), tasks=config["tasks"],
                languages=config["languages"], seeds=config["evaluation"]["seeds"], decimals=cfg["decimals"],
                ddof=cfg["sd_ddof"], bold_scope=cfg["bold_scope"])
        except specs.TableError as exc:
            problems.append(str(exc))
            continue
        entries = [e for block in table.blocks for row in block.rows for e in row.entries]
        out.append({"table": name, "cells": len(entries),
                    "filled": sum(e.mean is not None for e in entries),
                    "all_seeds": sum(e.mean is not None and not e.short for e in entries)})
    files = [resolve(p, workdir) for p in specs.stage_targets(config)]
    out.append({"table": "files", "written": sum(p.exists() for p in files), "planned": len(files)})
    return out


# --------------------------------------------------------------------------- the report


def collect(config: dict, workdir: Path = Path("."), now: float | None = None) -> dict:
    """Everything the status shows, as a JSON-ready dict."""
    now = time.time() if now is None else now
    workdir = workdir.resolve()
    results = resolve(config["results_dir"], workdir).resolve()
    smk = latest_snakemake_log(workdir, results)
    locked = snakemake_locked(workdir, results)
    running = locked and bool(snakemake_processes(workdir))
    problems: list[str] = []
    incomplete = incomplete_outputs(workdir)
    # models trained elsewhere (pretrain.external) have no pretraining to follow
    pre = [pretraining_status(config, o, results, workdir, smk, running, incomplete, now)
           for o in external.trained_objectives(config)]
    failed, active = [], []
    if smk is not None:
        for job in smk.jobs.values():
            if job.rule == "?" and job.description is None:
                continue  # only seen finishing
            outputs_done = job.output and all(resolve(p, smk.workdir).exists() for p in job.output)
            if job.failed and not outputs_done:
                failed.append(job)
            elif running and not job.failed and not job.finished:
                active.append(job)
    slurm = slurm_states([j.slurm_job_id for j in failed + active if j.slurm_job_id]) if slurm_available() else {}
    return {
        "results_dir": config["results_dir"],
        "time": datetime.datetime.fromtimestamp(now).isoformat(timespec="seconds"),
        "snakemake": {"running": running, "locked": locked,
                      "log": str(smk.path.relative_to(workdir)) if smk else None,
                      "steps_done": smk.progress[0] if smk and smk.progress else None,
                      "steps_total": smk.progress[1] if smk and smk.progress else None},
        "slurm": slurm_available(),
        "pretraining": [asdict(p) for p in pre],
        "evaluation": evaluation_status(config, workdir),
        "tables": table_status(config, workdir, problems),
        "running_jobs": [_job_dict(j, slurm) for j in active],
        "failed_jobs": [_job_dict(j, slurm) for j in failed],
        "problems": problems,
    }


def _job_dict(job: SnakemakeJob, slurm: dict) -> dict:
    return {"rule": job.rule, "wildcards": job.wildcards, "description": job.description,
            "jobid": int(job.jobid), "log": job.log,
            "slurm_job_id": job.slurm_job_id, "slurm_state": slurm.get(job.slurm_job_id or ""),
            "slurm_log": job.slurm_log, "message": job.message}


def _num(value, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "-"


def render(report: dict) -> str:
    """The one screen."""
    out = [f"lmvsmt status of {report['results_dir']}/ at {report['time']}"]
    smk = report["snakemake"]
    line = "Snakemake: " + ("running" if smk["running"] else "not running")
    if smk["locked"] and not smk["running"]:
        line += (" here, but its lock is held (a Snakemake on another machine, or a killed one: "
                 "`snakemake --unlock`)")
    if smk["steps_total"] is not None:
        line += f"; {'its' if smk['running'] else 'last'} run: {smk['steps_done']} of {smk['steps_total']} steps done"
    if smk["log"]:
        line += f" ({smk['log']})"
    out += [line, ""]

    pre = report["pretraining"]
    if pre:
        out.append(f"Pretraining (max_update {pre[0]['max_update']:,}):")
        rows = [("objective", "state", "Slurm job", "update", "train", "valid", "tokens/s", "ETA", "last log")]
        for p in pre:
            state = p["state"] + (f", requeued {p['requeues']}x" if p["requeues"] else "")
            job = f"{p['slurm_job_id']} {p['slurm_state'] or ''}".strip() if p["slurm_job_id"] else "-"
            update = (f"{p['update']:,} ({100 * p['update'] / p['max_update']:.0f}%)"
                      if p["update"] is not None else "-")
            age = (monitoring.format_duration(p["last_log_age_s"]) + " ago"
                   if p["last_log_age_s"] is not None and p["state"] != "done" else "-")
            rows.append((p["objective"], state, job, update, _num(p["train_loss"], ".3f"),
                         _num(p["valid_loss"], ".3f"), _num(p["tokens_per_s"], ",.0f"),
                         monitoring.format_duration(p["eta_s"]) if p["eta_s"] is not None else "-", age))
        out += _table(rows)
        out += [f"  {p['objective']} {p['state']}: see {p['log']}" for p in pre
                if p["state"] in ("stopped", "failed") and p["log"]]
        out.append("")

    ev = report["evaluation"]
    if ev:
        objectives = list(next(iter(ev.values())))
        out.append("Evaluation: result files present of planned")
        rows = [("mode", *objectives, "all")]
        for mode, by_obj in ev.items():
            present = sum(v["present"] for v in by_obj.values())
            planned = sum(v["planned"] for v in by_obj.values())
            rows.append((mode, *(f"{v['present']}/{v['planned']}" for v in by_obj.values()), f"{present}/{planned}"))
        out += _table(rows)
        out.append("")

    cells = [t for t in report["tables"] if "cells" in t]
    files = next((t for t in report["tables"] if t["table"] == "files"), None)
    if cells:
        out.append("Tables: cells filled of total (with every seed)")
        out.append("  " + "   ".join(f"{t['table']} {t['filled']}/{t['cells']} ({t['all_seeds']})" for t in cells))
    if files:
        out.append(f"  table, plot and PDF files written: {files['written']}/{files['planned']}")
    out.append("")

    if report["running_jobs"]:
        out.append(f"Running or queued jobs ({len(report['running_jobs'])}):")
        for job in report["running_jobs"][:10]:
            out.append("  " + _job_line(job))
        if len(report["running_jobs"]) > 10:
            out.append(f"  ... and {len(report['running_jobs']) - 10} more (--json lists them all)")
        out.append("")
    if report["failed_jobs"]:
        out.append(f"Failed jobs ({len(report['failed_jobs'])}), in {smk['log']}:")
        for job in report["failed_jobs"]:
            out.append("  " + _job_line(job))
            for path in job["log"]:
                out.append(f"      log: {path}")
            if job["slurm_log"]:
                out.append(f"      Slurm log: {job['slurm_log']}")
        out.append("")
    else:
        out.append("Failed jobs: none")
    for problem in report["problems"]:
        out.append(f"problem: {problem}")
    return "\n".join(out).rstrip() + "\n"


def _job_line(job: dict) -> str:
    wildcards = " ".join(f"{k}={v}" for k, v in job["wildcards"].items())
    if not wildcards and job["description"]:  # a rule with a message: its own words
        text = job["description"]
        wildcards, job = (text if len(text) <= 70 else text[:67] + "..."), {**job, "rule": ""}
    slurm = f" (Slurm job {job['slurm_job_id']}{' ' + job['slurm_state'] if job['slurm_state'] else ''})" \
        if job["slurm_job_id"] else ""
    return f"{job['rule']} {wildcards}".strip() + slurm


def _table(rows: list[tuple]) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m lmvsmt.status",
        description="Where a run stands: pretraining per objective, evaluation results, tables, failed jobs. "
                    "Read-only; safe while Snakemake runs.")
    parser.add_argument("--configfile", default="config/config.yaml", help="the run's config (default: the demo)")
    parser.add_argument("--results", help="results directory (default: the config's results_dir)")
    parser.add_argument("--directory", default=".", help="Snakemake's working directory (holding .snakemake)")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    args = parser.parse_args(argv)
    try:
        config = load(args.configfile)
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    if args.results:
        config["results_dir"] = args.results
    report = collect(config, Path(args.directory))
    sys.stdout.write(json.dumps(report, indent=2) + "\n" if args.json else render(report))


if __name__ == "__main__":
    main()
