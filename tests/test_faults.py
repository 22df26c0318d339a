"""Faults of a bad day, one test per kind: a damaged artifact (feature cache, model, raw
download) is named, moved aside and never used, with the command that regenerates it;
a full disk and a file that is not UTF-8 are named; a failed job is summarised by its
own error line, at the end of the rule log as on the console."""
import json
import os
import re
import traceback
from pathlib import Path

import pytest
import torch
import yaml

import damage
from lmvsmt import config as lmvsmt_config
from lmvsmt import integrity
from lmvsmt.evaluate import jobs, probe, results
from lmvsmt.pretrain import launch
from lmvsmt.downstream import common as ds_common
from lmvsmt.downstream import demo as ds_demo
from lmvsmt.downstream import prepare as ds_prepare
from lmvsmt.downstream.common import DataError
from lmvsmt.io import DiskFullError, FileDecodeError, atomic_write, rule_log
from test_evaluation import HEAD, OPTIM, pos_task  # noqa: F401 (pos_task is a fixture)

DAMAGES = {
    "one flipped bit": damage.flip_one_bit,
    "4 KiB flipped": lambda path: damage.flip_bits(path, 4096),
    "cut short": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "emptied": lambda path: path.write_bytes(b""),
}


@pytest.fixture
def features(pos_task, tmp_path):
    model, labels, encoded = pos_task
    path = tmp_path / "features" / "CLM" / "POS" / "en" / "features.pt"
    probe.extract_features(model, labels, encoded, "en", "POS", "sum", 32, path)
    return path


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_feature_cache_is_named_moved_aside_and_never_used(features, how):
    DAMAGES[how](features)
    with pytest.raises(integrity.DamagedFileError) as err:
        probe.probe(features, 1, HEAD, OPTIM)
    message = str(err.value)
    assert message.startswith(f"{features}: damaged (") and "\n" not in message
    if "flipped" in how:
        assert "Bad CRC-32 for file" in message
    assert message.endswith("moved aside to " + next(features.parent.glob("features.pt.bad-*")).name +
                            "; rerun the same command to extract the features again (rule features)")
    assert not features.exists()  # the same command regenerates it: Snakemake sees it missing


def test_an_intact_feature_cache_loads(features):
    assert integrity.archive_problem(features) is None
    assert probe.majority_baseline(features) > 0


@pytest.mark.parametrize("how", ["one flipped bit", "cut short"])
def test_a_damaged_model_is_named_before_it_is_loaded(tmp_path, how):
    model_dir = tmp_path / "pretrain" / "CLM"
    model_dir.mkdir(parents=True)
    model = model_dir / "checkpoint_best.pt"
    torch.save({"model": {"w": torch.randn(64, 64)}, "cfg": None}, model)
    DAMAGES[how](model)
    config = lmvsmt_config.validate({"results_dir": str(tmp_path)})
    with pytest.raises(integrity.DamagedFileError) as err:
        jobs.features_job("CLM", model_dir, tmp_path / "spm.model", [], config)
    message = str(err.value)
    assert message.startswith(f"{model}: damaged (") and "\n" not in message
    assert message.endswith("; " + jobs.MODEL_REMEDY) and "rule pretrain exports the trained model" in message
    assert not model.exists() and len(list(model_dir.glob("checkpoint_best.pt.bad-*"))) == 1


def test_a_full_disk_while_writing_features_names_the_file_and_the_free_space(pos_task, tmp_path):
    model, labels, encoded = pos_task
    with damage.small_disk(tmp_path / "disk", "1m") as disk:
        path = disk / "features" / "features.pt"
        path.parent.mkdir()
        damage.fill(disk, leave=8192)  # the cache needs about 50 KiB
        with pytest.raises(DiskFullError) as err:
            probe.extract_features(model, labels, encoded, "en", "POS", "sum", 32, path)
        assert [p.name for p in path.parent.iterdir()] == []  # no partial file left
    message = str(err.value)
    assert re.fullmatch(rf"{re.escape(str(path))}: no space left on device \((\S+ \S+ written before it filled up; )?"
                        rf"\S+ \S+ free on {re.escape(str(disk))}\).*", message), message


def test_a_full_disk_while_writing_text_names_the_file(tmp_path):
    with damage.small_disk(tmp_path / "disk", "64k") as disk:
        (disk / "old.json").write_text("{}")
        with pytest.raises(DiskFullError, match=rf"^{re.escape(str(disk))}/old.json: no space left on device"):
            with atomic_write(disk / "old.json") as fh:
                fh.write("x" * (1 << 20))
        assert (disk / "old.json").read_text() == "{}" and sorted(p.name for p in disk.iterdir()) == ["old.json"]


READERS = {
    "task data (conll)": ("train.conll", lambda p: ds_common.read_split(p, "POS")),
    "task data (tsv)": ("train.tsv", lambda p: ds_common.read_split(p, "SA")),
    "result file": ("seed1.json", results.read_result),
}


@pytest.mark.parametrize("reader", READERS)
def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path, reader):
    name, read = READERS[reader]
    lines = {"conll": "the\tDET\ncat\tNOUN\n\nr\xe9\tNOUN\n", "tsv": "good\t5\nbad\t1\n\xe9t\xe9\t3\n",
             "json": '{\n"a":\n"\xe9"\n}\n'}[name.rsplit(".", 1)[1]]
    path = tmp_path / name
    path.write_bytes(lines.encode("latin-1"))
    with pytest.raises(FileDecodeError) as err:
        read(path)
    line = 1 + lines.split("\xe9")[0].count("\n")
    assert str(err.value).startswith(f"{path}:{line}: not valid UTF-8 (byte ")


@pytest.mark.parametrize("origin,remedy", [("demo", "to write it again (rule downstream_demo)"),
                                           ("real", "to download it again (rule downstream_fetch)")])
def test_a_raw_download_that_changed_stops_the_preparation_and_is_fetched_again(tmp_path, origin, remedy):
    """One of the three files of a treebank emptied after it was written: its manifest's
    size and sha256 no longer match, so the preparation stops instead of splitting a
    third fewer sentences, and the file and the manifest are moved aside so that the
    same command writes them again."""
    config = lmvsmt_config.validate({"results_dir": str(tmp_path), "languages": ["en", "fr"], "tasks": ["POS"]})
    raw_root, out = tmp_path / "raw", tmp_path / "POS" / "en"
    world = ds_demo.make_world(config)
    ds_demo.generate(config, raw_root, ["POS"], ["en"], world=world)
    raw_dir = raw_root / "POS" / "en"
    options = dict(seed=1, own_split={"valid": 0.1, "test": 0.1}, pos_token_budget=0)
    full = ds_prepare.prepare(raw_dir, out, "POS", "en", **options)["counts"]
    emptied = raw_dir / "en_demo-ud-train.conllu"
    manifest = json.loads((raw_dir / "source.json").read_text())
    (raw_dir / "source.json").write_text(json.dumps({**manifest, "origin": origin}))
    recorded = next(f for f in manifest["files"] if f["name"] == emptied.name)
    emptied.write_bytes(b"")
    with pytest.raises(DataError) as err:
        ds_prepare.prepare(raw_dir, out, "POS", "en", **options)
    message = str(err.value)
    assert message.startswith(f"{emptied} has 0 bytes, sha256 {'e3b0c442'}") and "\n" not in message
    assert f"{raw_dir / 'source.json'} recorded {recorded['bytes']} bytes, sha256 {recorded['sha256']}" in message
    assert message.endswith(f"rerun the same command {remedy}")
    assert not emptied.exists() and not (raw_dir / "source.json").exists()
    assert {p.name.split(".bad-")[0] for p in raw_dir.glob("*.bad-*")} == {emptied.name, "source.json"}
    ds_demo.generate(config, raw_root, ["POS"], ["en"], world=world)  # what the rerun does
    assert ds_prepare.prepare(raw_dir, out, "POS", "en", **options)["counts"] == full


# --------------------------------------------------------------------------- job errors


def _submitit_error(cls_name: str, stderr: str, state: str = "FAILED") -> Exception:
    """The text of submitit's errors for a job that left no result, or raised."""
    from submitit.core.utils import FailedJobError, UncompletedJobError

    if cls_name == "uncompleted":
        return UncompletedJobError("\n".join([
            "Job 17 (task: 0) with path /w/submitit/17_0_result.pkl", f"has not produced any output (state: {state})",
            "Error stream produced:", "-" * 40, stderr]))
    return FailedJobError("\n".join([
        "Job (task=0) failed during processing with trace:", "----------------------", stderr,
        "----------------------", "You can check full logs with 'job.stderr(0)' and 'job.stdout(0)'or at paths:",
        "  - /w/submitit/17_0_log.err", "  - /w/submitit/17_0_log.out"]))


def _trace(exc: BaseException) -> str:
    try:
        raise exc
    except BaseException as raised:  # noqa: BLE001
        return "".join(traceback.format_exception(raised))


REASONS = [
    ("failed", _trace(DiskFullError("/w/checkpoint_2_20.pt: no space left on device (0 B free on /w)")),
     "DiskFullError: /w/checkpoint_2_20.pt: no space left on device (0 B free on /w)"),
    ("uncompleted", "2024-01-01 | INFO | fairseq.trainer | begin training epoch 3\n" + _trace(
        FloatingPointError("gradients are Nan/Inf")) + "2024-01-01 | INFO | fairseq_cli.train | done\n",
     "FloatingPointError: gradients are Nan/Inf"),
    ("uncompleted", "2024-01-01 | INFO | train | {\"loss\": 3.2}\nslurmstepd: error: Detected 1 oom_kill event in "
                    "StepId=17.0. Some of the step tasks have been OOM Killed.\n",
     "slurmstepd: error: Detected 1 oom_kill event in StepId=17.0. Some of the step tasks have been OOM Killed."),
    ("uncompleted", "2024-01-01 | INFO | train | {\"loss\": 3.2}\n",
     "the job ended without a result (state INTERRUPTED; killed from outside?)"),
]


@pytest.mark.parametrize("kind,stderr,reason", REASONS)
def test_a_failed_job_is_reported_by_its_own_error_line(kind, stderr, reason):
    assert launch._reason(_submitit_error(kind, stderr, state="INTERRUPTED")) == reason


def test_the_rule_log_ends_with_the_line_the_console_shows(tmp_path):
    log = tmp_path / "rule.log"
    with pytest.raises(SystemExit) as stop:
        with rule_log(log):
            os.write(1, b"training ...\n")  # what the job writes
            raise launch.LaunchError("pretraining CLM failed in local job 17: DiskFullError: /w: no space left")
    assert stop.value.code == "pretraining CLM failed in local job 17: DiskFullError: /w: no space left"
    assert log.read_text().splitlines() == ["training ...", stop.value.code]
    # Anything else keeps its traceback, in the log as on the console.
    with pytest.raises(KeyError):
        with rule_log(log):
            raise KeyError("unexpected")
    assert log.read_text().splitlines()[-1] == "KeyError: 'unexpected'"
    assert "Traceback (most recent call last):" in log.read_text()


@pytest.mark.slow
def test_a_corpus_download_that_changed_stops_the_unpacking_and_is_downloaded_again(http_server, tmp_path, snakemake):
    """A release file emptied after its download (its size and sha256 are in
    downloads.lock): Snakemake reruns the unpacking, which stops with one line and moves
    the file aside, never used. The same command then finishes (the corpus built from the
    intact download is kept), and whatever needs the file again downloads it afresh."""
    from test_corpus import _serve_real_release, corpus_stage_targets, stage_config

    langs = ["en", "zh"]
    configfile, cfg = stage_config(tmp_path, source="real", corpora=["opensubtitles"])
    cfg["languages"] = langs
    cfg["corpus"]["real"] = {"opensubtitles": _serve_real_release(http_server, tmp_path, langs)["opensubtitles"]}
    configfile.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    targets = corpus_stage_targets(cfg)
    first = snakemake(*targets, cores=2, configfile=configfile)
    assert first.returncode == 0, first.stderr[-3000:]
    results = Path(cfg["results_dir"])
    allocation = (results / "corpus" / "opensubtitles" / "allocation.capped.tsv").read_text()
    download = results / "corpus" / "download" / "opensubtitles" / "en.zip"
    size = download.stat().st_size
    download.write_bytes(b"")

    failed = snakemake(*targets, cores=2, configfile=configfile)
    assert failed.returncode != 0
    expected = (f"existing {download} has 0 bytes but {Path(cfg['results_dir']) / 'downloads.lock'} says {size} "
                f"for {http_server.url('/os/raw/en.zip')}; moved aside to en.zip.bad-")
    assert any(line.startswith(expected) for line in failed.stderr.splitlines()), failed.stderr[-3000:]
    assert "Traceback" not in failed.stderr
    rerun = snakemake(*targets, cores=2, configfile=configfile)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert (results / "corpus" / "opensubtitles" / "allocation.capped.tsv").read_text() == allocation
    unpacked = snakemake(results / "corpus" / "raw" / "opensubtitles", cores=2, configfile=configfile)
    assert unpacked.returncode == 0, unpacked.stderr[-3000:]
    assert download.stat().st_size == size
    assert len(http_server.hits("/os/raw/en.zip")) == 2
