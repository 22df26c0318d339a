"""End to end: the whole demo DAG (synthetic world -> corpora -> BPE -> five
pretrained models -> probing and fine-tuning -> tables) runs once into a temporary
results directory; the tests then check what a researcher relies on."""
import csv
import itertools
import json
import re
import statistics
from pathlib import Path

import pytest
import yaml

from lmvsmt import config as lmvsmt_config
from lmvsmt.evaluate import probe

ROOT = Path(__file__).resolve().parent.parent
DEMO = lmvsmt_config.load(ROOT / "config" / "config.yaml")

# The `demo` fixture (tests/conftest.py) runs the whole demo DAG once per session.


@pytest.fixture
def planned_rules(snakemake):
    def planned(results, **changes):
        """Rules a dry run would execute (with their job counts) with config sections changed."""
        configfile = None
        if changes:
            conf = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
            for section, values in changes.items():
                for key, value in values.items():
                    conf[section].setdefault(key, {}).update(value)
            configfile = results.parent / "changed.yaml"
            configfile.write_text(yaml.safe_dump(conf))
        proc = snakemake("-n", "--quiet", "rules", configfile=configfile, cores=2, results=results, profile=True,
                         timeout=300)
        assert proc.returncode == 0, proc.stderr
        jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.M))
        jobs.pop("total", None)
        return {rule: int(n) for rule, n in jobs.items()}
    return planned


def test_every_evaluation_unit_has_a_result_file(demo):
    ev = DEMO["evaluation"]
    units = list(itertools.product(ev["modes"], DEMO["objectives"], DEMO["tasks"], DEMO["languages"], ev["seeds"]))
    assert len(units) >= 2 * 5 * 4 * 6 * 3
    for mode, objective, task, lang, seed in units:
        record = json.loads((demo / f"eval/{mode}/{objective}/{task}/{lang}/seed{seed}.json").read_text())
        assert (record["mode"], record["objective"], record["task"], record["language"], record["seed"]) == \
            (mode, objective, task, lang, seed)
        assert 0.0 <= record["accuracy"] <= 1.0 and record["n_test"] > 0


def test_probing_pos_beats_the_majority_baseline_for_every_objective(demo):
    for objective in DEMO["objectives"]:
        margins = []
        for lang in DEMO["languages"]:
            accuracy = statistics.mean(
                json.loads((demo / f"eval/probe/{objective}/POS/{lang}/seed{seed}.json").read_text())["accuracy"]
                for seed in DEMO["evaluation"]["seeds"])
            baseline = probe.majority_baseline(demo / f"features/{objective}/POS/{lang}/features.pt")
            assert accuracy > baseline, (objective, lang, accuracy, baseline)
            margins.append(accuracy - baseline)
        assert statistics.mean(margins) > 0.1, (objective, margins)


def test_same_seed_reproduces_the_result_file(demo):
    path = demo / "eval/probe/CLM/NER/fr/seed2.json"
    stored = json.loads(path.read_text())
    again = probe.probe(demo / "features/CLM/NER/fr/features.pt", 2, DEMO["evaluation"]["head"],
                        DEMO["evaluation"]["probe"])
    for key, value in again.items():
        if key != "wall_time_s":
            assert stored[key] == value, key


def test_tables_and_pdf_are_built(demo):
    tables = demo / "tables"
    assert (tables / "tables.pdf").read_bytes().startswith(b"%PDF")
    table1 = (tables / "table1.tex").read_text()
    assert "2-LM" in table1 and "2-MT" in table1 and r"\pm" in table1


def test_rerun_is_a_no_op(demo, planned_rules):
    assert planned_rules(demo) == {}


def eval_jobs():
    """Jobs per evaluation rule under the demo's evaluation.job_scope."""
    units = {"language": len(DEMO["tasks"]) * len(DEMO["languages"]), "task": len(DEMO["tasks"]), "objective": 1}
    return len(DEMO["objectives"]) * units[DEMO["evaluation"]["job_scope"]]


def test_finetuning_change_reruns_only_finetuning(demo, planned_rules):
    jobs = planned_rules(demo, evaluation={"finetune": {"lr": 0.0005}})
    assert jobs.get("finetune") == eval_jobs()
    assert not {"pretrain", "features", "probe"} & set(jobs)


def test_probing_change_reruns_only_probing(demo, planned_rules):
    jobs = planned_rules(demo, evaluation={"probe": {"epochs": 4}})
    assert jobs.get("probe") == eval_jobs()
    assert not {"pretrain", "features", "finetune"} & set(jobs)


# --- the companion paper's analyses (rules/analysis.smk) ----------------------------------
ANALYSIS_RULES = {"transfer_table", "cka_sentences", "cka_states", "cka", "cka_plot", "spectra", "spectra_table"}
NOT_COMPARED = {"wall_time_s", "provenance", "train_language", "test_language"}


def test_transfer_cell_trained_and_tested_on_one_language_is_the_ordinary_result(demo):
    ev = DEMO["evaluation"]
    for mode, objective, task, seed in itertools.product(ev["modes"], DEMO["objectives"], DEMO["tasks"], ev["seeds"]):
        for source in DEMO["analysis"]["transfer"]["sources"]:
            cells = demo / f"transfer/{mode}/{objective}/{task}/{source}"
            cell = json.loads((cells / f"{source}/seed{seed}.json").read_text())
            ordinary = json.loads((demo / f"eval/{mode}/{objective}/{task}/{source}/seed{seed}.json").read_text())
            assert (cell["train_language"], cell["test_language"]) == (source, source)
            assert {k: v for k, v in cell.items() if k not in NOT_COMPARED} == \
                {k: v for k, v in ordinary.items() if k not in NOT_COMPARED}, (mode, objective, task, seed)
            for test in DEMO["languages"]:
                other = json.loads((cells / f"{test}/seed{seed}.json").read_text())
                if other["accuracy"] is None:  # a test set with labels the source's head does not know
                    assert "unknown" in other["skipped"]
                else:
                    assert 0.0 <= other["accuracy"] <= 1.0 and other["test_language"] == test
    # Every run scores every language, whatever the configured sources (fr is not one). The demo's
    # Spanish POS test set uses only tags French training data has, so a head trained on fr scores it.
    for mode in ev["modes"]:
        assert json.loads((demo / f"transfer/{mode}/CLM/POS/fr/es/seed1.json").read_text())["accuracy"] > 0.0


def test_analysis_tables_heatmaps_and_data_are_built(demo):
    for mode in DEMO["evaluation"]["modes"]:
        md = (demo / f"tables/transfer_{mode}_en.md").read_text()
        assert "| Task | Model | AR | EN | ES | FR | RU | ZH | Gap |" in md and "| POS | 2-LM |" in md
        assert (demo / f"tables/transfer_{mode}_en.tex").read_text().count(r"\pm") > 100
    with open(demo / "analysis/similarity/cka_languages.csv") as fh:
        rows = list(csv.DictReader(fh))
    # 15 language pairs per layer: 2-LM/2-MT 1+1 encoder states, CLM/MLM/TLM 1+2 layer states
    assert len(rows) == 15 * (2 + 2 + 3 + 3 + 3)
    assert all(0.0 <= float(r["cka"]) <= 1.0 + 1e-6 for r in rows)
    with open(demo / "analysis/similarity/cka_models.csv") as fh:
        models = list(csv.DictReader(fh))
    assert len(models) == 6 * 13 * 13
    assert all(abs(float(r["cka"]) - 1.0) < 1e-6 for r in models
               if (r["objective1"], r["layer1"]) == (r["objective2"], r["layer2"]))
    plots = demo / "plots/analysis"
    for name in [f"cka_languages_{o}.png" for o in DEMO["objectives"]] + ["cka_languages_by_layer.png",
                                                                          "cka_models.png", "spectra.png"]:
        assert (plots / name).read_bytes()[:4] == b"\x89PNG", name
    spectra = (demo / "tables/spectra.md").read_text()
    assert "| 2-MT vs 2-LM | 2-MT encoder |" in spectra and "|  | 2-MT decoder cross-attn. |" in spectra
    assert "| TLM vs CLM | TLM decoder |" in spectra


def analysis_only(jobs):
    return set(jobs) - {"all"}


def test_analysis_changes_rerun_only_analysis_jobs(demo, planned_rules):
    assert analysis_only(planned_rules(demo, analysis={"similarity": {"sentences": 150}})) == \
        {"cka_sentences", "cka_states", "cka", "cka_plot"}
    assert analysis_only(planned_rules(demo, analysis={"spectra": {"pairs": [["TLM", "CLM"]]}})) == \
        {"spectra", "spectra_table"}
    jobs = planned_rules(demo, analysis={"transfer": {"sources": ["en", "fr"]}})
    assert jobs == {"transfer_table": len(DEMO["evaluation"]["modes"]), "all": 1}  # the new source's tables only
    assert analysis_only(planned_rules(demo, analysis={"transfer": {"metric": "macro_f1"}})) == {"transfer_table"}
    assert ANALYSIS_RULES >= analysis_only(planned_rules(demo, analysis={"similarity": {"decoder": True}}))
