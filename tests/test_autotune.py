"""The `auto` settings of a pretraining job (lmvsmt.pretrain.autotune): the largest batch that
fits (with a fake memory probe), chosen once per run and reused by a requeued job,
precision and loader workers, the command filled in, the run's config and log.
The memory trial itself runs a real training step on the longest samples (on the CPU
here; on a GPU in *cuda* tests and in benchmarks/pretrain.py)."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import torch
import yaml

import pretrain_toydata
from lmvsmt.pretrain import autotune
from lmvsmt import config as lmvsmt_config
from lmvsmt import vocabulary
from lmvsmt.pretrain import job, objectives, training

GIB = autotune.GIB
PAPER = lmvsmt_config.load(Path(__file__).resolve().parent.parent / "config" / "paper.yaml")


def fake_probe(base_gib: float, per_sequence_gib: float, oom_above: int | None = None, calls=None):
    def probe(batch: int) -> int:
        if calls is not None:
            calls.append(batch)
        if oom_above is not None and batch > oom_above:
            raise autotune.OutOfMemory()
        return int((base_gib + per_sequence_gib * batch) * GIB)

    return probe


def test_candidates_divide_the_global_batch_per_process():
    assert autotune.candidates(4096, 8) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert autotune.candidates(96, 2) == [1, 2, 3, 4, 6, 8, 12, 16, 24, 48]
    with pytest.raises(autotune.AutotuneError, match="not a multiple of the 3 processes"):
        autotune.candidates(4096, 3)


def test_largest_batch_within_the_headroom():
    """80 GiB, 10% headroom: 72 GiB usable; 2 GiB + 0.25 GiB per sequence: 280 fit, so
    256 is the largest divisor of 512 that does, found in a few probes."""
    calls = []
    batch, trials, reason = autotune.search(autotune.candidates(4096, 8), fake_probe(2, 0.25, calls=calls),
                                            80 * GIB, 0.1)
    assert batch == 256
    assert len(calls) <= 4 and 256 in calls and 512 in calls
    assert "256 (66.0 GiB)" in reason and "512 peaked at 130.0 GiB" in reason and "90% of the GPU's 80.0 GiB" in reason
    assert [t.fits for t in trials if t.batch == 512] == [False]


def test_out_of_memory_counts_as_not_fitting():
    batch, trials, reason = autotune.search(autotune.candidates(4096, 8), fake_probe(1, 0.01, oom_above=40),
                                            80 * GIB, 0.1)
    assert batch == 32 and "64 ran out of memory" in reason
    assert any(t.peak_bytes is None for t in trials)


def test_whole_per_process_batch_when_everything_fits():
    batch, _, reason = autotune.search(autotune.candidates(64, 1), fake_probe(1, 0.01), 80 * GIB, 0.1)
    assert batch == 64 and "update_freq 1" in reason


def test_nothing_fits_is_one_clear_error():
    with pytest.raises(autotune.AutotuneError, match="even 1 sequence"):
        autotune.search(autotune.candidates(64, 1), fake_probe(100, 1), 80 * GIB, 0.1)


class FakeTrial:
    """Stands in for autotune.FairseqTrial: records the command it was built for."""

    made: list = []

    def __init__(self, argv):
        FakeTrial.made.append(argv)
        self.capacity, self.device = 80 * GIB, "Fake GPU"
        self.probe = fake_probe(2, 0.25)
        self.closed = False

    def __call__(self, batch):
        return self.probe(batch)

    def close(self):
        self.closed = True


def _refuse(argv):
    raise AssertionError("a requeued job must not search again")


def gpu_command(objective: str = "CLM", world: int = 8, **pretrain_keys) -> objectives.Command:
    cfg = lmvsmt_config.validate({"pretrain": {"precision": "fp16", **pretrain_keys}})
    return objectives.build(objective, cfg, "D", "S", world, gpu=True)


def test_the_run_chooses_once_and_a_requeued_job_reuses_it(tmp_path, monkeypatch):
    FakeTrial.made = []
    command = gpu_command()
    assert objectives.unresolved(command.argv) == ["--batch-size", "--update-freq", "--num-workers"]
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "8")
    logged = []
    argv, record = job.resolve_auto(command.argv, tmp_path, 4096, 8, 0.1, make_probe=FakeTrial)
    assert record["batch_size"] == 256 and record["update_freq"] == 2 and record["processes"] == 8
    # the trial ran one process, its own per-step batch, no loader workers, in the run's precision
    trial_argv = FakeTrial.made[0]
    assert trial_argv[trial_argv.index("--distributed-world-size") + 1] == "1" and "--fp16" in trial_argv
    assert objectives.unresolved(trial_argv) == []
    assert not objectives.unresolved(argv)
    got = dict(zip(argv, argv[1:]))
    assert (got["--batch-size"], got["--update-freq"], got["--num-workers"]) == ("256", "2", "7")
    saved = json.loads((tmp_path / autotune.RESOLVED).read_text())
    assert saved["batch_size"] == 256 and "largest divisor of 512" in saved["batch_reason"]

    # the requeued job: no second trial, the same batch and update_freq
    argv2, again = job.resolve_auto(command.argv, tmp_path, 4096, 8, 0.1, make_probe=_refuse)
    assert argv2 == argv and again == saved
    # a job with another process count chooses again (and says so)
    autotune.choose(gpu_command(world=4).argv, tmp_path, 4096, 4, 0.1, make_probe=FakeTrial, log=logged.append)
    assert "chosen for 8 processes, this job has 4" in logged[0]
    assert json.loads((tmp_path / autotune.RESOLVED).read_text())["update_freq"] == 4


def test_other_ranks_wait_for_rank_0(tmp_path):
    command = gpu_command(world=2)

    def rank0():
        time.sleep(0.5)
        job.resolve_auto(command.argv, tmp_path, 4096, 2, 0.1, make_probe=FakeTrial)

    thread = threading.Thread(target=rank0)
    thread.start()
    argv, record = job.resolve_auto(command.argv, tmp_path, 4096, 2, 0.1, rank=1, processes_on_node=2)
    thread.join()
    assert record["processes"] == 2 and not objectives.unresolved(argv)
    with pytest.raises(autotune.AutotuneError, match="rank 0 wrote no choices for 16 processes"):
        autotune.wait(tmp_path, 16, timeout_s=0.3, poll_s=0.1)


def test_precision_auto_is_bf16_from_compute_capability_8(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Fake A100")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (8, 0))
    command = gpu_command(precision="auto")
    assert objectives.PRECISION_AUTO in command.argv
    argv, record = job.resolve_auto(command.argv, tmp_path, 4096, 8, 0.1, make_probe=FakeTrial)
    assert "--bf16" in argv and "--fp16" not in argv and record["precision"] == "bf16"
    assert "--bf16" in FakeTrial.made[-1]  # the memory trial ran in the chosen precision
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (7, 0))
    assert autotune.best_precision()[0] == "fp16"


def test_loader_workers_are_the_process_cpus_minus_one(monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "8")
    assert autotune.loader_workers(4)[0] == 7
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    monkeypatch.setattr(autotune.os, "sched_getaffinity", lambda pid: set(range(16)))
    assert autotune.loader_workers(1)[0] == 15
    assert autotune.loader_workers(4)[0] == 3
    monkeypatch.setattr(autotune.os, "sched_getaffinity", lambda pid: {0})
    assert autotune.loader_workers(1)[0] == 0


def test_cpu_runs_use_the_fixed_fallback_batch():
    cmd = objectives.build("MLM", PAPER, "D", "S", 1, gpu=False)
    got = dict(zip(cmd.argv, cmd.argv[1:]))
    assert got["--batch-size"] == "64" and cmd.update_freq == 64  # the authors' per-GPU batch
    assert any("batch_size_cpu 64" in note for note in cmd.notes)


def test_auto_batch_with_a_token_cap_is_one_clear_error():
    cfg = lmvsmt_config.validate({"pretrain": {"objectives": {"2-LM": {"max_tokens": 8192}}}})
    with pytest.raises(lmvsmt_config.ConfigError, match=r"2-LM: max_tokens 8192 caps a fixed batch_size"):
        objectives.build("2-LM", cfg, "D", "S", 8)


def test_run_config_holds_the_choices(tmp_path):
    record = {"processes": 8, "batch_size": 128, "update_freq": 4, "batch_reason": "largest divisor of 512 ...",
              "precision": "bf16", "precision_reason": "Fake GPU computes in bf16"}
    training.write_run_config(PAPER, "CLM", record, tmp_path / "config.yaml")
    text = (tmp_path / "config.yaml").read_text()
    assert text.startswith("# CLM: chosen by the training job") and "update_freq 4" in text
    used = yaml.safe_load(text)
    assert used["pretrain"]["objectives"]["CLM"]["batch_size"] == 128 and used["pretrain"]["precision"] == "bf16"
    assert used["pretrain"]["objectives"]["MLM"]["batch_size"] == "auto"
    lmvsmt_config.validate(used)  # still a valid config


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    return pretrain_toydata.build(tmp_path_factory.mktemp("toy") / "results", docs_per_lang=10)


def _trial_command(objective: str, toy: Path, gpu: bool) -> list[str]:
    cfg = lmvsmt_config.validate({"pretrain": {"preset": "tiny", "precision": "fp32", "global_batch": 64,
                                               "objectives": {o: {"tokens_per_sample": 64} for o in
                                                              ("2-LM", "CLM", "MLM", "TLM")}}})
    argv = objectives.build(objective, cfg, str(toy / "data-bin" / vocabulary.DATASET[objective]), "S", 1,
                            gpu=gpu).argv
    return objectives.fill(argv, batch_size=1, update_freq=1, num_workers=0)


@pytest.mark.parametrize("objective", vocabulary.OBJECTIVES)
def test_memory_trial_steps_on_the_longest_samples(objective, toy):
    """The trial's training step runs on each objective's dataset (CPU here, where it
    measures the process's peak RSS), on the longest samples first."""
    argv = _trial_command(objective, toy, gpu=False)
    trial = autotune.FairseqTrial(argv)
    try:
        lengths = autotune._lengths(trial.dataset)
        assert lengths[trial.longest[0]] == max(lengths[i] for i in trial.longest)
        assert list(lengths[trial.longest[:5]]) == sorted(lengths[trial.longest[:5]], reverse=True)
        assert trial(4) > 0
    finally:
        trial.close()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_job_chooses_the_batch_once(toy, tmp_path):
    """The pipeline's own path on a GPU: the job's trial picks a batch, training runs
    with it; a second run of the same objective reuses resolved.json."""
    per = {o: {"tokens_per_sample": 64} for o in ("2-LM", "CLM", "MLM", "TLM")}
    cfg = lmvsmt_config.validate({"results_dir": str(toy), "pretrain": {
        "launcher": "local", "preset": "tiny", "max_update": 3, "save_interval_updates": 3, "log_interval": 1,
        "global_batch": 32, "local": {"gpus": 1}, "objectives": per}})
    outputs = {k: str(tmp_path / "out" / n) for k, n in [("model", "checkpoint_best.pt"), ("dict", "dict.txt"),
                                                          ("command", "command.txt"), ("config", "config.yaml"),
                                                          ("log", "train_log.jsonl"), ("plot", "loss.png")]}
    training.pretrain("CLM", cfg, toy / "data-bin" / "documents", tmp_path / "work", outputs)
    run_dir = next((tmp_path / "work").glob("run-*"))
    record = autotune.read(run_dir)
    assert record["batch_size"] * record["update_freq"] == 32 and record["precision"] in ("bf16", "fp16")
    command = Path(outputs["command"]).read_text()
    assert f"--batch-size {record['batch_size']} " in command and "<auto>" not in command
    assert f"--{record['precision']}" in command
    assert yaml.safe_load(Path(outputs["config"]).read_text())["pretrain"]["precision"] == record["precision"]
