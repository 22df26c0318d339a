"""Acceptance on the demo config: all 24 task x language datasets are produced offline
by the workflow, from raw files in the real sources' formats, with the right label sets
and split sizes; a rerun is a no-op and a new split seed reruns only the split step."""
import json
import re
from pathlib import Path

import pytest
import yaml

from lmvsmt.downstream import demo, formats
from lmvsmt.downstream.common import NER_LABELS, NLI_LABELS, UPOS_LABELS, read_split, split_path
from lmvsmt.vocabulary import SPLITS

ROOT = Path(__file__).resolve().parent.parent
TASKS = ["SA", "NER", "POS", "NLI"]
LANGS = ["ar", "en", "es", "fr", "ru", "zh"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, snakemake):
    tmp = tmp_path_factory.mktemp("demo")
    conf = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    conf["results_dir"] = str(tmp / "results")
    path = tmp / "demo.yaml"
    path.write_text(yaml.safe_dump(conf))
    table7 = tmp / "results" / "stats" / "table7.tsv"
    proc = snakemake(table7, cores=4, configfile=path)  # jobs wait on start-up, not CPU
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return conf, path, tmp / "results"


def expected_labels(task, lang):
    if task == "SA":
        return {"ru": {"negative", "neutral", "positive"}, "ar": {"negative", "positive"}}.get(
            lang, {"1", "2", "3", "4", "5"})
    return set({"NER": NER_LABELS, "NLI": NLI_LABELS}[task])


def test_all_24_datasets_with_label_sets_and_sizes(demo_run):
    conf, _, results = demo_run
    sizes = conf.get("demo", {}).get("downstream_sizes") or {"train": 600, "valid": 100, "test": 100}
    for task in TASKS:
        for lang in LANGS:
            out = results / "downstream" / task / lang
            meta = json.loads((out / "meta.json").read_text())
            assert meta["counts"] == sizes, (task, lang)
            labels = {}
            for split in SPLITS:
                examples = read_split(split_path(out, task, split), task)
                assert len(examples) == sizes[split]
                labels[split] = {l for ex in examples for l in (ex.labels if task in ("NER", "POS") else [ex.label])}
            if task == "POS":
                assert labels["train"] <= set(UPOS_LABELS) and {"NOUN", "VERB", "PROPN"} <= labels["train"]
            else:
                assert all(labels[s] == expected_labels(task, lang) for s in SPLITS), (task, lang, labels)
            assert meta["labels_not_in_train"] == []


def test_raw_files_are_in_the_real_formats(demo_run):
    _, _, results = demo_run
    raw = results / "downstream" / "raw"
    first = json.loads((raw / "SA" / "en" / "train.jsonl").read_text().splitlines()[0])
    assert set(first) == {"id", "text", "label", "label_text"} and first["label"] in range(5)
    assert (raw / "SA" / "ru" / "women-clothing-accessories.3-class.balanced.csv").read_text().startswith(
        "review\tsentiment\n")
    assert (raw / "SA" / "ar" / "RES1.csv").read_text().startswith("polarity,text,restaurant_id,user_id\n")
    assert re.match(r"# id [0-9a-f-]{36}\tdomain=fr\n\S+ _ _ (O|[BI]-\w+)\n",
                    (raw / "NER" / "fr" / "fr_train.conll").read_text())
    assert re.search(r"\S+ [BI]-(PER|LOC|ORG)\n", (raw / "NER" / "ar" / "demo_article_1.txt").read_text())
    conllu = (raw / "POS" / "zh" / "zh_demo-b-ud-test.conllu").read_text().splitlines()
    assert conllu[0].startswith("# sent_id") and len(conllu[2].split("\t")) == 10
    header = (raw / "NLI" / "es" / "xnli.dev.tsv").read_text().splitlines()[0].split("\t")
    assert header == formats.XNLI_COLUMNS
    ner_types = {line.split()[-1] for line in (raw / "NER" / "en" / "en_train.conll").read_text().splitlines()
                 if line and not line.startswith("#")}
    assert {"B-PER", "B-LOC", "B-ORG"} <= ner_types  # types in the raw file, collapsed in the common one


def test_rerun_is_a_noop_and_a_new_split_seed_reruns_only_the_splits(demo_run, tmp_path, snakemake):
    conf, path, results = demo_run
    proc = snakemake("-n", results / "stats" / "table7.tsv", configfile=path)
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr
    conf = {**conf, "downstream": {**conf["downstream"], "split_seed": 2}}
    other = tmp_path / "seed2.yaml"
    other.write_text(yaml.safe_dump(conf))
    proc = snakemake("-n", results / "stats" / "table7.tsv", configfile=other)
    assert proc.returncode == 0, proc.stderr
    jobs = dict(re.findall(r"^(downstream_\w+)\s+(\d+)$", proc.stdout, re.M))
    assert jobs == {"downstream_prepare_sentence": "12", "downstream_prepare_token": "12", "downstream_table7": "1"}


def test_table7(demo_run):
    conf, _, results = demo_run
    sizes = conf["demo"]["downstream_sizes"]
    counts = [str(sizes[s]) for s in ("train", "valid", "test")] + [str(sum(sizes.values()))]
    lines = (results / "stats" / "table7.tsv").read_text().splitlines()
    assert lines[0] == "task\tlanguage\tdataset\ttrain\tvalid\ttest\ttotal\tvalid_in_train\ttest_in_train\ttest_in_valid"
    rows = [l.split("\t") for l in lines[1:]]
    assert [(r[0], r[1]) for r in rows] == [(t, l) for t in TASKS for l in LANGS]
    assert all(r[3:] == counts + ["0", "0", "0"] for r in rows)  # the demo's inputs are unique


def test_demo_generation_is_deterministic_and_fast(tmp_path):
    import time

    from lmvsmt import config as cfg

    conf = cfg.load(ROOT / "config" / "config.yaml")
    start = time.perf_counter()
    first = demo.generate(conf, tmp_path / "a", TASKS, LANGS)
    elapsed = time.perf_counter() - start
    demo.generate(conf, tmp_path / "b", ["NER"], ["ar"])
    assert len(first) == 24
    same = tmp_path / "a" / "NER" / "ar" / "demo_article_3.txt"
    assert same.read_bytes() == (tmp_path / "b" / "NER" / "ar" / "demo_article_3.txt").read_bytes()
    assert elapsed < 60  # a few seconds in practice; the bound only catches pathologies
