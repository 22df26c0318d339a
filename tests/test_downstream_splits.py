"""Our own splits: deterministic for a seed, a partition without overlap, never empty;
duplicate removal; inputs shared between splits (counted, dropped on request); the POS
token budget; and the prepare step's own checks."""
import json
import re

import pytest

from lmvsmt.downstream import prepare, splits
from lmvsmt.downstream.common import DataError, TextExample, TokenExample, read_split, split_path
from lmvsmt.downstream.formats import FORMATS
from lmvsmt.downstream.sources import write_manifest

FRACTIONS = {"valid": 0.1, "test": 0.1}


def texts(n):
    return [TextExample((f"review {i}",), "positive" if i % 2 else "negative") for i in range(n)]


def sentences(lengths, prefix="w"):
    return [TokenExample(tuple(f"{prefix}{i}_{j}" for j in range(n)), ("NOUN",) * n) for i, n in enumerate(lengths)]


def test_own_split_is_a_deterministic_partition():
    data = texts(1000)
    a = splits.own_split(data, FRACTIONS, 1, "SA", "ar", "x")
    b = splits.own_split(data, FRACTIONS, 1, "SA", "ar", "x")
    c = splits.own_split(data, FRACTIONS, 2, "SA", "ar", "x")
    assert a == b
    assert a != c
    assert {k: len(v) for k, v in a.items()} == {"train": 800, "valid": 100, "test": 100}
    keys = [set(ex.key for ex in a[name]) for name in ("train", "valid", "test")]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    assert keys[0] | keys[1] | keys[2] == {ex.key for ex in data}
    # each split keeps the source order
    assert a["train"] == sorted(a["train"], key=data.index)


def test_own_split_depends_on_task_and_language():
    data = texts(200)
    assert splits.own_split(data, FRACTIONS, 1, "SA", "ar", "x") != splits.own_split(data, FRACTIONS, 1, "SA", "ru", "x")


def test_too_few_examples_is_an_empty_split_error():
    with pytest.raises(DataError, match=r"raw/a.csv: 4 examples give an empty valid/test split"):
        splits.own_split(texts(4), FRACTIONS, 1, "SA", "ar", "raw/a.csv")


def test_dedupe_keeps_the_first_of_each_input():
    data = [TextExample(("a",), "x"), TextExample(("b",), "x"), TextExample(("a",), "y")]
    assert splits.dedupe(data) == ([TextExample(("a",), "x"), TextExample(("b",), "x")], 1)


def test_token_budget_takes_whole_treebanks_then_samples_the_last():
    first = sentences([10] * 5, "a")       # 50 tokens
    second = sentences([10] * 10, "b")     # 100 tokens
    third = sentences([10] * 3, "c")
    chosen = splits.token_budget([("A", first), ("B", second), ("C", third)], 100, 1, "POS", "zh")
    assert chosen[:5] == first
    assert sum(len(ex.tokens) for ex in chosen) == 100
    assert all(ex in second for ex in chosen[5:]) and not any(ex in third for ex in chosen)
    assert chosen == splits.token_budget([("A", first), ("B", second), ("C", third)], 100, 1, "POS", "zh")
    other = splits.token_budget([("A", first), ("B", second), ("C", third)], 100, 7, "POS", "zh")
    assert other[5:] != chosen[5:]


def test_token_budget_may_pass_the_budget_by_one_sentence():
    chosen = splits.token_budget([("A", sentences([30, 30, 30]))], 40, 1, "POS", "en")
    assert sum(len(ex.tokens) for ex in chosen) == 60


# --------------------------------------------------------------------------- prepare


def raw_source(tmp_path, task, lang, files, **entry):
    """Write raw files with the demo writers and a manifest, as the raw step does."""
    raw = tmp_path / "raw" / task / lang
    raw.mkdir(parents=True)
    listed = []
    for name, fmt, split, examples in files:
        FORMATS[fmt].write(raw / name, examples, lang)
        listed.append({"name": name, "format": fmt, "split": split, "treebank": name, "sha256": "0" * 64})
    write_manifest(raw, task, lang, {"dataset": "fixture", **entry}, listed, origin="test")
    return raw


def run_prepare(raw, tmp_path, task, lang, **kw):
    out = tmp_path / "out" / task / lang
    args = {"seed": 1, "own_split": FRACTIONS, "pos_token_budget": 0, "dedupe": True, **kw}
    return out, prepare.prepare(raw, out, task, lang, **args)


def test_prepare_own_split_removes_duplicates_so_splits_never_share_an_input(tmp_path):
    data = texts(300) + texts(300)[:50]
    raw = raw_source(tmp_path, "SA", "ar", [("RES1.csv", "ar_res_csv", "all", data)])
    out, meta = run_prepare(raw, tmp_path, "SA", "ar")
    got = {name: read_split(split_path(out, "SA", name), "SA") for name in ("train", "valid", "test")}
    assert meta["counts"] == {"train": 240, "valid": 30, "test": 30}
    assert meta["dropped"]["duplicates"] == 50
    seen = [ex.texts for name in got for ex in got[name]]
    assert len(seen) == len(set(seen)) == 300
    assert meta["split"] == {"kind": "own", "seed": 1, "valid": 0.1, "test": 0.1}


def test_prepare_is_deterministic(tmp_path):
    raw = raw_source(tmp_path, "SA", "ar", [("RES1.csv", "ar_res_csv", "all", texts(100))])
    out, _ = run_prepare(raw, tmp_path, "SA", "ar")
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    run_prepare(raw, tmp_path, "SA", "ar")
    assert first == {p.name: p.read_bytes() for p in out.iterdir()}


def test_source_split_fractions_override_the_default(tmp_path):
    raw = raw_source(tmp_path, "SA", "ru", [("r.csv", "rureviews_tsv", "all", texts(1000))],
                     split_fractions={"valid": 0.02, "test": 0.03})
    _, meta = run_prepare(raw, tmp_path, "SA", "ru")
    assert meta["counts"] == {"train": 950, "valid": 20, "test": 30}


def test_prepare_pos_applies_the_token_budget_before_splitting(tmp_path):
    raw = raw_source(tmp_path, "POS", "zh", [
        ("a-train.conllu", "conllu", "all", sentences([5] * 100, "a")),
        ("b-test.conllu", "conllu", "all", sentences([5] * 100, "b")),
    ])
    out, meta = run_prepare(raw, tmp_path, "POS", "zh", pos_token_budget=750)
    assert sum(meta["tokens"].values()) == 750
    assert sum(meta["counts"].values()) == 150
    assert meta["labels"][0] == "ADJ" and "NOUN" in meta["labels_observed"]


def test_prepare_official_empty_split_names_the_file(tmp_path):
    pair = [TextExample(("p", "h"), "neutral")]
    raw = raw_source(tmp_path, "NLI", "fr", [
        ("multinli.train.fr.tsv", "xnli_mt_tsv", "train", pair),
        ("xnli.dev.tsv", "xnli_tsv", "valid", pair),
        ("xnli.test.tsv", "xnli_tsv", "test", pair),
    ])
    # the dev/test files hold only the language they were written for; ask for another
    manifest = json.loads((raw / "source.json").read_text())
    manifest["language"] = "ru"
    (raw / "source.json").write_text(json.dumps(manifest))
    (raw.parent / "ru").mkdir()
    for p in raw.iterdir():
        (raw.parent / "ru" / p.name).write_bytes(p.read_bytes())
    with pytest.raises(DataError, match=re.escape(f"{raw.parent / 'ru' / 'xnli.dev.tsv'}: empty valid split")):
        run_prepare(raw.parent / "ru", tmp_path, "NLI", "ru")


def test_prepare_refuses_a_manifest_of_another_dataset(tmp_path):
    raw = raw_source(tmp_path, "SA", "ar", [("RES1.csv", "ar_res_csv", "all", texts(100))])
    with pytest.raises(DataError, match="describes SA/ar, not SA/fr"):
        run_prepare(raw, tmp_path, "SA", "fr")


def test_table7_rows(tmp_path):
    raw = raw_source(tmp_path, "SA", "ar", [("RES1.csv", "ar_res_csv", "all", texts(100))])
    out, _ = run_prepare(raw, tmp_path, "SA", "ar")
    table = tmp_path / "table7.tsv"
    prepare.write_table7([out / "meta.json"], table)
    assert table.read_text().splitlines() == [
        "task\tlanguage\tdataset\ttrain\tvalid\ttest\ttotal\tvalid_in_train\ttest_in_train\ttest_in_valid",
        "SA\tar\tfixture\t80\t10\t10\t100\t0\t0\t0"]


def official_with_shared_inputs(tmp_path):
    """Official XNLI-format splits sharing inputs as some releases do: a pair of train
    is in valid (with another label) and in test, a valid pair is in test too."""
    pair = lambda i, label="neutral": TextExample((f"premise {i}", f"hypothesis {i}"), label)  # noqa: E731
    return raw_source(tmp_path, "NLI", "fr", [
        ("multinli.train.fr.tsv", "xnli_mt_tsv", "train", [pair(i) for i in range(10)]),
        ("xnli.dev.tsv", "xnli_tsv", "valid", [pair(3, "entailment"), pair(20), pair(21)]),
        ("xnli.test.tsv", "xnli_tsv", "test", [pair(5), pair(20), pair(30), pair(31)]),
    ])


def test_inputs_shared_between_official_splits_are_counted_and_kept_by_default(tmp_path):
    raw = official_with_shared_inputs(tmp_path)
    out, meta = run_prepare(raw, tmp_path, "NLI", "fr")
    assert meta["counts"] == {"train": 10, "valid": 3, "test": 4}
    assert meta["shared_inputs"] == {"valid_in_train": 1, "test_in_train": 1, "test_in_valid": 1}
    assert meta["dropped"]["valid_in_train"] == meta["dropped"]["test_in_train"] == 0
    assert [ex.texts[0] for ex in read_split(split_path(out, "NLI", "test"), "NLI")] == \
        ["premise 5", "premise 20", "premise 30", "premise 31"]
    prepare.write_table7([out / "meta.json"], tmp_path / "table7.tsv")
    assert (tmp_path / "table7.tsv").read_text().splitlines()[1] == "NLI\tfr\tfixture\t10\t3\t4\t17\t1\t1\t1"


def test_dedupe_across_splits_drops_from_valid_and_test_what_train_holds(tmp_path):
    raw = official_with_shared_inputs(tmp_path)
    out, meta = run_prepare(raw, tmp_path, "NLI", "fr", dedupe_across_splits=True)
    got = {name: [ex.texts[0] for ex in read_split(split_path(out, "NLI", name), "NLI")] for name in ("valid", "test")}
    assert got == {"valid": ["premise 20", "premise 21"], "test": ["premise 20", "premise 30", "premise 31"]}
    assert meta["counts"] == {"train": 10, "valid": 2, "test": 3}
    assert meta["dropped"]["valid_in_train"] == meta["dropped"]["test_in_train"] == 1
    # what the release shares stays on record; valid/test overlap is not train data and stays
    assert meta["shared_inputs"] == {"valid_in_train": 1, "test_in_train": 1, "test_in_valid": 1}
    prepare.write_table7([out / "meta.json"], tmp_path / "table7.tsv")
    assert (tmp_path / "table7.tsv").read_text().splitlines()[1] == "NLI\tfr\tfixture\t10\t2\t3\t15\t1\t1\t1"


def test_dedupe_across_splits_applies_to_our_own_splits_too(tmp_path):
    # Without `dedupe`, a repeated input can land in train and in test of our own split.
    data = texts(100) + texts(100)
    raw = raw_source(tmp_path, "SA", "ar", [("RES1.csv", "ar_res_csv", "all", data)])
    _, kept = run_prepare(raw, tmp_path, "SA", "ar", dedupe=False)
    assert kept["shared_inputs"]["test_in_train"] > 0 and kept["counts"]["test"] == 20
    _, dropped = run_prepare(raw, tmp_path, "SA", "ar", dedupe=False, dedupe_across_splits=True)
    assert dropped["counts"]["test"] == 20 - kept["shared_inputs"]["test_in_train"]
    assert dropped["shared_inputs"] == kept["shared_inputs"]


def test_a_split_left_empty_by_dedupe_across_splits_names_its_files(tmp_path):
    pair = TextExample(("p", "h"), "neutral")
    raw = raw_source(tmp_path, "NLI", "fr", [
        ("multinli.train.fr.tsv", "xnli_mt_tsv", "train", [pair]),
        ("xnli.dev.tsv", "xnli_tsv", "valid", [TextExample(("p2", "h2"), "neutral")]),
        ("xnli.test.tsv", "xnli_tsv", "test", [pair]),
    ])
    with pytest.raises(DataError, match=r"xnli.test.tsv: empty test split \(every fr example is also in train\)"):
        run_prepare(raw, tmp_path, "NLI", "fr", dedupe_across_splits=True)
    assert not (tmp_path / "out" / "NLI" / "fr" / "meta.json").exists()
