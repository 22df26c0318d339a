"""Workflow-level checks: the Snakefile lints clean and the paper DAG is complete."""


def test_lint_is_clean(snakemake):
    proc = snakemake("--lint", profile=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations, your workflow is in a good condition" in proc.stdout + proc.stderr


def test_paper_dag_has_one_result_per_evaluation_unit(snakemake):
    """5 objectives x 4 tasks x 6 languages x 5 seeds x 2 modes = 1,200 result files."""
    import itertools
    import re

    proc = snakemake("--summary", configfile="config/paper.yaml", profile=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    found = set(re.findall(r"results/eval/(\w+)/([\w-]+)/(\w+)/(\w+)/seed(\d+)\.json", proc.stdout))
    expected = set(itertools.product(["probe", "finetune"], ["2-LM", "2-MT", "CLM", "MLM", "TLM"],
                                     ["SA", "NER", "POS", "NLI"], ["ar", "en", "es", "fr", "ru", "zh"],
                                     ["1", "2", "3", "4", "5"]))
    assert found == expected
    for stage in ("pretrain", "features", "probe", "finetune", "tables_pdf"):
        assert f"\t{stage}\t" in proc.stdout
