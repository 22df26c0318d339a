"""Exactly-once allocation (lmvsmt.corpus.allocation): property tests over random
corpora for both allocation units, and small cases with a known answer."""
import itertools
import random
from collections import Counter

import pytest

from lmvsmt.corpus import allocation as alloc

LANGS = ["ar", "en", "es", "fr", "ru", "zh"]
PAIRS = ["-".join(p) for p in itertools.combinations(LANGS, 2)]


def random_corpus(rng: random.Random, n_docs: int):
    """Candidates of a random corpus: each document in 2..6 languages, sometimes two
    versions in one language; each pair of languages present gets a candidate that
    uses one version of each language. Returns (docs, sources, pairs) per candidate."""
    docs, sources, pairs = [], [], []
    for d in range(n_docs):
        langs = sorted(rng.sample(LANGS, rng.choice([2, 2, 2, 3, 4, 6])))
        versions = {l: [f"{l}/{d}/{v}" for v in range(rng.choice([1, 1, 2]))] for l in langs}
        for a, b in itertools.combinations(langs, 2):
            if rng.random() < 0.9 or len(langs) == 2:
                docs.append(f"doc{d}")
                sources.append((rng.choice(versions[a]), rng.choice(versions[b])))
                pairs.append(f"{a}-{b}")
    return docs, sources, pairs


def units_for(unit, docs, sources):
    return list(sources) if unit == alloc.LANGUAGE_VERSION else [(d,) for d in docs]


@pytest.mark.parametrize("unit", alloc.UNITS)
@pytest.mark.parametrize("seed", range(12))
def test_allocation_properties(unit, seed):
    rng = random.Random(seed)
    docs, sources, pairs = random_corpus(rng, rng.randint(20, 300))
    units = units_for(unit, docs, sources)
    result = alloc.allocate(units, pairs, PAIRS, seed)
    chosen = [i for v in result.uncapped.values() for i in v]

    # no unit in two allocated bitexts (hence in two pairs)
    used = Counter(u for i in chosen for u in units[i])
    assert max(used.values()) == 1
    # every allocated bitext sits in its own pair and has both sides
    for pair, indices in result.uncapped.items():
        for i in indices:
            assert pairs[i] == pair
            a, b = sources[i]
            assert {a.split("/")[0], b.split("/")[0]} == set(pair.split("-"))
    # uniquely pairable candidates are all allocated
    uses = Counter(u for us in units for u in us)
    unique = {i for i, us in enumerate(units) if all(uses[u] == 1 for u in us)}
    assert unique <= set(chosen) and result.unique == len(unique)
    # greedy is maximal: every candidate left out conflicts with an allocated one
    taken = set(used)
    for i in set(range(len(units))) - set(chosen):
        assert taken & set(units[i])
    # capped: every pair has the size of the smallest pair, a subset of uncapped
    assert {len(v) for v in result.capped.values()} == {min(len(v) for v in result.uncapped.values())}
    for pair in PAIRS:
        assert set(result.capped[pair]) <= set(result.uncapped[pair])
    # deterministic for a seed
    again = alloc.allocate(units, pairs, PAIRS, seed)
    assert again.uncapped == result.uncapped and again.capped == result.capped


def test_document_unit_consumes_the_whole_document_and_language_version_only_two():
    # one document in four languages, one version each: all six pairs are candidates
    langs = ["ar", "en", "fr", "ru"]
    cands = list(itertools.combinations(langs, 2))
    sources = [(f"{a}/d", f"{b}/d") for a, b in cands]
    pairs = [f"{a}-{b}" for a, b in cands]
    all_pairs = pairs
    by_version = alloc.allocate(sources, pairs, all_pairs, 1)
    by_document = alloc.allocate([("d",)] * len(cands), pairs, all_pairs, 1)
    # the scripts' reading: two disjoint pairs (e.g. en-fr and ar-ru) both get it
    assert sum(map(len, by_version.uncapped.values())) == 2
    # the paper's reading: the document feeds one pair only
    assert sum(map(len, by_document.uncapped.values())) == 1


def test_unique_documents_first_then_smallest_pair():
    # d1, d2: only en-fr possible. d3: en, fr, ru -> must go to a pair other than
    # en-fr, because en-fr already has two documents and the others none.
    sources = [("en/d1", "fr/d1"), ("en/d2", "fr/d2"),
               ("en/d3", "fr/d3"), ("en/d3", "ru/d3"), ("fr/d3", "ru/d3")]
    pairs = ["en-fr", "en-fr", "en-fr", "en-ru", "fr-ru"]
    for seed in range(10):
        result = alloc.allocate(sources, pairs, ["en-fr", "en-ru", "fr-ru"], seed)
        assert result.unique == 2
        assert result.uncapped["en-fr"] == [0, 1]
        assert len(result.uncapped["en-ru"]) + len(result.uncapped["fr-ru"]) == 1
        assert result.cap == 0


def test_greedy_balances_pairs():
    # 30 three-way documents en/fr/ru, document unit: every pair should get 10
    sources, pairs, units = [], [], []
    for d in range(30):
        for a, b in [("en", "fr"), ("en", "ru"), ("fr", "ru")]:
            sources.append((f"{a}/{d}", f"{b}/{d}"))
            pairs.append(f"{a}-{b}")
            units.append((d,))
    result = alloc.allocate(units, pairs, ["en-fr", "en-ru", "fr-ru"], 3)
    assert [len(v) for v in result.uncapped.values()] == [10, 10, 10]


def test_every_pair_gets_documents_when_none_is_uniquely_paired():
    # every document in all six languages: no uniquely paired document (the authors'
    # script allocates nothing then and fails computing the cap); we fill every pair
    sources, pairs = [], []
    for d in range(20):
        for a, b in itertools.combinations(LANGS, 2):
            sources.append((f"{a}/{d}", f"{b}/{d}"))
            pairs.append(f"{a}-{b}")
    result = alloc.allocate(sources, pairs, PAIRS, 1)
    assert result.unique == 0
    sizes = [len(v) for v in result.uncapped.values()]
    assert sum(sizes) == 20 * 3 and min(sizes) == result.cap > 0  # three disjoint pairs per document


def test_unknown_pair_is_an_error():
    with pytest.raises(ValueError, match="de-en"):
        alloc.allocate([("a", "b")], ["de-en"], ["en-fr"], 1)


def test_splits_are_by_document_seeded_and_sized():
    docs = [f"d{i}" for i in range(1000)] + ["d1", "d2"]  # repeats count once
    split = alloc.assign_splits(docs, 0.015, 0.05, 7)
    counts = Counter(split.values())
    assert len(split) == 1000
    assert counts == {"train": 935, "valid": 15, "test": 50}
    assert alloc.assign_splits(list(reversed(docs)), 0.015, 0.05, 7) == split
    assert alloc.assign_splits(docs, 0.015, 0.05, 8) != split
    tiny = alloc.assign_splits(["a", "b", "c", "d"], 0.01, 0.01, 1)
    assert sorted(Counter(tiny.values()).items()) == [("test", 1), ("train", 2), ("valid", 1)]
