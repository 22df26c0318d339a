"""Pretraining runs (issue 5) on a toy binarized data set: every objective trains,
exports and loads back with hidden states; a time-limit signal checkpoints,
requeues and resumes (and the requeue cap fails clearly); a SIGKILLed Snakemake
run resumes from its last checkpoint when rerun."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import torch
import yaml

import damage
import pretrain_toydata
from lmvsmt import config as lmvsmt_config
from lmvsmt import integrity, monitoring, vocabulary
from lmvsmt.pretrain import checkpoints, job, launch, objectives, plan, training

ROOT = Path(__file__).resolve().parent.parent
OUTPUT_NAMES = dict(model="checkpoint_best.pt", dict="dict.txt", command="command.txt", config="config.yaml",
                    log="train_log.jsonl", plot="loss.png")


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    return pretrain_toydata.build(tmp_path_factory.mktemp("toy") / "results", docs_per_lang=10)


def tiny_pretrain(max_update: int, save_every: int, **local) -> dict:
    """The demo's tiny models on a toy budget, one CPU process."""
    per_objective = {o: {"batch_size": 8, "lr": 0.002, "warmup_updates": 2} for o in vocabulary.OBJECTIVES}
    for o in ("2-LM", "CLM", "MLM", "TLM"):
        per_objective[o]["tokens_per_sample"] = 64
    for o in vocabulary.DOUBLE_STACK:
        per_objective[o]["max_tokens"] = None
    return {"launcher": "local", "preset": "tiny", "max_update": max_update, "save_interval_updates": save_every,
            "log_interval": 1, "global_batch": 8, "precision": "fp32", "num_workers": 0, "threads": 1,
            "objectives": per_objective, "local": {"gpus": 0, **local}}


def tiny_config(results: Path, **kwargs) -> dict:
    pcfg = tiny_pretrain(**kwargs)
    pcfg["global_batch"] *= pcfg["local"].get("cpu_processes", 1)
    return lmvsmt_config.validate({"results_dir": str(results), "pretrain": pcfg})


def outputs_in(directory: Path) -> dict:
    return {key: str(directory / name) for key, name in OUTPUT_NAMES.items()}


def data_dir(results: Path, objective: str) -> Path:
    return results / "data-bin" / vocabulary.DATASET[objective]


@pytest.mark.slow
def test_every_objective_trains_exports_and_yields_hidden_states(toy, tmp_path):
    config = tiny_config(toy, max_update=2, save_every=2)
    cpu = launch.Allocation("local", 1, 1, False)
    for objective in vocabulary.OBJECTIVES:
        run_dir = tmp_path / "work" / objective
        command = plan.plan(objective, config, data_dir(toy, objective), run_dir, cpu, check_data=True)
        state = job.run_fairseq(command.argv, raw_log=run_dir / plan.RAW_LOG)
        assert state["last_update"] == 2 and state["start_update"] == 0 and not state["stopped"]
        (run_dir / "command.txt").write_text(command.shell() + "\n")
        checkpoints.finish_run(run_dir, state)
        out = tmp_path / "pretrain" / objective
        training.export_outputs(objective, config, data_dir(toy, objective), run_dir, outputs_in(out))

        records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
        assert [r["update"] for r in records if "train_loss" in r] == [1, 2]
        assert [r["update"] for r in records if "valid_loss" in r] == [2]
        assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / "command.txt").read_text().startswith("fairseq-train ")
        assert yaml.safe_load((out / "config.yaml").read_text())["pretrain"]["max_update"] == 2
        assert (out / "dict.txt").read_text() == (toy / "bpe" / "dict.txt").read_text()

        model = training.load_model(objective, out)
        d = model.dictionary
        # One dictionary for all five models: the file's entries after fairseq's 4 specials.
        assert len(d) == d.nspecial + len(pretrain_toydata_dictionary(toy)) and model.hidden_size == 64
        ids = [[d.index(w) for w in "en1 en2 en5 en7".split()], [d.index(w) for w in "en3 en4".split()]]
        tokens = torch.full((2, 4), d.pad(), dtype=torch.long)
        for i, row in enumerate(ids):
            tokens[i, :len(row)] = torch.tensor(row)
        with torch.no_grad():
            states = model.encode(tokens, "en")
            alone = model.encode(tokens[1:, :2], "en")
        assert states.shape == (2, 4, 64) and torch.isfinite(states).all()
        # Right padding does not change the states of the real tokens.
        assert torch.allclose(states[1, :2], alone[0], atol=1e-5), objective
        # Every layer's states (the analyses' CKA): embeddings, then each layer, the last one
        # being what evaluation reads; a double-stack model's decoder layers on request.
        with torch.no_grad():
            layers = model.hidden_layers(tokens, "en", decoder=True)
        # tiny preset: BART embeddings, 1 encoder and 1 decoder layer; the others embeddings and 2 layers
        top = 1 if objective in vocabulary.DOUBLE_STACK else 2
        assert len(layers) == 3 and all(s.shape == states.shape for s in layers), objective
        assert torch.allclose(layers[top], states, atol=1e-6), objective
        if objective == "2-MT":
            with torch.no_grad():
                assert not torch.allclose(model.encode(tokens, "fr"), states)  # the source language token counts
            with pytest.raises(ValueError, match="__xx__"):
                model.encode(tokens, "xx")


# Log fields that measure time, not training.
TIMING = ("time", "wps", "ups", "wall", "gb_free")


@pytest.mark.slow
def test_two_lm_runs_with_the_same_seed_log_the_same_losses(toy, tmp_path):
    """The same config and seed reproduce the same training. 2-LM's denoising noise
    comes from torch's global generator; with fairseq's batch-buffer threads drawing
    from it beside the main thread's dropout, two runs differed from the first update."""
    config = tiny_config(toy, max_update=2, save_every=1)
    cpu = launch.Allocation("local", 1, 1, False)
    logs = []
    for run in ("first", "second"):
        run_dir = tmp_path / run
        command = plan.plan("2-LM", config, data_dir(toy, "2-LM"), run_dir, cpu, check_data=True)
        job.run_fairseq(command.argv, raw_log=run_dir / plan.RAW_LOG)
        records = plan.read_train_log(run_dir / plan.RAW_LOG)
        logs.append([{k: v for k, v in r.items() if k not in TIMING} for r in records])
    assert [r["update"] for r in logs[0] if "valid_loss" in r] == [1, 2]
    assert logs[0] == logs[1]


def test_a_dictionary_without_the_shared_special_tokens_is_refused(toy, tmp_path):
    data = tmp_path / "documents"
    data.mkdir()
    lines = [line for line in (toy / "bpe" / "dict.txt").read_text().splitlines() if not line.startswith("__zh__")]
    (data / "dict.txt").write_text("\n".join(lines) + "\n")
    config = tiny_config(toy, max_update=2, save_every=2)
    with pytest.raises(plan.PretrainError, match=r"documents/dict.txt: the dictionary lacks __zh__"):
        training.pretrain("CLM", config, data, tmp_path / "work", outputs_in(tmp_path / "out"))
    assert not (tmp_path / "work").exists()


def pretrain_toydata_dictionary(root: Path) -> list[str]:
    return (root / "bpe" / "dict.txt").read_text().splitlines()


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _lock_pid(run_dir: Path) -> int | None:
    text = (run_dir / "train.lock").read_text() if (run_dir / "train.lock").exists() else ""
    match = re.match(r"pid (\d+)", text)
    return int(match.group(1)) if match else None


def _job_log(run_dir: Path, rank: int = 0) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted((run_dir / "submitit").glob(f"*_{rank}_log.*")))


@pytest.mark.slow
def test_time_limit_requeues_resumes_and_the_cap_fails_clearly(toy, tmp_path):
    """SIGUSR2 is what submitit's controller (local) or Slurm (--signal) sends before
    the time limit: the job saves a checkpoint at the next update and is requeued
    (max_requeues 1); the second signal exceeds the cap and the rule fails with one
    clear line, the checkpoint kept for a rerun. Two CPU processes
    (fairseq's distributed data parallel over gloo, as on several GPUs): only rank 0
    gets the signal, and both must stop at the same update or the run would hang."""
    # time_min 5: submitit treats a signal as a time-out (not a preemption) and counts it.
    config = tiny_config(toy, max_update=40, save_every=5, time_min=5, signal_delay_s=1, max_requeues=1,
                         cpu_processes=2)
    work = tmp_path / "work" / "CLM"
    out = outputs_in(tmp_path / "pretrain" / "CLM")
    errors: list[BaseException] = []

    def rule():
        try:
            training.pretrain("CLM", config, data_dir(toy, "CLM"), work, out)
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            errors.append(exc)

    thread = threading.Thread(target=rule)
    thread.start()
    run_dir = _wait_for(lambda: next(work.glob("run-*/checkpoint_last.pt"), None), 120, "a checkpoint").parent
    first_pid = _wait_for(lambda: _lock_pid(run_dir), 30, "the training process")
    os.kill(first_pid, signal.SIGUSR2)
    # The requeued process resumes and writes a newer checkpoint.
    second_pid = _wait_for(lambda: (p := _lock_pid(run_dir)) != first_pid and p, 120, "the requeued process")
    _wait_for(lambda: re.search(r"resuming from .* at update [1-9]", _job_log(run_dir)), 60, "the resume")
    resumed_at = int(re.search(r"resuming from .* at update (\d+)", _job_log(run_dir)).group(1))
    _wait_for(lambda: any(int(p.stem.split("_")[-1]) > resumed_at for p in run_dir.glob("checkpoint_*_*.pt")),
              120, "a checkpoint after the resume")
    os.kill(second_pid, signal.SIGUSR2)
    thread.join(timeout=180)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], launch.LaunchError), errors
    message = str(errors[0])
    assert "time limit more often than max_requeues allows" in message and "rerunning resumes" in message
    assert "\n" not in message
    stops = re.findall(r"stopping at update (\d+) for a requeue", _job_log(run_dir))
    rank1_stops = re.findall(r"stopping at update (\d+) for a requeue", _job_log(run_dir, rank=1))
    assert len(stops) == 2 and stops == rank1_stops  # both ranks stopped together, twice
    saved_at = int(stops[-1])
    assert saved_at > resumed_at > 0

    assert Path(f"{run_dir}/checkpoint_last.pt").exists() and not (run_dir / plan.DONE).exists()
    # Each start of the training is recorded (lmvsmt.status counts the requeues from it),
    # and every log interval prints the rate and the ETA to max_update.
    assert [s["processes"] for s in monitoring.read_starts(run_dir)] == [2, 2]
    assert re.search(r"lmvsmt: update \d+ of 40 \([\d.]+%\): [\d.]+ updates/s, [\d,]+ tokens/s, ETA ",
                     _job_log(run_dir))


def _pretrain_workflow(snakemake, toy: Path, tmp_path: Path, objective: str, **budget) -> tuple[Path, str, list[str]]:
    """A results directory holding the toy data, and the Snakemake command that trains
    `objective` there: (results, target, command)."""
    results = tmp_path / "results"
    results.mkdir()
    for sub in ("bpe", "data-bin"):
        os.symlink(toy / sub, results / sub)
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["results_dir"] = str(results)
    cfg["pretrain"] = tiny_pretrain(**budget)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    target = str(results / "pretrain" / objective / "checkpoint_best.pt")
    return results, target, snakemake.command(target, "--allowed-rules", "pretrain", configfile=path, cores=1)


def test_killed_snakemake_run_resumes_from_its_checkpoint(toy, tmp_path, snakemake):
    """SIGKILL the whole Snakemake process group after a checkpoint was written;
    rerunning the same target (after `snakemake --unlock`) continues from the saved
    update, and a further run has nothing to do."""
    results, target, base = _pretrain_workflow(snakemake, toy, tmp_path, "TLM", max_update=40, save_every=10)

    proc = subprocess.Popen(base, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        work = results / "work" / "pretrain" / "TLM"
        ckpt = _wait_for(lambda: next(work.glob("run-*/checkpoint_last.pt"), None), 180, "a checkpoint")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    run_dir = ckpt.parent
    pid = _lock_pid(run_dir)
    _wait_for(lambda: pid is None or not _alive(pid), 10, "the killed training process to go")
    assert not Path(target).exists()

    assert snakemake.run([*base, "--unlock"]).returncode == 0
    rerun = snakemake.run(base, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    rule_log = (results / "logs" / "pretrain" / "TLM.log").read_text()
    resumed = re.findall(r"resuming from .*checkpoint_last\.pt at update (\d+)", rule_log)
    assert resumed and int(resumed[-1]) >= 10, rule_log[-3000:]
    assert json.loads((run_dir / plan.DONE).read_text()) == {"update": 40, "resumed_from": int(resumed[-1])}
    assert Path(target).exists()
    records = [json.loads(line) for line in (results / "pretrain" / "TLM" / "train_log.jsonl").read_text().splitlines()]
    # Once each: the resumed run's lines replace those logged after the checkpoint.
    assert [r["update"] for r in records if "train_loss" in r] == list(range(1, 41))

    again = snakemake.run([*base, "-n"], timeout=300)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


@pytest.mark.slow
def test_loader_workers_stop_when_training_ends(toy, tmp_path):
    """Training stops mid-epoch with fairseq's persistent loader workers alive; freeing
    those loaders later (garbage collection, process exit) waits 5 s per worker before
    killing it, which kept a finished GPU job with 15 workers running for minutes. They
    are stopped when the run returns."""
    import multiprocessing

    config = tiny_config(toy, max_update=3, save_every=3)
    config["pretrain"]["num_workers"] = 2
    cpu = launch.Allocation("local", 1, 1, False)
    command = plan.plan("CLM", config, data_dir(toy, "CLM"), tmp_path / "run", cpu, check_data=True)
    assert "--data-buffer-size" in command.argv
    state = job.run_fairseq(command.argv)
    assert state["last_update"] == 3
    assert multiprocessing.active_children() == []


# --------------------------------------------------------------------------- faults


def _interrupted_run(toy: Path, tmp_path: Path, upto: int = 10, total: int = 20, every: int = 5):
    """The run directory a job killed at update `upto` leaves behind (checkpoints every
    `every` updates), for a config that trains to `total`: (config, work root, run dir)."""
    config = tiny_config(toy, max_update=total, save_every=every)
    work = tmp_path / "work" / "CLM"
    run_dir = work / f"run-{plan.fingerprint(config, 'CLM', data_dir(toy, 'CLM'))}"
    partial = tiny_config(toy, max_update=upto, save_every=every)
    command = plan.plan("CLM", partial, data_dir(toy, "CLM"), run_dir, launch.Allocation("local", 1, 1, False),
                            check_data=True)
    job.run_fairseq(command.argv, raw_log=run_dir / plan.RAW_LOG)
    return config, work, run_dir


def _numbered(run_dir: Path, update: int) -> Path:
    return next(run_dir.glob(f"checkpoint_*_{update}.pt"))


@pytest.mark.slow
def test_bit_flipped_checkpoints_are_set_aside_and_training_resumes_from_an_intact_one(toy, tmp_path):
    """4 KiB flipped inside a tensor of checkpoint_last.pt and of its interval copy (zip
    structure intact): both are moved aside, never resumed from; training resumes from
    the checkpoint before and finishes."""
    config, work, run_dir = _interrupted_run(toy, tmp_path)
    damaged = [run_dir / "checkpoint_last.pt", _numbered(run_dir, 10)]
    for path in damaged:
        damage.flip_bits(path, 4096)
    training.pretrain("CLM", config, data_dir(toy, "CLM"), work, outputs_in(tmp_path / "out"))
    assert json.loads((run_dir / plan.DONE).read_text()) == {"update": 20, "resumed_from": 5}
    aside = sorted(p.name for p in run_dir.glob("*.bad-*"))
    assert [name.split(".bad-")[0] for name in aside] == sorted(p.name for p in damaged)
    assert re.search(r"checkpoint_last\.pt is damaged \(Bad CRC-32 for file '[^']+'\): moved aside", _job_log(run_dir))

    # The exported model and the best checkpoint it came from, damaged after training:
    # the rerun restores the best one from its interval copy and exports it again.
    best, final = run_dir / "checkpoint_best.pt", run_dir / plan.FINAL / "checkpoint_best.pt"
    digest = integrity.member_digest(best)
    damage.flip_bits(final, 4096)
    damage.flip_bits(best, 4096)
    training.pretrain("CLM", config, data_dir(toy, "CLM"), work, outputs_in(tmp_path / "out"))
    assert integrity.member_digest(best) == digest and integrity.archive_problem(best) is None
    assert integrity.archive_problem(final) is None
    assert integrity.archive_problem(tmp_path / "out" / "checkpoint_best.pt") is None


def _poison(path: Path) -> None:
    """A checkpoint whose weights hold NaN: an intact file (its CRCs agree) from which
    training diverges at the first update."""
    from lmvsmt import fairseq_compat

    fairseq_compat.prepare()
    state = torch.load(path, map_location="cpu", weights_only=False)
    key = next(k for k in state["model"] if k.endswith("embed_tokens.weight"))
    state["model"][key] = torch.full_like(state["model"][key], float("nan"))
    torch.save(state, path)


@pytest.mark.slow
def test_a_run_that_diverges_right_after_resuming_tries_the_previous_checkpoint(toy, tmp_path):
    """Resuming from a checkpoint whose weights are NaN diverges at the first update: its
    copies are moved aside, the job is resubmitted, resumes from the checkpoint before
    and finishes."""
    config, work, run_dir = _interrupted_run(toy, tmp_path)
    last, numbered = run_dir / "checkpoint_last.pt", _numbered(run_dir, 10)
    _poison(last)
    shutil.copyfile(last, numbered)  # fairseq's copy of the same save
    training.pretrain("CLM", config, data_dir(toy, "CLM"), work, outputs_in(tmp_path / "out"))
    assert json.loads((run_dir / plan.DONE).read_text()) == {"update": 20, "resumed_from": 5}
    note = json.loads((run_dir / launch.ROLLBACK).read_text())
    assert (note["diverged_at"], note["resumed_from"], note["resume_at"]) == (11, 10, 5)
    assert sorted(name.split(".diverged-")[0] for name in note["set_aside"]) == sorted([last.name, numbered.name])
    assert all((run_dir / name).exists() for name in note["set_aside"])
    model = training.load_model("CLM", tmp_path / "out")
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.slow
def test_a_run_that_diverges_again_from_the_previous_checkpoint_gives_up(toy, tmp_path):
    config, work, run_dir = _interrupted_run(toy, tmp_path)
    _poison(_numbered(run_dir, 5))
    _poison(run_dir / "checkpoint_last.pt")
    shutil.copyfile(run_dir / "checkpoint_last.pt", _numbered(run_dir, 10))
    with pytest.raises(launch.LaunchError) as failed:
        training.pretrain("CLM", config, data_dir(toy, "CLM"), work, outputs_in(tmp_path / "out"))
    message = str(failed.value)
    assert "PretrainError: training diverged again: non-finite loss" in message, message
    assert "after resuming from update 5" in message and "giving up" in message and "\n" not in message


def _intact_checkpoint(work: Path) -> Path | None:
    """checkpoint_last.pt of the run under `work` once fairseq has finished copying it."""
    last = next(work.glob("run-*/checkpoint_last.pt"), None)
    return last if last is not None and integrity.archive_problem(last) is None else None


@pytest.mark.slow
def test_a_full_disk_during_pretraining_is_named_in_the_console_and_at_the_end_of_the_rule_log(
        toy, tmp_path, snakemake):
    """The work directory on a small file system: the second checkpoint save fills it.
    The job's error names the checkpoint and the free space; the console and the rule
    log end with that one line."""
    results, target, base = _pretrain_workflow(snakemake, toy, tmp_path, "CLM", max_update=40, save_every=10)
    with damage.small_disk(tmp_path / "disk", "64m") as disk:
        (results / "work").symlink_to(disk)
        proc = subprocess.Popen(base, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            last = _wait_for(lambda: _intact_checkpoint(disk / "pretrain" / "CLM"), 300, "the first checkpoint")
            damage.fill(disk, leave=last.stat().st_size // 2)  # the next save cannot fit
            console, _ = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        (disk / "filler").unlink()
    assert proc.returncode != 0
    rule_log = (results / "logs" / "pretrain" / "CLM.log").read_text().rstrip("\n").splitlines()
    summary = rule_log[-1]
    assert re.search(r"checkpoint_\d+_20\.pt: no space left on device \(.* free on .*disk\)", summary), summary
    assert summary.startswith("pretraining CLM failed in local job") and "Error stream produced" not in summary
    assert summary in console.splitlines(), console[-3000:]


@pytest.mark.slow
def test_a_resubmission_on_a_full_disk_fails_with_one_line(toy, tmp_path):
    """A job killed after saving progress is resubmitted; when the disk is full by then,
    the resubmission fails with one line naming the file and the free space."""
    config = tiny_config(toy, max_update=200, save_every=5)
    errors: list[BaseException] = []
    with damage.small_disk(tmp_path / "disk", "64m") as disk:
        work = disk / "CLM"

        def rule():
            try:
                training.pretrain("CLM", config, data_dir(toy, "CLM"), work, outputs_in(tmp_path / "out"))
            except BaseException as exc:  # noqa: BLE001 (reported by the test)
                errors.append(exc)

        thread = threading.Thread(target=rule)
        thread.start()
        last = _wait_for(lambda: _intact_checkpoint(work), 300, "the first checkpoint")
        pid = _wait_for(lambda: _lock_pid(last.parent), 30, "the training process")
        os.kill(pid, signal.SIGKILL)
        damage.fill(disk)
        thread.join(timeout=300)
        assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], launch.LaunchError), errors
    message = str(errors[0])
    assert message.startswith("pretraining CLM: cannot resubmit the local job: ") and "\n" not in message
    assert re.search(r"/submitit\S*: no space left on device \(0 B free on \S+/disk\)", message), message
