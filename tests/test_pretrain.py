"""Pretraining commands (issue 5): the fairseq command of each objective against
PROTOCOL.md, batch arithmetic, config errors, and the paper dry run."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from lmvsmt import config as lmvsmt_config
from lmvsmt import fairseq_compat, vocabulary
from lmvsmt.pretrain import launch, objectives
from lmvsmt.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent
PAPER = lmvsmt_config.load(ROOT / "config" / "paper.yaml")


def flags(argv: list[str]) -> dict[str, str | bool]:
    """--name value pairs of a command line (switches map to True)."""
    out: dict[str, str | bool] = {}
    i = 0
    while i < len(argv):
        if argv[i].startswith("--"):
            value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else True
            out[argv[i][2:]] = value
            i += 1 if value is True else 2
        else:
            i += 1
    return out


# PROTOCOL.md, "The five objectives": the authors' optimisation settings and the
# sizes written in the paper (BART models as 6 + 6 layers).
BART = {"arch": "bart_base", "criterion": "label_smoothed_cross_entropy", "label-smoothing": "0.2",
        "optimizer": "adam", "adam-betas": "(0.9, 0.98)", "adam-eps": "1e-06", "lr-scheduler": "inverse_sqrt",
        "lr": "3e-05", "warmup-updates": "2500", "dropout": "0.3", "attention-dropout": "0.1",
        "weight-decay": "0.1", "layernorm-embedding": True,
        "encoder-layers": "6", "decoder-layers": "6", "encoder-embed-dim": "512", "decoder-embed-dim": "512",
        "encoder-ffn-embed-dim": "2048", "decoder-ffn-embed-dim": "2048", "encoder-attention-heads": "8",
        "decoder-attention-heads": "8"}
LM_OPT = {"optimizer": "adam", "adam-betas": "(0.9, 0.98)", "adam-eps": "1e-06", "weight-decay": "0.01",
          "lr": "0.0005", "lr-scheduler": "polynomial_decay", "warmup-updates": "8000", "dropout": "0.1",
          "tokens-per-sample": "512", "sample-break-mode": "complete"}
CAUSAL = {**LM_OPT, "task": "language_modeling", "arch": "transformer_lm", "decoder-layers": "12",
          "decoder-embed-dim": "512", "decoder-ffn-embed-dim": "2048", "decoder-attention-heads": "8"}
EXPECTED = {
    "2-LM": {**BART, "task": "denoising", "mask-length": "span-poisson"},
    "2-MT": {**BART, "task": "translation_multi_simple_epoch", "encoder-langtok": "src", "decoder-langtok": True},
    "CLM": CAUSAL,
    "TLM": CAUSAL,
    "MLM": {**LM_OPT, "task": "masked_lm", "criterion": "masked_lm", "encoder-layers": "12",
            "encoder-embed-dim": "512", "encoder-ffn-embed-dim": "2048", "encoder-attention-heads": "8"},
}
COMMON = {"max-update": "600000", "save-interval-updates": "5000"}


# The plugin's names for the same architectures and the same update rule (AdamW).
SAME = {"arch": objectives.plain_arch, "optimizer": lambda name: "adam" if name == objectives.TORCH_ADAMW else name}


def check_paper_command(objective: str, argv: list[str]) -> None:
    got = flags(argv)
    for key, value in {**EXPECTED[objective], **COMMON}.items():
        have = SAME.get(key, lambda v: v)(got.get(key))
        assert have == value, f"{objective}: --{key} is {got.get(key)!r}, PROTOCOL.md says {value!r}"
    # batch and precision are chosen on the GPU by the job; update_freq makes the global batch
    assert got["batch-size"] == got["update-freq"] == objectives.AUTO and objectives.PRECISION_AUTO in argv
    assert 4096 % int(got["distributed-world-size"]) == 0
    if objective == "2-MT":
        pairs = got["lang-pairs"].split(",")
        assert len(pairs) == len(set(pairs)) == 30  # every direction of the six languages


def test_paper_dry_run_prints_the_five_commands_as_in_the_protocol(tmp_path, snakemake):
    """`snakemake -n --configfile config/paper.yaml` lists the five pretraining jobs
    with their fairseq commands (the rule's message)."""
    cfg = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    cfg["results_dir"] = str(tmp_path / "results")
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(cfg))
    targets = [f"{tmp_path}/results/pretrain/{o}/checkpoint_best.pt" for o in vocabulary.OBJECTIVES]
    proc = snakemake(*targets, "-n", configfile=path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed, costs = {}, {}
    for line in proc.stdout.splitlines():
        if ": pretrain " in line and "fairseq-train" in line:
            head, command = line.split(": pretrain ", 1)[1].split("): ", 1)
            objective, costs[objective] = head.split(" (", 1)
            printed[objective] = shlex.split(command)
    assert sorted(printed) == sorted(vocabulary.OBJECTIVES), proc.stdout[-2000:]
    for objective, argv in printed.items():
        assert argv[0] == "fairseq-train"
        check_paper_command(objective, argv)
        assert flags(argv)["distributed-world-size"] == "8"  # 1 node x 8 GPUs (paper.yaml)
    # the cost before launch: 4,096 blocks of up to 512 tokens, 600k updates
    assert costs["CLM"].startswith("<= 2.10M tokens per update, <= 1.26T tokens in 600,000 updates, ")
    assert "GPU-hours" in costs["CLM"]
    assert costs["2-MT"].startswith("cost unknown: mean pair length unknown until the bitext is binarized")


def test_released_preset_is_bart_base():
    cfg = lmvsmt_config.validate({"pretrain": {"preset": "released"}})
    got = flags(objectives.build("2-LM", cfg, "D", "S", 8).argv)
    assert (got["encoder-embed-dim"], got["encoder-ffn-embed-dim"], got["encoder-attention-heads"]) == \
        ("768", "3072", "12")
    assert flags(objectives.build("CLM", cfg, "D", "S", 8).argv)["decoder-embed-dim"] == "512"


# The authors' per-GPU batches, as fixed batch sizes.
FIXED = lmvsmt_config.validate({"pretrain": {"objectives": {
    o: {"batch_size": 32 if o in ("CLM", "TLM") else 64} for o in vocabulary.OBJECTIVES}}})


@pytest.mark.parametrize("objective", vocabulary.OBJECTIVES)
def test_update_freq_follows_the_processes_allocated(objective):
    for world in (1, 2, 8, 16):
        cmd = objectives.build(objective, FIXED, "D", "S", world)
        batch = FIXED["pretrain"]["objectives"][objective]["batch_size"]
        assert cmd.update_freq * batch * world == 4096
        assert flags(cmd.argv)["update-freq"] == str(cmd.update_freq)


def test_global_batch_that_does_not_divide_is_one_clear_error():
    with pytest.raises(ConfigError, match=r"pretrain.global_batch 4096 .*MLM.batch_size 64 x 128 processes"):
        objectives.build("MLM", FIXED, "D", "S", 128)
    with pytest.raises(ConfigError, match=r"pretrain.global_batch 4096 is not a multiple of the 3 processes"):
        objectives.build("MLM", PAPER, "D", "S", 3)


def test_size_overrides_and_inconsistent_sizes():
    cfg = lmvsmt_config.validate({"pretrain": {"sizes": {"CLM": {"layers": 6}}}})
    assert flags(objectives.build("CLM", cfg, "D", "S", 8).argv)["decoder-layers"] == "6"
    assert flags(objectives.build("TLM", cfg, "D", "S", 8).argv)["decoder-layers"] == "12"
    bad = lmvsmt_config.validate({"pretrain": {"sizes": {"MLM": {"embed_dim": 100}}}})
    with pytest.raises(ConfigError, match="embed_dim 100 is not divisible by attention_heads 8"):
        objectives.build("MLM", bad, "D", "S", 8)


def test_small_hidden_size_sets_transformer_lm_projection_dims():
    cfg = lmvsmt_config.validate({"pretrain": {"preset": "tiny"}})
    got = flags(objectives.build("CLM", cfg, "D", "S", 1).argv)
    assert got["decoder-input-dim"] == got["decoder-output-dim"] == got["decoder-embed-dim"] == "64"


def test_precision_flags():
    for precision, expected in (("bf16", ["--bf16"]), ("fp16", ["--fp16"]), ("amp", ["--amp"]), ("fp32", []),
                                ("auto", [objectives.PRECISION_AUTO])):
        cfg = lmvsmt_config.validate({"pretrain": {"precision": precision}})
        argv = objectives.build("CLM", cfg, "D", "S", 8).argv
        assert [a for a in argv if a in ("--bf16", "--fp16", "--amp", objectives.PRECISION_AUTO)] == expected
    cfg = lmvsmt_config.validate({"pretrain": {"precision": "fp16",
                                               "objectives": {"CLM": {"extra_args": ["--bf16"]}}}})
    with pytest.raises(ConfigError, match="bf16 cannot be combined with --fp16"):
        objectives.build("CLM", cfg, "D", "S", 8)


def test_memory_efficient_fp16_is_an_option_of_fp16_with_fairseqs_adam():
    cfg = lmvsmt_config.validate({"pretrain": {"precision": "fp16",
                                               "objectives": {"CLM": {"memory_efficient_fp16": True}}}})
    got = flags(objectives.build("CLM", cfg, "D", "S", 8).argv)
    assert got["memory-efficient-fp16"] is True and got["optimizer"] == "adam"
    assert "memory-efficient-fp16" not in flags(objectives.build("TLM", cfg, "D", "S", 8).argv)  # off by default
    for bad, message in (({"precision": "auto"}, "needs pretrain.precision fp16"),
                         ({"precision": "fp16", "kernels": {"adam": "torch"}}, "needs fairseq's Adam")):
        cfg = lmvsmt_config.validate({"pretrain": {**bad, "objectives": {"CLM": {"memory_efficient_fp16": True}}}})
        with pytest.raises(ConfigError, match=message):
            objectives.build("CLM", cfg, "D", "S", 8)


def test_plugin_kernels_on_gpus_fairseqs_on_the_cpu():
    gpu, cpu = (flags(objectives.build("MLM", PAPER, "D", "S", 1, gpu=g).argv) for g in (True, False))
    assert (gpu["arch"], gpu["optimizer"], gpu["user-dir"]) == ("masked_lm_sdpa", "torch_adamw",
                                                                str(objectives.PLUGIN_DIR))
    assert (cpu["arch"], cpu["optimizer"]) == ("masked_lm", "adam") and "user-dir" not in cpu
    forced = lmvsmt_config.validate({"pretrain": {"kernels": {"attention": "sdpa", "adam": "fairseq"}}})
    got = flags(objectives.build("MLM", forced, "D", "S", 1, gpu=False).argv)
    assert (got["arch"], got["optimizer"]) == ("masked_lm_sdpa", "adam") and "user-dir" in got
    other = lmvsmt_config.validate({"pretrain": {"objectives": {"CLM": {"arch": "transformer_lm_big"}}}})
    with pytest.raises(ConfigError, match="transformer_lm_big has no scaled_dot_product_attention variant"):
        objectives.build("CLM", other, "D", "S", 8)


def test_fill_puts_the_jobs_choices_in():
    argv = objectives.build("CLM", PAPER, "D", "S", 8).argv
    assert objectives.unresolved(argv) == ["--batch-size", "--update-freq", "--num-workers", "precision"]
    filled = objectives.fill(argv, batch_size=128, update_freq=4, num_workers=7, precision="bf16")
    got = flags(filled)
    assert (got["batch-size"], got["update-freq"], got["num-workers"], got["bf16"]) == ("128", "4", "7", True)
    assert objectives.unresolved(filled) == [] and len(filled) == len(argv)
    assert objectives.unresolved(objectives.fill(argv, num_workers=3)) == ["--batch-size", "--update-freq",
                                                                           "precision"]


def test_numpy_2_is_refused(monkeypatch):
    import numpy

    monkeypatch.setattr(numpy, "__version__", "2.1.0")
    with pytest.raises(fairseq_compat.FairseqCompatError, match="numpy<2"):
        fairseq_compat.check_numpy()


def test_cpu_plan_trains_in_fp32_and_says_so():
    fp16 = lmvsmt_config.validate({"pretrain": {"precision": "fp16"}})
    cmd = objectives.build("2-MT", fp16, "D", "S", 1, gpu=False)
    got = flags(cmd.argv)
    assert got["cpu"] is True and "fp16" not in got and "memory-efficient-fp16" not in got
    assert any("precision fp16 needs a GPU: this CPU run trains in fp32" in note for note in cmd.notes)
    auto = objectives.build("2-MT", PAPER, "D", "S", 1, gpu=False)  # precision auto: fp32 without a word
    assert flags(auto.argv)["cpu"] is True and not any("precision" in note for note in auto.notes)


def test_explicit_language_pairs_are_checked():
    cfg = lmvsmt_config.validate({"pretrain": {"objectives": {"2-MT": {"lang_pairs": ["en-fr", "fr-en"]}}}})
    assert flags(objectives.build("2-MT", cfg, "D", "S", 8).argv)["lang-pairs"] == "en-fr,fr-en"
    bad = lmvsmt_config.validate({"languages": ["en", "fr"],
                                  "pretrain": {"objectives": {"2-MT": {"lang_pairs": ["en-de"]}}}})
    with pytest.raises(ConfigError, match="en-de"):
        objectives.build("2-MT", bad, "D", "S", 8)


def test_allocation_per_launcher(monkeypatch):
    slurm = lmvsmt_config.validate({"pretrain": {"slurm": {"nodes": 2, "gpus_per_node": 4,
                                                           "nodes_per_objective": {"MLM": 4}}}})
    assert launch.allocation(slurm["pretrain"], "CLM") == launch.Allocation("slurm", 2, 4, True)
    assert launch.allocation(slurm["pretrain"], "MLM").world_size == 16
    cpu_slurm = lmvsmt_config.validate({"pretrain": {"slurm": {"nodes": 2, "gpus_per_node": 0}}})
    alloc = launch.allocation(cpu_slurm["pretrain"], "CLM")
    assert alloc == launch.Allocation("slurm", 2, 1, False)
    got = flags(objectives.build("CLM", cpu_slurm, "D", "S", alloc.world_size, alloc.gpu).argv)
    assert got["distributed-backend"] == "gloo" and got["cpu"] is True
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    local = lmvsmt_config.validate({"pretrain": {"launcher": "local"}})
    assert launch.allocation(local["pretrain"], "CLM") == launch.Allocation("local", 1, 1, False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert launch.allocation(local["pretrain"], "CLM") == launch.Allocation("local", 1, 2, True)


def test_demo_config_commands_fit_one_cpu_process():
    demo = lmvsmt_config.load(ROOT / "config" / "config.yaml")
    for objective in vocabulary.OBJECTIVES:
        cmd = objectives.build(objective, demo, "D", "S", 1, gpu=False)
        assert cmd.update_freq * demo["pretrain"]["objectives"][objective]["batch_size"] == \
            demo["pretrain"]["global_batch"]
        assert not cmd.notes  # fp32 on the CPU: no precision warning in the demo


class _FakeJob:
    """Stands in for a submitit job: done at once, with a given outcome."""

    def __init__(self, job_id: str, outcome, folder: Path):
        self.job_id, self.outcome = job_id, outcome
        self.paths = SimpleNamespace(stdout=folder / f"{job_id}_0_log.out", stderr=folder / f"{job_id}_0_log.err")

    def task(self, index):
        return self

    def done(self, force_check=False):
        return True

    def results(self):
        return [self.outcome()]


def _fake_launcher(monkeypatch, tmp_path, outcomes):
    """Patch launch._executor so that successive submissions get `outcomes` in turn."""
    submitted = []

    class Executor:
        def submit(self, fn):
            submitted.append(fn)
            return _FakeJob(str(len(submitted)), outcomes[len(submitted) - 1], tmp_path)

    monkeypatch.setattr(launch, "_executor", lambda *args: Executor())
    return submitted


def test_a_killed_job_that_saved_progress_is_resubmitted(monkeypatch, tmp_path):
    from submitit.core.utils import UncompletedJobError

    save_dir = tmp_path / "run"
    save_dir.mkdir()

    def killed_after_a_checkpoint():
        (save_dir / "checkpoint_last.pt").write_bytes(b"saved")  # progress, then a kill from outside
        raise UncompletedJobError("Job 1 (task: 0) has not produced any output (state: NODE_FAIL)")

    submitted = _fake_launcher(monkeypatch, tmp_path, [killed_after_a_checkpoint, lambda: "finished"])
    pcfg = lmvsmt_config.validate({"pretrain": {"launcher": "local"}})["pretrain"]
    alloc = launch.Allocation("local", 1, 1, False)
    assert launch.run(lambda: None, pcfg, "CLM", alloc, tmp_path / "submitit", save_dir) == "finished"
    assert len(submitted) == 2


def test_a_failing_job_fails_the_rule_with_one_line(monkeypatch, tmp_path):
    from submitit.core.utils import FailedJobError, UncompletedJobError

    def crashed():
        raise FailedJobError("Job (task=0) failed during processing with trace:\n----\nTraceback (most recent "
                             "call last):\n  File \"x.py\", line 1\nValueError: cannot mmap an empty file\n----")

    def killed_without_progress():
        raise UncompletedJobError("Job 2 (task: 0) has not produced any output (state: NODE_FAIL)")

    pcfg = lmvsmt_config.validate({"pretrain": {"launcher": "local"}})["pretrain"]
    alloc = launch.Allocation("local", 1, 1, False)
    for outcome, reason in ((crashed, "ValueError: cannot mmap an empty file"),
                            (killed_without_progress, "the job ended without a result (state NODE_FAIL")):
        submitted = _fake_launcher(monkeypatch, tmp_path, [outcome, lambda: "not reached"])
        with pytest.raises(launch.LaunchError) as err:
            launch.run(lambda: None, pcfg, "2-MT", alloc, tmp_path / "submitit", tmp_path / "run")
        message = str(err.value)
        assert len(submitted) == 1 and "\n" not in message
        assert reason in message and "failed in local job" in message and "_0_log.err" in message


def test_a_slurm_rule_ends_only_after_its_job_has(monkeypatch, tmp_path, caplog):
    # The job writes its result before its processes exit; the rule waits for Slurm to
    # report the job ended, and within end_wait_s only.
    states = iter(["RUNNING", "COMPLETING", "COMPLETED"])
    watcher = SimpleNamespace(get_state=lambda job_id, mode: next(states))
    _fake_launcher(monkeypatch, tmp_path, [lambda: "finished"] * 2)
    monkeypatch.setattr(_FakeJob, "watcher", watcher, raising=False)
    pcfg = lmvsmt_config.validate({"pretrain": {"launcher": "slurm",
                                                "slurm": {"poll_interval_s": 0.01}}})["pretrain"]
    alloc = launch.Allocation("slurm", 1, 1, True)
    assert launch.run(lambda: None, pcfg, "CLM", alloc, tmp_path / "submitit", tmp_path / "run") == "finished"
    assert next(states, "all read") == "all read"

    watcher.get_state = lambda job_id, mode: "RUNNING"
    pcfg["slurm"]["end_wait_s"] = 0.05
    (tmp_path / "submitit" / "job.json").unlink()
    with caplog.at_level("WARNING"):
        assert launch.run(lambda: None, pcfg, "CLM", alloc, tmp_path / "submitit", tmp_path / "run") == "finished"
    assert "still RUNNING" in caplog.text


FINISHED_JOB_EXITS = """
import os, signal, sys, time
from lmvsmt.pretrain.job import _StopRequest
stop = _StopRequest().install()
stop.release()  # what a job does once its training is over
parent = os.getpid()
if os.fork() == 0:  # Slurm's time-limit signal, arriving while the job exits
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(parent, signal.SIGUSR2)
        except ProcessLookupError:
            break
        time.sleep(0.0002)
    os._exit(0)
time.sleep(0.1)
sys.exit(0)
"""


def test_a_finished_job_is_not_killed_by_a_late_time_limit_signal():
    # A Python handler is reset to the default (terminate) while the interpreter exits:
    # a job whose training was over would die of the signal and Slurm would call it FAILED.
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", FINISHED_JOB_EXITS], cwd=ROOT, capture_output=True,
                              timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])


def test_a_rerun_reattaches_to_its_still_active_slurm_job(monkeypatch, tmp_path):
    # After an interrupted rule, the same command waits for the job that is still
    # queued or running instead of submitting a second one; a job that has ended is not reused.
    import submitit

    folder = tmp_path / "submitit"
    folder.mkdir()
    (folder / "job.json").write_text('{"job_id": "41", "tasks": 1}')
    state = {"41": "RUNNING"}
    earlier = _FakeJob("41", lambda: "from the earlier job", tmp_path)
    earlier.watcher = SimpleNamespace(get_state=lambda job_id, mode: state[job_id])
    monkeypatch.setattr(submitit, "SlurmJob", lambda folder, job_id, tasks: earlier)
    submitted = _fake_launcher(monkeypatch, tmp_path, [lambda: "from a new job"])
    monkeypatch.setattr(_FakeJob, "watcher", SimpleNamespace(get_state=lambda job_id, mode: "COMPLETED"),
                        raising=False)
    pcfg = lmvsmt_config.validate({"pretrain": {"launcher": "slurm", "slurm": {"end_wait_s": 0}}})["pretrain"]
    alloc = launch.Allocation("slurm", 1, 1, True)

    def wait_for_job():
        return launch.run(lambda: None, pcfg, "CLM", alloc, folder, tmp_path / "run")

    assert wait_for_job() == "from the earlier job" and not submitted
    state["41"] = "COMPLETED"
    assert wait_for_job() == "from a new job" and len(submitted) == 1
