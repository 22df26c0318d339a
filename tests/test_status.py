"""Watching a run: `python -m lmvsmt.status` on an empty, a finished and a damaged
results directory (text and JSON, never writing into it), its Slurm and lock
readings, and the TensorBoard curves and progress lines a demo run leaves behind."""
from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmvsmt import config as lmvsmt_config
from lmvsmt import monitoring, runstate, status
from lmvsmt.pretrain import plan

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "config.yaml"
DEMO = lmvsmt_config.load(CONFIG)
N_RESULTS = len(DEMO["objectives"]) * len(DEMO["tasks"]) * len(DEMO["languages"]) * len(DEMO["evaluation"]["seeds"])


def run_status(results: Path, *args: str, env=None) -> subprocess.CompletedProcess:
    """The command a user types, from the repository root."""
    proc = subprocess.run([sys.executable, "-m", "lmvsmt.status", "--configfile", str(CONFIG), "--results",
                           str(results), *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    return proc


def listing(root: Path) -> dict:
    """Every file and directory under `root` with its size and mtime."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.is_dir(), p.stat().st_size if p.is_file() else 0, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


def both_forms(results: Path, env=None) -> tuple[str, dict]:
    """Text and JSON status; the results directory is unchanged by them."""
    before = listing(results)
    text = run_status(results, env=env).stdout
    report = json.loads(run_status(results, "--json", env=env).stdout)
    assert listing(results) == before
    return text, report


def by_objective(report: dict) -> dict:
    return {p["objective"]: p for p in report["pretraining"]}


def test_empty_results_directory(tmp_path):
    results = tmp_path / "results"
    text, report = both_forms(results)
    assert not results.exists()
    results.mkdir()
    text, report = both_forms(results)
    assert list(results.iterdir()) == []
    assert {p["state"] for p in report["pretraining"]} == {"not started"}
    assert [p["objective"] for p in report["pretraining"]] == DEMO["objectives"]
    for mode in DEMO["evaluation"]["modes"]:
        assert report["evaluation"][mode]["CLM"] == {"present": 0, "planned": N_RESULTS // 5}
    cells = {t["table"]: t for t in report["tables"]}
    assert cells["table3"] == {"table": "table3", "cells": 3 * 4 * 6, "filled": 0, "all_seeds": 0}
    assert report["failed_jobs"] == [] and report["snakemake"]["running"] is False
    assert "not started" in text and "0/360" in text and "Failed jobs: none" in text


def test_finished_demo(demo):
    text, report = both_forms(demo)
    for p in report["pretraining"]:
        assert p["state"] == "done" and p["update"] == DEMO["pretrain"]["max_update"], p
        assert p["requeues"] == 0 and p["eta_s"] is None
        assert p["tokens_per_s"] > 0 and p["updates_per_s"] > 0
        assert isinstance(p["train_loss"], float) and isinstance(p["valid_loss"], float)
    for mode in DEMO["evaluation"]["modes"]:
        assert all(v["present"] == v["planned"] == N_RESULTS // 5 for v in report["evaluation"][mode].values())
    for t in report["tables"]:
        if "cells" in t:
            assert t["filled"] == t["all_seeds"] == t["cells"] > 0, t
        else:
            assert t["written"] == t["planned"], t
    assert report["failed_jobs"] == [] and report["problems"] == []
    assert "360/360" in text and "table9 120/120 (120)" in text
    for objective in DEMO["objectives"]:
        assert any(line.split()[:2] == [objective, "done"] for line in text.splitlines()), text


@pytest.fixture
def damaged(demo, tmp_path):
    """A copy of the finished demo (mtimes kept; without the checkpoints of the
    training runs, which the status does not read) with outputs removed."""
    results = tmp_path / "results"
    shutil.copytree(demo, results, symlinks=True,
                    ignore=lambda d, names: [n for n in names if n.endswith(".pt") and "/work/" in d])
    (results / "pretrain" / "MLM" / "loss.png").unlink()
    (results / "eval" / "finetune" / "TLM" / "NLI" / "fr" / "seed2.json").unlink()
    return results


def test_removed_outputs_and_a_failed_job(damaged, snakemake):
    """Remove outputs, break the feature cache probing reads, and let Snakemake
    fail for real on it: the status names the rule, its wildcards and its log."""
    results = damaged
    bad = results / "features" / "CLM" / "POS" / "en" / "features.pt"
    bad.write_bytes(b"not a torch file")
    target = results / "eval" / "probe" / "CLM" / "POS" / "en" / "seed1.json"
    target.unlink()
    proc = snakemake(target, "--allowed-rules", "probe", cores=2, results=results, profile=True)
    assert proc.returncode != 0 and "Error in rule probe" in proc.stdout + proc.stderr, proc.stderr[-3000:]

    text, report = both_forms(results)
    (failed,) = report["failed_jobs"]
    assert failed["rule"] == "probe" and failed["wildcards"] == {"objective": "CLM"}
    (log,) = failed["log"]
    assert Path(log) == results / "logs" / "probe" / "CLM.log" and Path(log).exists()
    assert report["snakemake"]["log"].startswith(".snakemake/log/") and not report["snakemake"]["running"]
    assert "probe objective=CLM" in text and f"log: {log}" in text

    states = {o: p["state"] for o, p in by_objective(report).items()}
    assert states["MLM"] == "trained, not exported" and states["CLM"] == "done", states
    ev = report["evaluation"]
    assert ev["finetune"]["TLM"]["present"] == N_RESULTS // 5 - 1
    # Snakemake removed the failed job's outputs before it ran.
    assert ev["probe"]["CLM"]["present"] < N_RESULTS // 5
    cells = {t["table"]: t for t in report["tables"]}
    assert cells["table4"]["filled"] == cells["table4"]["cells"]  # TLM NLI fr keeps 2 of 3 seeds
    assert cells["table4"]["all_seeds"] == cells["table4"]["cells"] - 1


def test_training_in_progress_local_and_on_slurm(damaged, tmp_path, monkeypatch):
    """A training process holding the run's lock is running (local launcher); with
    launcher slurm, submitit's job id and Slurm's state of it are shown."""
    results = damaged
    (results / "pretrain" / "CLM" / "checkpoint_best.pt").unlink()
    (run_dir,) = (results / "work" / "pretrain" / "CLM").glob("run-*")
    (run_dir / plan.DONE).unlink()
    # Three starts of the training: two requeues.
    (run_dir / monitoring.STARTS).write_text('{"time": 1, "job_id": "1", "host": "h", "processes": 1}\n' * 3)
    with open(run_dir / plan.LOCK, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert status.lock_holder(run_dir / plan.LOCK) == os.getpid()
        text, report = both_forms(results)
    clm = by_objective(report)["CLM"]
    assert clm["state"] == "running" and clm["requeues"] == 2 and clm["slurm_job_id"] is None
    assert "running, requeued 2x" in text
    assert status.lock_holder(run_dir / plan.LOCK) is None

    # launcher slurm: submitit's files name the job; a fake sacct answers as Slurm does.
    config = lmvsmt_config.load(CONFIG)
    config["results_dir"] = str(results)
    config["pretrain"]["launcher"] = "slurm"
    folder = run_dir / "submitit"
    shutil.rmtree(folder)  # the local launcher's files
    folder.mkdir()
    for job_id in ("4241", "4242"):
        (folder / f"{job_id}_submitted.pkl").write_bytes(b"")
    (folder / "job.json").write_text(json.dumps({"job_id": "4242", "tasks": 8}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sacct = bin_dir / "sacct"
    sacct.write_text("#!/bin/sh\necho \"$@\" >> " + str(tmp_path / "sacct.args") + "\necho '4242|PENDING'\n")
    sacct.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    assert status.submitit_job_ids(folder) == ["4241", "4242"]
    report = status.collect(config, ROOT)
    clm = by_objective(report)["CLM"]
    assert (clm["state"], clm["slurm_job_id"], clm["slurm_state"]) == ("queued", "4242", "PENDING")
    assert "-j 4242 " in (tmp_path / "sacct.args").read_text()
    assert report["slurm"] is True


def test_demo_leaves_tensorboard_curves_and_progress_lines(demo):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
        acc = EventAccumulator(str(run_dir))
        acc.Reload()
        return [(e.step, e.value) for e in acc.Scalars(tag)]

    board = demo / "tensorboard"
    max_update = DEMO["pretrain"]["max_update"]
    for objective in DEMO["objectives"]:
        # Pretraining: fairseq's own event files, one curve per objective.
        (run,) = (board / "pretrain" / objective).glob("run-*")
        (work,) = (demo / "work" / "pretrain" / objective).glob("run-*")
        assert run.name == work.name and len(monitoring.read_starts(work)) == 1  # started once
        train = scalars(run / "train_inner", "loss")
        assert train[-1][0] == max_update and len(train) == max_update // DEMO["pretrain"]["log_interval"]
        assert [step for step, _ in scalars(run / "valid", "loss")][-1] == max_update
        # Probing and fine-tuning: one point per epoch run, for every seed; the
        # validation curve is the one the result file records.
        for mode in DEMO["evaluation"]["modes"]:
            for seed in DEMO["evaluation"]["seeds"]:
                unit = board / mode / objective / "POS" / "en" / f"seed{seed}"
                result = json.loads((demo / "eval" / mode / objective / "POS" / "en" / f"seed{seed}.json").read_text())
                for key in ("train_loss", "valid_loss", "valid_accuracy"):
                    points = scalars(unit, f"{mode}/POS/en/{key}")
                    assert [step for step, _ in points] == list(range(1, result["epochs_run"] + 1)), (unit, key)
                valid = [v for _, v in scalars(unit, f"{mode}/POS/en/valid_loss")]
                assert valid == pytest.approx(result["valid_losses"], rel=1e-6)
                accuracy = [v for _, v in scalars(unit, f"{mode}/POS/en/valid_accuracy")]
                assert all(0 <= v <= 1 for v in accuracy)
        # The pretraining log: rate, tokens/s and ETA at every log interval.
        log = (demo / "logs" / "pretrain" / f"{objective}.log").read_text()
        assert f"lmvsmt: update {max_update} of {max_update} (100.0%): " in log
        assert log.count(" updates/s, ") >= max_update // DEMO["pretrain"]["log_interval"]
    finetune_log = (demo / "logs" / "finetune" / "CLM.log").read_text()
    epochs = DEMO["evaluation"]["finetune"]["epochs"]
    assert f"finetune CLM POS en seed 1: epoch 1 of at most {epochs}: train loss " in finetune_log
    assert "encode documents train" in (demo / "logs" / "bpe_documents" / "bpe_documents.log").read_text()


def test_progress_figures():
    record = {"update": 1_000, "ups": 2.0, "wps": 123456.7}
    assert monitoring.progress_line(record, 601_000) == (
        "lmvsmt: update 1,000 of 601,000 (0.2%): 2.00 updates/s, 123,457 tokens/s, ETA 3d 11h")
    assert monitoring.format_duration(59) == "59s" and monitoring.format_duration(3 * 3600 + 60) == "3h 01m"
    assert monitoring.eta_seconds(10, 10, 0.0) is None and monitoring.eta_seconds(10, 20, 5) == 2


def test_snakemake_slurm_log_lines_are_read(tmp_path):
    """Lines as Snakemake and its Slurm executor write them (a grouped probing job
    and a failed fine-tuning job)."""
    log = tmp_path / ".snakemake" / "log" / "2026-01-01T000000.000000.snakemake.log"
    log.parent.mkdir(parents=True)
    log.write_text(f"""  Working directory: {tmp_path}
Select jobs to execute...
[Mon Jan  1 00:00:00 2026]
rule finetune:
    input: results/pretrain/CLM/checkpoint_best.pt
    output: results/eval/finetune/CLM/POS/en/seed1.json
    log: results/logs/finetune/CLM/POS/en.log
    jobid: 7
    benchmark: results/benchmarks/finetune/CLM/POS/en.tsv
    reason: Missing output files: results/eval/finetune/CLM/POS/en/seed1.json
    wildcards: objective=CLM, task=POS, lang=en
    threads: 4
    resources: mem_mb=4000, runtime=60
Job 7 has been submitted with SLURM jobid 5150 (log: {tmp_path}/.snakemake/slurm_logs/rule_finetune/CLM_POS_en/5150.log).
[Mon Jan  1 00:01:00 2026]
Error in rule finetune:
    message: SLURM-job '5150' failed, SLURM status is: 'FAILED'. For further error details see the cluster/cloud log and the log files of the involved rule(s).
    jobid: 7
    input: results/pretrain/CLM/checkpoint_best.pt
    output: results/eval/finetune/CLM/POS/en/seed1.json
    log: results/logs/finetune/CLM/POS/en.log, {tmp_path}/.snakemake/slurm_logs/rule_finetune/CLM_POS_en/5150.log (check log file(s) for error details)
    external_jobid: 5150
3 of 9 steps (33%) done
Job 4: pretrain CLM: fairseq-train results/data-bin/documents --task language_modeling
Reason: Missing output files: results/pretrain/CLM/checkpoint_best.pt
Job 4 has been submitted with SLURM jobid 5151 (log: {tmp_path}/.snakemake/slurm_logs/rule_pretrain/CLM/5151.log).
""")
    # Snakemake's marks of the outputs of running jobs, with the executor's job id.
    marks = tmp_path / ".snakemake" / "incomplete"
    marks.mkdir()
    long_name = base64.urlsafe_b64encode(f"results/pretrain/CLM/{'x' * 300}.pt".encode()).decode()
    (marks / f"@{long_name[:254]}").mkdir()
    (marks / f"@{long_name[:254]}" / long_name[254:]).write_text('{"external_jobid": "5151"}')
    short = base64.urlsafe_b64encode(b"results/pretrain/CLM/dict.txt").decode()
    (marks / short).write_text('{"external_jobid": null}')
    (marks / "migration_underway").write_text("")
    assert runstate.incomplete_outputs(tmp_path) == {
        str(tmp_path / f"results/pretrain/CLM/{'x' * 300}.pt"): "5151",
        str(tmp_path / "results/pretrain/CLM/dict.txt"): None}
    parsed = runstate.latest_snakemake_log(tmp_path, (tmp_path / "results").resolve())
    job = parsed.jobs["7"]
    assert (job.rule, job.wildcards, job.failed, job.slurm_job_id) == (
        "finetune", {"objective": "CLM", "task": "POS", "lang": "en"}, True, "5150")
    assert job.log == ["results/logs/finetune/CLM/POS/en.log"]
    assert job.slurm_log == f"{tmp_path}/.snakemake/slurm_logs/rule_finetune/CLM_POS_en/5150.log"
    assert parsed.progress == (3, 9)
    pretraining = parsed.jobs["4"]
    assert (pretraining.rule, pretraining.slurm_job_id) == ("?", "5151")
    assert pretraining.description.startswith("pretrain CLM: fairseq-train ")
    assert runstate.latest_snakemake_log(tmp_path, (tmp_path / "other").resolve()) is None


def test_monitoring_flags_reach_fairseq_and_change_no_result():
    from lmvsmt import fairseq_compat
    from lmvsmt.pretrain import objectives
    from lmvsmt.evaluate import results

    plain = lmvsmt_config.load(CONFIG)
    watched = lmvsmt_config.load(CONFIG)
    watched["monitoring"]["wandb_project"] = "lmvsmt-demo"
    command = objectives.build("CLM", watched, "results/data-bin/documents", "/work/run-abc", 1, False)
    assert command.argv[command.argv.index("--tensorboard-logdir") + 1] == "results/tensorboard/pretrain/CLM/run-abc"
    assert command.argv[command.argv.index("--wandb-project") + 1] == "lmvsmt-demo"
    assert monitoring.wandb_environment(watched, "CLM", Path("/work/run-abc")) == {
        "WANDB_NAME": "CLM", "WANDB_RUN_ID": "CLM-run-abc", "WANDB_RESUME": "allow"}
    fairseq_compat.prepare()
    from fairseq import options

    args = options.parse_args_and_arch(options.get_training_parser(), input_args=command.argv[1:])
    assert (args.tensorboard_logdir, args.wandb_project) == ("results/tensorboard/pretrain/CLM/run-abc",
                                                             "lmvsmt-demo")

    plain["monitoring"]["tensorboard"] = False
    assert "--tensorboard-logdir" not in objectives.build("CLM", plain, "d", "/work/run-abc", 1, False).argv
    assert monitoring.wandb_environment(plain, "CLM", Path("/work/run-abc")) == {}
    # Logging settings are neither a rerun trigger nor part of a result's provenance.
    assert objectives.training_settings(plain, "CLM") == objectives.training_settings(watched, "CLM")
    assert results.provenance(plain)["config_hash"] == results.provenance(watched)["config_hash"]
