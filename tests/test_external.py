"""Models trained elsewhere (pretrain.external): tiny models made as the authors made
theirs (tests/external_toymodels.py: their fairseq-train flags, their kinds of
dictionary and SentencePiece model) are served from 127.0.0.1, downloaded (one after a
cut connection), unpacked from a data-release archive, checked, imported and evaluated
by the workflow into result files and tables, with nothing pretrained; wrong bytes, a
mismatched dictionary and a checkpoint holding foreign objects are refused in one line;
the released models' config plans no pretraining and the full evaluation."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

import external_toymodels
from lmvsmt import config as lmvsmt_config
from lmvsmt.tables import specs
from lmvsmt.pretrain import external
from lmvsmt.config import ConfigError
from lmvsmt.download import DownloadError, read_lock
from lmvsmt.layout import EXTERNAL_DOWNLOAD, fill

ROOT = Path(__file__).resolve().parent.parent
OBJECTIVES = {"2-LM": "bart-lm", "2-MT": "bart-mt", "CLM": "clm", "MLM": "mlm", "TLM": "tlm"}
RELEASE_MEMBER = "lm-vs-mt_data/processed/spm/mt-vs-lm.spm.model"  # where their scripts read it


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict:
    """The authors-style models, and a data release holding their SentencePiece model."""
    root = tmp_path_factory.mktemp("toymodels")
    paths = external_toymodels.build(root)
    release = root / "lm-vs-mt_data.tar.gz"
    with tarfile.open(release, "w:gz") as tf:
        for name, data in ((RELEASE_MEMBER, Path(paths["spm"]).read_bytes()),
                           ("lm-vs-mt_data/processed/spm/mt-vs-lm.spm.vocab", b"vocabulary\n"),
                           ("lm-vs-mt_data/processed/unpc/train.en", b"text\n" * 1000)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    paths["release"] = str(release)
    return paths


def pinned(data: bytes, url: str, **more) -> dict:
    return {"url": url, "sha256": sha(data), "size": len(data), **more}


def serve_models(server, toy: dict, cut: str | None = None, local_dictionary: str | None = None) -> dict:
    """pretrain.external for the five toy models, served by `server`: checkpoints and
    dictionaries pinned, the SentencePiece model a member of the served release archive.
    `cut`: the objective whose checkpoint download loses its connection half-way once;
    `local_dictionary`: the objective whose dictionary is given as a local path."""
    release = Path(toy["release"]).read_bytes()
    spm = pinned(release, server.serve("/mickusti/lm-vs-mt_data.tar.gz", release), member="mt-vs-lm.spm.model")
    entries = {}
    for objective, name in OBJECTIVES.items():
        checkpoint = Path(toy[name]["checkpoint"]).read_bytes()
        behaviour = {"drop_after": len(checkpoint) // 2, "drops": 1} if objective == cut else {}
        dictionary = Path(toy[name]["dictionary"]).read_bytes()
        entries[objective] = {
            "source": f"toy {name} (authors' flags)",
            "checkpoint": pinned(checkpoint, server.serve(f"/media/{name}/checkpoint_best.pt", checkpoint, **behaviour)),
            "dictionary": ({"path": toy[name]["dictionary"]} if objective == local_dictionary
                           else pinned(dictionary, server.serve(f"/raw/{name}/dict.txt", dictionary))),
            "spm": spm,
        }
    return entries


def write_config(path: Path, results: Path, entries: dict, objectives=tuple(OBJECTIVES)) -> Path:
    conf = {
        "results_dir": str(results),
        "languages": ["en", "fr"],
        "objectives": list(objectives),
        "tasks": ["POS"],
        "demo": {"downstream_sizes": {"train": 60, "valid": 20, "test": 20}},
        "corpus": {"source": "demo"},
        "downstream": {"source": "demo"},
        "pretrain": {"external": entries},
        "evaluation": {"modes": ["probe", "finetune"], "seeds": [1], "max_length": 64, "job_scope": "objective",
                       "threads": 1, "probe": {"epochs": 2}, "finetune": {"epochs": 1}},
    }
    lmvsmt_config.validate(yaml.safe_load(yaml.safe_dump(conf)))
    path.write_text(yaml.safe_dump(conf))
    return path


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def evaluated(toy, tmp_path_factory, snakemake):
    """The workflow run on the five served toy models: imports, result files, tables."""
    from httpserver import FixtureServer

    server = FixtureServer().start()
    try:
        tmp = tmp_path_factory.mktemp("external")
        results = tmp / "results"
        entries = serve_models(server, toy, cut="CLM", local_dictionary="MLM")
        configfile = write_config(tmp / "external.yaml", results, entries)
        targets = [str(results / "tables" / f"table{n}.{ext}") for n in (1, 2, 3, 4, 8, 9) for ext in ("tex", "md")]
        targets += [str(results / "pretrain" / o / "source.json") for o in OBJECTIVES]
        proc = snakemake(*targets, cores=2, configfile=configfile, timeout=1800)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        hits = {o: server.hits(f"/media/{n}/checkpoint_best.pt") for o, n in OBJECTIVES.items()}
    finally:
        server.stop()
    return {"results": results, "entries": entries, "hits": hits, "configfile": configfile, "log": proc.stderr}


def test_external_models_are_downloaded_imported_and_nothing_is_pretrained(evaluated, toy):
    results = evaluated["results"]
    for unneeded in ("corpus", "bpe", "data-bin", "work"):
        assert not (results / unneeded).exists(), unneeded
    # the data release was deleted once the SentencePiece model was taken out
    assert [p.name for p in Path(fill(EXTERNAL_DOWNLOAD, results=results)).rglob("*.tar.gz")] == []
    lock = read_lock(results / "downloads.lock")
    for objective, name in OBJECTIVES.items():
        out = results / "pretrain" / objective
        assert sorted(p.name for p in out.iterdir()) == sorted(external.IMPORTED)
        assert (out / "spm.model").read_bytes() == Path(toy["spm"]).read_bytes()  # taken out of the release
        assert (out / "dict.txt").read_bytes() == Path(toy[name]["dictionary"]).read_bytes()
        record = json.loads((out / "source.json").read_text())
        assert record["source"] == f"toy {name} (authors' flags)"
        # sizes and architecture come from the checkpoint
        assert record["hidden_size"] == 32
        assert record["layers"] == (1 if objective in ("2-LM", "2-MT") else 2)
        assert record["architecture"] == {"2-LM": "bart_base", "2-MT": "bart_base", "CLM": "transformer_lm",
                                          "TLM": "transformer_lm", "MLM": "masked_lm"}[objective]
        checkpoint = Path(toy[name]["checkpoint"]).read_bytes()
        assert record["files"]["checkpoint"]["sha256"] == sha(checkpoint)
        assert lock[evaluated["entries"][objective]["checkpoint"]["url"]].sha256 == sha(checkpoint)
    # the authors' 2-MT language tokens and MLM mask come from their tasks, not their files
    assert json.loads((results / "pretrain/2-MT/source.json").read_text())["vocabulary"] == \
        len((results / "pretrain/2-MT/dict.txt").read_text().splitlines()) + 4 + 2


def test_a_cut_connection_is_resumed(evaluated):
    cut = evaluated["hits"]["CLM"]
    assert [h.status for h in cut] == [200, 206]
    assert cut[1].range is not None and int(cut[1].range.removeprefix("bytes=").rstrip("-")) > 0
    assert all(len(h) == 1 for o, h in evaluated["hits"].items() if o != "CLM")  # once, not per objective


def test_external_models_produce_result_files_and_tables_naming_their_source(evaluated):
    results = evaluated["results"]
    for mode in ("probe", "finetune"):
        for objective in OBJECTIVES:
            for lang in ("en", "fr"):
                record = json.loads((results / f"eval/{mode}/{objective}/POS/{lang}/seed1.json").read_text())
                assert 0.0 <= record["accuracy"] <= 1.0 and record["n_test"] > 0
    table3 = (results / "tables" / "table3.md").read_text()
    assert "Models: CLM from toy clm (authors' flags); MLM from toy mlm (authors' flags); " \
           "TLM from toy tlm (authors' flags)." in table3
    assert table3.count("–") == 0  # every cell filled
    assert r"2-LM from toy bart-lm (authors' flags)" in (results / "tables" / "table1.tex").read_text()


def test_status_follows_no_pretraining_of_external_models(evaluated):
    proc = subprocess.run([sys.executable, "-m", "lmvsmt.status", "--configfile", str(evaluated["configfile"]),
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["pretraining"] == []
    assert {o: v["present"] for o, v in report["evaluation"]["probe"].items()} == {o: 2 for o in OBJECTIVES}


def test_analyses_run_on_models_trained_elsewhere(evaluated, tmp_path, snakemake):
    """The companion paper's analyses on the imported models: the weight spectra of the
    authors' architectures, the transfer tables, and CKA on parallel sentences from a
    directory (this config builds no corpus); no evaluation job runs again."""
    results = evaluated["results"]
    bitexts = tmp_path / "bitexts"
    bitexts.mkdir()
    words = {"en": ["the", "cat", "sees", "a", "dog", "house", "red"], "fr": ["le", "chat", "voit", "un", "chien",
                                                                              "maison", "rouge"]}
    for lang in ("en", "fr"):
        (bitexts / f"bitext.en-fr.{lang}").write_text(
            "".join(" ".join(words[lang][(i + k) % 7] for k in range(3 + i % 4)) + f" {i}\n" for i in range(40)))
    conf = yaml.safe_load(evaluated["configfile"].read_text())
    conf["analysis"] = {"similarity": {"source": "files", "files": str(bitexts), "sentences": 30, "min_sentences": 5}}
    configfile = tmp_path / "analysis.yaml"
    configfile.write_text(yaml.safe_dump(conf))
    targets = [results / "tables" / name for name in ("spectra.md", "transfer_probe_en.md", "transfer_finetune_en.md")]
    targets.append(results / "analysis" / "similarity" / "cka_models.csv")
    proc = snakemake(*targets, cores=2, configfile=configfile, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert not re.search(r"^\s*(local)?rule (features|probe|finetune|external_\w+):", proc.stdout + proc.stderr, re.M)
    spectra = (results / "tables" / "spectra.md").read_text()
    for pair in ("2-MT vs 2-LM", "TLM vs CLM", "MLM vs CLM"):
        assert f"| {pair} |" in spectra, spectra
    assert "| POS | 2-LM |" in (results / "tables" / "transfer_finetune_en.md").read_text()
    with open(targets[-1]) as fh:
        rows = list(csv.DictReader(fh))
    assert {r["objective1"] for r in rows} == set(OBJECTIVES) and {r["language"] for r in rows} == {"en", "fr"}
    assert all(0.0 <= float(r["cka"]) <= 1.0 + 1e-6 for r in rows)


# --------------------------------------------------------------------------- refusals


def test_wrong_sha256_is_refused_and_moved_aside(http_server, tmp_path):
    data = b"not the checkpoint the config pins" * 100
    url = http_server.serve("/media/clm/checkpoint_best.pt", data)
    dest = tmp_path / "external" / "download" / "x.pt"
    entry = {"url": url, "key": "pretrain.external.CLM.checkpoint", "sha256": "ab" * 32, "size": len(data)}
    with pytest.raises(DownloadError) as err:
        external.download(entry, dest, tmp_path / "downloads.lock")
    assert "\n" not in str(err.value) and "pretrain.external.CLM.checkpoint" in str(err.value)
    assert "the config pins " + "ab" * 32 in str(err.value)
    assert not dest.exists() and [p.read_bytes() for p in dest.parent.glob("x.pt.bad-*")] == [data]
    assert read_lock(tmp_path / "downloads.lock") == {}


def test_a_mismatched_dictionary_stops_the_workflow_with_one_line(toy, tmp_path, snakemake):
    """The CLM checkpoint with the BART dictionary (both local paths)."""
    entries = {"CLM": {"checkpoint": {"path": toy["clm"]["checkpoint"]},
                       "dictionary": {"path": toy["bart-lm"]["dictionary"]},
                       "spm": {"path": toy["release"], "member": RELEASE_MEMBER}}}
    results = tmp_path / "results"
    configfile = write_config(tmp_path / "mismatch.yaml", results, entries, objectives=["CLM"])
    proc = snakemake(results / "pretrain/CLM/source.json", cores=2, configfile=configfile)
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "not the dictionary" in line]
    assert lines, proc.stderr[-3000:]
    assert re.search(r"bart-lm/dict\.txt: \d+ entries make \d+ tokens with fairseq's 4 special symbols, "
                     r"but \S+clm/checkpoint_best\.pt embeds \d+: not the dictionary this model was trained with",
                     lines[0])
    assert not (results / "pretrain/CLM/checkpoint_best.pt").exists()


@pytest.mark.slow
def test_a_checkpoint_of_another_architecture_is_refused(toy, tmp_path):
    from lmvsmt.pretrain import models

    outputs = {k: tmp_path / n for k, n in zip(("model", "dict", "spm", "source"), external.IMPORTED)}
    with pytest.raises(external.ModelError, match=r"clm/checkpoint_best\.pt: architecture transformer_lm "
                       r"\(TransformerLanguageModel\) cannot be evaluated as 2-LM, which needs BART"):
        models.import_model("2-LM", toy["clm"]["checkpoint"], toy["clm"]["dictionary"], toy["spm"], outputs,
                                languages=["en", "fr"])
    with pytest.raises(external.ModelError, match=r"no language token __zh__"):
        models.import_model("2-MT", toy["bart-mt"]["checkpoint"], toy["bart-mt"]["dictionary"], toy["spm"],
                                outputs, languages=["en", "fr", "zh"])
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("objective, arch, task, accepted", [
    ("2-LM", "bart_large", "denoising", True),
    ("2-MT", "bart_base", "translation_multi_simple_epoch", True),
    ("TLM", "transformer_lm_gpt", "language_modeling", True),
    ("MLM", "roberta_base", "masked_lm", True),
    ("MLM", "bert_base", "masked_lm", True),  # the legacy masked_lm model's BERT preset
    ("2-LM", "transformer", "denoising", False),
    ("CLM", "lstm_lm", "language_modeling", False),
    ("2-MT", "mbart_large", "denoising", False),
])
def test_architectures_and_tasks_read_as_each_objective(objective, arch, task, accepted):
    from argparse import Namespace

    from lmvsmt.pretrain import models

    state = {"cfg": {"model": Namespace(_name=arch, arch=arch), "task": {"_name": task}}, "model": {}}
    if accepted:
        assert models.check_architecture(objective, state, Path("c.pt")) == (arch, task)
    else:
        with pytest.raises(external.ModelError, match=rf"^c\.pt: (architecture {arch}|task {task}) .*cannot be "
                           rf"evaluated as {objective}, which needs"):
            models.check_architecture(objective, state, Path("c.pt"))


def test_a_checkpoint_holding_foreign_objects_is_not_unpickled(tmp_path):
    """A pickle that would call a function when loaded is refused unread."""
    import torch

    from lmvsmt.pretrain import models

    marker = tmp_path / "ran"
    (tmp_path / "x").write_text("x")

    class Payload:
        def __reduce__(self):
            return (shutil.copyfile, (str(tmp_path / "x"), str(marker)))

    torch.save({"model": {}, "cfg": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(external.ModelError, match=r"evil\.pt \(pretrain\.external\.CLM\): refused to unpickle "
                       r"shutil\.copyfile: .*set pretrain\.external\.CLM\.trust_pickle: true"):
        models.read_checkpoint(tmp_path / "evil.pt", key="pretrain.external.CLM")
    assert not marker.exists()


# --------------------------------------------------------------------------- configuration


def test_released_config_pins_the_authors_five_models():
    config = lmvsmt_config.load(ROOT / "config" / "released.yaml")
    assert external.trained_objectives(config) == []
    downloads = external.downloads(config)
    checkpoints = {e["key"]: e for e in downloads.values() if e["key"].endswith(".checkpoint")}
    assert len(checkpoints) == 5
    clm = checkpoints["pretrain.external.CLM.checkpoint"]
    assert (clm["sha256"], clm["size"]) == ("4d56f617be685b06a48d39666b6116bff416e6c325069c52de635e22677de4c8",
                                            1682655095)
    commit = re.search(r"/lm-vs-mt/([0-9a-f]{40})/", clm["url"]).group(1)
    for objective, name in OBJECTIVES.items():
        entry = config["pretrain"]["external"][objective]
        assert entry["checkpoint"]["url"] == ("https://media.githubusercontent.com/media/Helsinki-NLP/lm-vs-mt/"
                                              f"{commit}/model_weights/{name}/checkpoint_best.pt")
        assert entry["dictionary"]["url"].startswith(f"https://raw.githubusercontent.com/Helsinki-NLP/lm-vs-mt/{commit}/")
        assert entry["spm"]["url"] == "https://a3s.fi/mickusti-2005099-pub/lm-vs-mt_data.tar.gz"
    # 5 checkpoints, 3 distinct dictionaries (bart-lm = bart-mt, clm = mlm), one archive
    assert len(downloads) == 9 and len(external.unpacks(config)) == 1
    assert config["evaluation"]["seeds"] == [1, 2, 3, 4, 5] and config["evaluation"]["max_length"] == 128


def test_released_dry_run_plans_no_pretraining_and_the_full_evaluation(snakemake):
    proc = snakemake("-n", "--quiet", "rules", configfile="config/released.yaml", profile=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.M)}
    assert not [r for r in jobs if r == "pretrain" or r.startswith(("corpus_", "bpe_"))], jobs
    units = 5 * 4 * 6  # objectives x tasks x languages, one job each (job_scope language)
    assert (jobs["features"], jobs["probe"], jobs["finetune"]) == (units, units, units)
    # 5 checkpoints, 3 dictionaries, the data release (deleted once its member is out)
    assert [jobs[r] for r in ("external_download", "external_archive", "external_unpack", "external_model")] == \
        [8, 1, 1, 5]
    assert jobs["result_table"] == 6 and "loss_plot" not in jobs


def test_file_entries_need_a_url_or_a_path_and_one_pin_per_url():
    base = {"checkpoint": {"path": "c.pt"}, "dictionary": {"path": "d.txt"}, "spm": {"path": "s.model"}}
    both = {**base, "checkpoint": {"path": "c.pt", "url": "https://x.org/c.pt"}}
    with pytest.raises(ConfigError, match=r"pretrain\.external\.CLM\.checkpoint: give either url or path"):
        external.check(lmvsmt_config.validate({"pretrain": {"external": {"CLM": both}}}))
    a = {**base, "spm": {"url": "https://x.org/r.tar.gz", "member": "m.model", "size": 5}}
    b = {**base, "spm": {"url": "https://x.org/r.tar.gz", "member": "m.model", "size": 6}}
    with pytest.raises(ConfigError, match=r"pretrain\.external\.MLM\.spm: https://x\.org/r\.tar\.gz is also "
                       r"pretrain\.external\.CLM\.spm, with other sha256/size pins"):
        external.check(lmvsmt_config.validate({"pretrain": {"external": {"CLM": a, "MLM": b}}}))
    with pytest.raises(ConfigError, match=r"pretrain\.external\.CLM\.spm\.member: '\*\.model' does not match"):
        lmvsmt_config.validate({"pretrain": {"external": {"CLM": {**base, "spm": {"path": "r.tgz", "member": "*.model"}}}}})


def test_mixed_configs_train_only_what_has_no_external_model():
    config = lmvsmt_config.validate({"pretrain": {"external": {"CLM": {
        "checkpoint": {"path": "c.pt"}, "dictionary": {"path": "d.txt"}, "spm": {"path": "s.model"}}}}})
    assert external.trained_objectives(config) == ["2-LM", "2-MT", "MLM", "TLM"]
    assert external.subword_model("R", config, "CLM") == "R/pretrain/CLM/spm.model"
    assert external.subword_model("R", config, "MLM") == "R/bpe/spm.model"
    assert "table6" in specs.tables_for(config)
    assert external.caption_sources(config, ["CLM", "MLM", "TLM"]) == [(["CLM"], "c.pt"),
                                                                      (["MLM", "TLM"], external.TRAINED_HERE)]
    assert external.caption_sources(config, ["2-LM", "2-MT"]) == []  # all trained here: captions unchanged
    only_external = lmvsmt_config.validate({**config, "objectives": ["CLM"]})
    assert "table6" not in specs.tables_for(only_external)
    assert not any("pretraining_loss" in t for t in specs.stage_targets(only_external))
