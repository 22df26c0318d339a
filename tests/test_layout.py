"""One place for each fact: the paper's names (lmvsmt.vocabulary) agree with the
config schema, the results layout (lmvsmt.layout) serves as Snakemake pattern and as
path, and every error lmvsmt raises for the user ends a rule with one line."""
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import lmvsmt
from lmvsmt import config as cfg
from lmvsmt import layout, vocabulary
from lmvsmt.errors import LmvsmtError
from lmvsmt.io import rule_log

ROOT = Path(__file__).resolve().parent.parent


def _enum(node):
    return tuple(node["items"]["enum"])


def test_the_schema_offers_exactly_the_papers_names():
    schema = cfg.load_schema()["properties"]
    assert _enum(schema["languages"]) == vocabulary.LANGUAGES
    assert _enum(schema["objectives"]) == vocabulary.OBJECTIVES
    assert _enum(schema["tasks"]) == vocabulary.TASKS
    assert _enum(schema["corpus"]["properties"]["corpora"]) == tuple(vocabulary.CORPORA)
    assert _enum(schema["evaluation"]["properties"]["modes"]) == vocabulary.MODES
    analysis = schema["analysis"]["properties"]
    assert _enum(analysis["transfer"]["properties"]["sources"]) == vocabulary.LANGUAGES
    assert tuple(analysis["similarity"]["properties"]["split"]["enum"]) == vocabulary.SPLITS
    assert _enum(analysis["similarity"]["properties"]["corpora"]) == tuple(vocabulary.CORPORA)
    assert _enum(analysis["spectra"]["properties"]["pairs"]["items"]) == vocabulary.OBJECTIVES


def test_stacks_and_datasets_cover_every_objective_once():
    assert sorted(vocabulary.DOUBLE_STACK + vocabulary.SINGLE_STACK) == sorted(vocabulary.OBJECTIVES)
    assert set(vocabulary.DATASET) == set(vocabulary.OBJECTIVES) == set(vocabulary.DOUBLE_STACK + vocabulary.SINGLE_STACK)
    assert set(vocabulary.TASK_TEXTS) == set(vocabulary.TASKS)
    assert [t for t in vocabulary.TASKS if vocabulary.is_token_task(t)] == ["NER", "POS"]
    assert vocabulary.language_pairs(["fr", "en", "ar"]) == [("ar", "en"), ("ar", "fr"), ("en", "fr")]


def test_a_pattern_filled_in_part_keeps_the_other_names_as_wildcards():
    pattern = layout.fill(layout.EVAL_RESULT, results="R", mode="probe")
    assert pattern == "R/eval/probe/{objective}/{task}/{lang}/seed{seed}.json"
    assert pattern.format(objective="CLM", task="SA", lang="en", seed=1) == \
        layout.eval_result("R", "probe", "CLM", "SA", "en", 1) == "R/eval/probe/CLM/SA/en/seed1.json"
    assert layout.fill(layout.MODEL, results=Path("/r")) == "/r/pretrain/{objective}"
    assert layout.log("R", "downstream_prepare", "{task}/{lang}") == "R/logs/downstream_prepare/{task}/{lang}.log"
    assert layout.benchmark("R", "corpus_table6") == "R/benchmarks/corpus_table6/corpus_table6.tsv"


def test_corpus_texts_name_every_split_language_and_pair_side():
    docs, bitexts = layout.corpus_texts("C", ["fr", "en"])
    assert docs == [f"C/{s}/doc.{lang}.txt" for s in vocabulary.SPLITS for lang in ("en", "fr")]
    assert bitexts == [f"C/{s}/bitext.en-fr.{side}" for s in vocabulary.SPLITS for side in ("en", "fr")]
    assert layout.doc_path("R", "unpc", "train", "en") == "R/corpus/unpc/train/doc.en.txt"
    assert layout.bitext_path("R", "unpc", "test", "en", "fr", "fr") == "R/corpus/unpc/test/bitext.en-fr.fr"


SCRIPTS = sorted((ROOT / "workflow" / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_scripts_take_their_paths_from_the_rule(script):
    """A script that derives a directory from one of its files breaks when the layout
    changes; the rule passes it (snakemake.params) instead."""
    text = script.read_text()
    climbing = re.findall(r"\.parents?\b|rsplit\(\"/\"|os\.path\.dirname|\.\./", text)
    assert not climbing, f"{script.name}: {climbing}"
    assert "rule_log(snakemake.log[0])" in text, f"{script.name} runs outside the rule log"


def _modules():
    for info in pkgutil.walk_packages(lmvsmt.__path__, "lmvsmt."):
        if ".fairseq_plugin" in info.name or info.name.endswith("__main__"):
            continue  # registers into fairseq on import / runs a CLI
        yield importlib.import_module(info.name)


def test_every_error_lmvsmt_raises_for_the_user_has_the_one_base():
    errors = {f"{m.__name__}.{name}": obj for m in _modules() for name, obj in vars(m).items()
              if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == m.__name__
              and not name.startswith("_")}
    assert len(errors) >= 10
    assert [name for name, cls in errors.items() if not issubclass(cls, LmvsmtError)] == []
    corpus_errors = {cls for name, cls in errors.items() if name.endswith(".CorpusError")}
    assert len(corpus_errors) == 1


class _StageError(LmvsmtError, ValueError):
    pass


def test_rule_log_ends_a_job_with_the_one_line_of_any_lmvsmt_error(tmp_path):
    log = tmp_path / "rule.log"
    with pytest.raises(SystemExit) as stop:
        with rule_log(log):
            raise _StageError("data/x.tsv:3: expected 2 columns, found 1")
    assert stop.value.code == "data/x.tsv:3: expected 2 columns, found 1"
    assert log.read_text().splitlines() == [stop.value.code]
    with pytest.raises(ValueError):  # not ours: the traceback stays
        with rule_log(log):
            raise ValueError("unexpected")
    assert "Traceback (most recent call last):" in log.read_text()
