"""`snakemake --profile slurm` and submitit's requeue against a REAL Slurm cluster.

The session fixture brings up a single-node cluster with accounting
(tests/slurm/local-cluster.sh: munge, MariaDB, slurmdbd, slurmctld, slurmd, one
fake GPU) and leaves it running afterwards (other test sessions may share it; stop
it with `tests/slurm/local-cluster.sh stop`). These tests are skipped only where
the cluster cannot be started at all (not root, or Slurm missing and apt-get unable
to install it).

Only timing knobs are added to the profile's command line (status checks every
few seconds instead of 40+ s); Snakemake is stopped with SIGINT on a timeout
(on SIGTERM it may keep waiting for its jobs), which also cancels its Slurm jobs.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_SCRIPT = ROOT / "tests" / "slurm" / "local-cluster.sh"
# Test-only timing: first status check after 2 s (the plugin's default is 40 s).
FAST = ["--slurm-init-seconds-before-status-checks", "2", "--latency-wait", "10"]


@pytest.fixture(scope="session")
def slurm_cluster():
    """Start (or find running) the local cluster; returns the seconds start took."""
    if os.geteuid() != 0:
        pytest.skip("a local Slurm cluster needs root (tests/slurm/local-cluster.sh start)")
    t0 = time.monotonic()
    proc = subprocess.run([str(CLUSTER_SCRIPT), "start"], capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - t0
    if proc.returncode == 4:
        pytest.skip(f"Slurm is not installed and cannot be installed here: {proc.stderr.strip()[-500:]}")
    # Any other failure is a bug of the script or of this machine: fail, do not skip.
    assert proc.returncode == 0, f"local-cluster.sh start failed:\n{proc.stdout}\n{proc.stderr}"
    print(f"local Slurm cluster ready in {elapsed:.1f} s: {proc.stderr.strip()}")
    return elapsed


@pytest.fixture
def job_prefix():
    """A job-name prefix for one test; its Slurm jobs are cancelled afterwards."""
    prefix = f"lmvsmttest_{uuid.uuid4().hex[:8]}"
    yield prefix
    # Shown with a failing test's output: what the queue held when the test ended.
    print("squeue at the end of the test:\n" + queue())
    cancel_jobs(prefix)


def queue() -> str:
    """The Slurm queue now, a job a line: id, name, state, CPUs, GPUs, reason."""
    return subprocess.run(["squeue", "-o", "%i %j %T %C %b %R"], capture_output=True, text=True).stdout


def cancel_jobs(prefix: str) -> None:
    out = subprocess.run(["squeue", "-h", "-o", "%i %j"], capture_output=True, text=True).stdout
    ids = [line.split()[0] for line in out.splitlines() if prefix in line]
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True)


def sacct_jobs(name_contains: str) -> list[dict]:
    """Accounting records (allocations, not steps) of the jobs whose name contains the string."""
    fields = ["JobID", "JobName", "State", "ExitCode", "Account", "AllocTRES", "Comment"]
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-S", "now-1days", "-o", ",".join(fields)],
                         capture_output=True, text=True, check=True).stdout
    rows = [dict(zip(fields, line.split("|"))) for line in out.splitlines() if line.strip()]
    return [r for r in rows if name_contains in r["JobName"]]


# --- a job that fails ---------------------------------------------------------------

FAILING_WORKFLOW = """
rule a:
    output:
        "a.txt",
    log:
        "logs/a.log",
    shell:
        "if [ ! -e ok.flag ]; then echo 'planned failure of rule a' >&2; exit 3; fi; echo a > {output}"
"""


def test_failed_job_fails_the_run_with_its_slurm_log_and_the_rerun_completes(slurm_cluster, job_prefix, tmp_path,
                                                                             snakemake):
    (tmp_path / "Snakefile").write_text(textwrap.dedent(FAILING_WORKFLOW))
    args = ["--profile", str(ROOT / "slurm"), *FAST, "--slurm-jobname-prefix", job_prefix]

    proc = snakemake(*args, cwd=tmp_path, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-4000:]
    logs = re.findall(r"(\S*slurm_logs/rule_a/\S*?\d+\.log)", out)
    assert logs, "no Slurm log path of rule a in the output:\n" + out[-4000:]
    log = Path(logs[0]) if Path(logs[0]).is_absolute() else tmp_path / logs[0]
    assert "planned failure of rule a" in log.read_text(), log.read_text()[-3000:]
    assert not (tmp_path / "a.txt").exists()
    failed = sacct_jobs(job_prefix)
    assert [r["State"] for r in failed] == ["FAILED"], failed

    (tmp_path / "ok.flag").touch()
    proc = snakemake(*args, cwd=tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert (tmp_path / "a.txt").read_text() == "a\n"
    assert [r["State"] for r in sacct_jobs(job_prefix)] == ["FAILED", "COMPLETED"]


# --- a slice of the demo DAG ------------------------------------------------------------

def demo_slice_config(results: Path) -> dict:
    """The demo, shrunk to one pretraining objective, one task and two languages (the
    real rules end to end: demo sources, corpus, BPE, pretraining, downstream data,
    grouped feature extraction + probing, fine-tuning)."""
    import yaml

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    cfg.update(results_dir=str(results), languages=["en", "fr"], objectives=["CLM"], tasks=["POS"])
    cfg["corpus"]["corpora"] = ["unpc"]
    cfg.setdefault("demo", {}).update(unpc_documents=40, opensubtitles_documents=10, sentences_per_document=[3, 5],
                                      downstream_sizes={"train": 60, "valid": 20, "test": 20})
    cfg["bpe"]["vocab_size"] = 300
    cfg["pretrain"].update(max_update=20, save_interval_updates=10, log_interval=5)
    # The test cluster's GPU is a fake (File=/dev/null): the GPU rules get it from
    # Slurm but compute on the CPU.
    cfg["pretrain"].setdefault("local", {})["gpus"] = 0
    # One job per language; each probe also reads the other language's features (zero-shot
    # transfer), so the probing group's four jobs form one block.
    cfg["evaluation"].update(seeds=[1], job_scope="language", probe={"epochs": 2}, finetune={"epochs": 1})
    return cfg


def test_demo_slice_runs_with_profile_slurm_and_its_jobs_are_in_sacct(slurm_cluster, job_prefix, tmp_path, snakemake):
    import json

    import yaml

    results = tmp_path / "results"
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(demo_slice_config(results)))
    targets = [results / "eval" / "probe" / "CLM" / "POS" / lang / "seed1.json" for lang in ("en", "fr")]
    targets.append(results / "eval" / "finetune" / "CLM" / "POS" / "en" / "seed1.json")
    # Exactly the user's command from the repository root (profiles/default is picked
    # up as the workflow profile), plus test timing and a job-name prefix.
    proc = snakemake("--profile", "slurm", *FAST, "--slurm-jobname-prefix", job_prefix, *targets,
                     configfile=configfile, profile=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "workflow specific profile profiles/default" in out
    for target in targets:
        result = json.loads(target.read_text())
        assert 0 <= result["accuracy"] <= 1 and result["objective"] == "CLM", result

    jobs = sacct_jobs(job_prefix)
    assert jobs and all(j["State"] == "COMPLETED" for j in jobs), jobs
    by_rule = {}
    for j in jobs:
        rule = re.match(r"rule_(.*?)(?:_wildcards_.*)?$", j["Comment"]).group(1)
        by_rule.setdefault(rule, []).append(j)
    for rule in ("corpus_build", "bpe_train", "bpe_documents", "pretrain", "downstream_prepare_token", "finetune"):
        assert rule in by_rule, sorted(by_rule)
    # GPU rules got the (fake) GPU from Slurm, as profiles/default asks.
    for rule in ("pretrain", "finetune"):
        assert all("gres/gpu=1" in j["AllocTRES"] for j in by_rule[rule]), by_rule[rule]
    assert "gres/gpu" not in by_rule["bpe_train"][0]["AllocTRES"]
    # Feature extraction and probing of both languages (4 Snakemake jobs) ran as ONE
    # Slurm job: the group `probe` with group-components from profiles/default.
    grouped = [j for rule, js in by_rule.items() if "features" in rule or "probe" in rule for j in js]
    assert len(grouped) == 1, grouped
    assert list((ROOT / ".snakemake" / "slurm_logs").glob(f"group_probe*/{grouped[0]['JobID']}.log"))


# --- submitit: time limit, requeue, resume ------------------------------------------------

# The training runs for a fixed budget of cumulative training time (fairseq's
# --stop-time-hours, kept across restarts in the checkpoint) instead of a number of
# updates, so that the outcome does not depend on the machine's speed: one Slurm job
# of 2 minutes gets the time-limit signal 30-60 s after its start (Slurm checks
# limits every 30 s and signals up to 30 s early), which is always before 60 s of
# training: the first job is always cut short.
TRAINING_SECONDS = 60


def requeue_config(results: Path) -> dict:
    import yaml

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    cfg.update(results_dir=str(results), objectives=["CLM"])
    cfg["pretrain"] = {
        "launcher": "slurm", "preset": "tiny", "max_update": 10_000_000, "save_interval_updates": 50,
        "log_interval": 10, "global_batch": 8, "precision": "fp32", "num_workers": 0, "threads": 1,
        "objectives": {"CLM": {"batch_size": 8, "lr": 0.002, "warmup_updates": 2, "tokens_per_sample": 64,
                               # --cpu: the test cluster's GPU is a fake.
                               "extra_args": ["--cpu", "--stop-time-hours", f"{TRAINING_SECONDS / 3600:.5f}"]}},
        "slurm": {"gpus_per_node": 1, "cpus_per_task": 1, "time_min": 2, "signal_delay_s": 60,
                  "max_requeues": 6, "poll_interval_s": 2},
    }
    return cfg


def test_submitit_pretraining_hits_time_limit_is_requeued_and_resumes(slurm_cluster, job_prefix, tmp_path,
                                                                      snakemake):
    import json

    import yaml

    import pretrain_toydata

    results = pretrain_toydata.build(tmp_path / "results", docs_per_lang=10)
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(requeue_config(results)))
    target = results / "pretrain" / "CLM" / "checkpoint_best.pt"
    # With launcher slurm the pretrain rule runs on the submit host and submitit
    # submits the training job (pretrain.slurm settings).
    try:
        proc = snakemake("--profile", "slurm", *FAST, "--slurm-jobname-prefix", job_prefix, target,
                         "--allowed-rules", "pretrain", configfile=configfile, profile=True)
        # The rule ends only after its job has: the job writes its result before its
        # processes exit, and a rule ending earlier would let the next GPU job overlap it.
        records = list(results.glob("work/pretrain/CLM/run-*/submitit/job.json"))
        job_id = json.loads(records[0].read_text())["job_id"] if records else None
        accounting = subprocess.run(["sacct", "-D", "-X", "-n", "-P", "-S", "now-1hours", "-j", str(job_id),
                                     "-o", "State,Timelimit"], capture_output=True, text=True).stdout
    finally:
        for record in results.glob("work/pretrain/CLM/run-*/submitit/job.json"):
            subprocess.run(["scancel", str(json.loads(record.read_text())["job_id"])], capture_output=True)
    log_file = results / "logs" / "pretrain" / "CLM.log"
    rule_log = log_file.read_text() if log_file.exists() else ""
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:] + rule_log[-6000:]
    assert target.exists()

    # The log shows the stop at the time-limit signal and the resumption from that checkpoint.
    stopped = [int(n) for n in re.findall(r"lmvsmt: [^\n]*update (\d+)\D[^\n]*requeue", rule_log)]
    resumed = [int(n) for n in re.findall(r"resuming from \S+checkpoint_last\.pt at update (\d+)", rule_log)]
    assert "got signal SIGUSR2" in rule_log and "this job is timed-out" in rule_log, rule_log[-6000:]
    assert stopped and stopped[0] > 0 and resumed[:len(stopped)] == stopped, rule_log[-6000:]
    assert "Stopping training due to cumulative_training_time" in rule_log
    (run_dir,) = results.glob("work/pretrain/CLM/run-*")
    assert json.loads((run_dir / "done.json").read_text())["resumed_from"] == stopped[-1]

    # Slurm's accounting, read as the rule ended, has the requeued run(s) and the
    # completed one under ONE job id.
    assert job_id == json.loads((run_dir / "submitit" / "job.json").read_text())["job_id"]
    out = accounting
    states = [line.split("|")[0] for line in out.splitlines()]
    assert states.count("REQUEUED") == len(stopped) and states[-1] == "COMPLETED", out
    assert all(line.split("|")[1] == "00:02:00" for line in out.splitlines()), out

    # `lmvsmt.status` reads the same: the job id, Slurm's state, the requeues.
    proc = subprocess.run([sys.executable, "-m", "lmvsmt.status", "--configfile", str(configfile), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    (clm,) = json.loads(proc.stdout)["pretraining"]
    assert (clm["state"], clm["slurm_job_id"], clm["slurm_state"], clm["requeues"]) == \
        ("done", str(job_id), "COMPLETED", len(stopped)), clm


# --- the cluster after a crash --------------------------------------------------------

def wait_for_state(prefix: str, job_id: str, states: set[str], limit_s: float) -> str:
    """The accounting state of job `job_id` (named `prefix`) once it is one of `states`,
    or as it is after `limit_s` seconds ("" when sacct does not list it yet)."""
    end = time.monotonic() + limit_s
    while True:
        state = next((r["State"] for r in sacct_jobs(prefix) if r["JobID"] == job_id), "")
        if state in states or time.monotonic() >= end:
            return state
        time.sleep(1)


def test_cluster_started_again_after_a_crash_runs_new_jobs_at_once(slurm_cluster, job_prefix, tmp_path):
    """A machine killed (or a sandbox frozen) while a job runs leaves that job in the
    controller's saved state. Started again, the cluster must not let that ghost hold
    the node: Slurm itself notices it only minutes later, and every test (and a user's
    first run) would wait behind it."""
    cpus = subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True, check=True).stdout.split()[0]
    sbatch = ["sbatch", "--parsable", "-J", job_prefix, "-c", cpus, "-o", str(tmp_path / "%j.out")]
    ghost = subprocess.run([*sbatch, "--wrap", "sleep 617"], capture_output=True, text=True, check=True).stdout.strip()
    assert wait_for_state(job_prefix, ghost, {"RUNNING"}, 60) == "RUNNING"
    time.sleep(8)  # slurmctld saves a changed job state within seconds
    for daemon in (["-x", "slurmctld"], ["-x", "slurmd"], ["-f", "slurmstepd"], ["-f", "sleep 617"]):
        subprocess.run(["pkill", "-9", *daemon])
    start = subprocess.run([str(CLUSTER_SCRIPT), "start"], capture_output=True, text=True, timeout=300)
    assert start.returncode == 0, start.stdout + start.stderr

    job = subprocess.run([*sbatch, "--wrap", "true"], capture_output=True, text=True, check=True).stdout.strip()
    state = wait_for_state(job_prefix, job, {"COMPLETED", "FAILED", "CANCELLED"}, 60)
    assert state == "COMPLETED", f"job {job} is {state or 'unknown'} a minute after the restart:\n{queue()}"
