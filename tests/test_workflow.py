"""Workflow-level checks: the Snakefile lints clean and the paper DAG is complete."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def snakemake(*args, timeout=300):
    return subprocess.run([SNAKEMAKE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_lint_is_clean():
    proc = snakemake("--lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations, your workflow is in a good condition" in proc.stdout + proc.stderr


def test_paper_dag_has_one_result_per_evaluation_unit():
    """5 objectives x 4 tasks x 6 languages x 5 seeds x 2 modes = 1,200 result files."""
    import itertools
    import re

    proc = snakemake("--configfile", "config/paper.yaml", "--summary")
    assert proc.returncode == 0, proc.stderr
    found = set(re.findall(r"results/eval/(\w+)/([\w-]+)/(\w+)/(\w+)/seed(\d+)\.json", proc.stdout))
    expected = set(itertools.product(["probe", "finetune"], ["2-LM", "2-MT", "CLM", "MLM", "TLM"],
                                     ["SA", "NER", "POS", "NLI"], ["ar", "en", "es", "fr", "ru", "zh"],
                                     ["1", "2", "3", "4", "5"]))
    assert found == expected
    for stage in ("pretrain", "features", "probe", "finetune", "tables_pdf"):
        assert f"\t{stage}\t" in proc.stdout
