"""End to end: the whole demo DAG (synthetic world -> corpora -> BPE -> five
pretrained models -> probing and fine-tuning -> tables) runs once into a temporary
results directory; the tests then check what a researcher relies on."""
import itertools
import json
import re
import statistics

import yaml
from demo_run import DEMO, ROOT, snakemake

from lmvsmt import probe

# The `demo` fixture (tests/conftest.py) runs the whole demo DAG once per session.


def planned_rules(results, **changes):
    """Rules a dry run would execute (with their job counts) with config sections changed."""
    args = []
    if changes:
        conf = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
        for section, values in changes.items():
            for key, value in values.items():
                conf[section].setdefault(key, {}).update(value)
        path = results.parent / "changed.yaml"
        path.write_text(yaml.safe_dump(conf))
        args = ["--configfile", str(path)]
    proc = snakemake(results, "-n", "--quiet", "rules", *args, timeout=300)
    assert proc.returncode == 0, proc.stderr
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.M))
    jobs.pop("total", None)
    return {rule: int(n) for rule, n in jobs.items()}


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


def test_rerun_is_a_no_op(demo):
    assert planned_rules(demo) == {}


def eval_jobs():
    """Jobs per evaluation rule under the demo's evaluation.job_scope."""
    units = {"language": len(DEMO["tasks"]) * len(DEMO["languages"]), "task": len(DEMO["tasks"]), "objective": 1}
    return len(DEMO["objectives"]) * units[DEMO["evaluation"]["job_scope"]]


def test_finetuning_change_reruns_only_finetuning(demo):
    jobs = planned_rules(demo, evaluation={"finetune": {"lr": 0.0005}})
    assert jobs.get("finetune") == eval_jobs()
    assert not {"pretrain", "features", "probe"} & set(jobs)


def test_probing_change_reruns_only_probing(demo):
    jobs = planned_rules(demo, evaluation={"probe": {"epochs": 4}})
    assert jobs.get("probe") == eval_jobs()
    assert not {"pretrain", "features", "finetune"} & set(jobs)
