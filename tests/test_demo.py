"""Tests of the synthetic demo world (lmvsmt.demo)."""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import math
import os
import random
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from lmvsmt import config as cfg
from lmvsmt.config import ConfigError
from lmvsmt.demo import UPOS_TAGS, Meaning, Phrase, Token, World, world_from_config
from lmvsmt.vocabulary import LANGUAGES

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=1, languages=list(LANGUAGES), vocab_scale=1.0)


def _dump(world: World, rng_seed: int = 7) -> str:
    """Text of documents, reviews and NLI pairs in every language (what other stages write)."""
    rng, out = random.Random(rng_seed), []
    for lang in world.languages:
        for m in world.document(rng, 6) + world.document(rng, 4, style="dialogue"):
            toks = world.render(m, lang)
            out.append(world.surface(toks, lang) + "\t" + " ".join(f"{t.form}/{t.upos}/{t.ner}" for t in toks))
        for stars in range(1, 6):
            out += [world.surface(t, lang) for t in world.review(rng, lang, stars)]
        for rel in ("entailment", "neutral", "contradiction"):
            p, h = world.nli_pair(rng, lang, rel)
            out.append(world.surface(p, lang) + "\t" + world.surface(h, lang))
        out.append(",".join(world.document_languages(rng, 0.3)))
    return "\n".join(out)


# ----- API and determinism ---------------------------------------------------------------
def test_api_contract(world):
    rng = random.Random(1)
    assert world.languages == ["ar", "en", "es", "fr", "ru", "zh"]
    m = world.random_meaning(rng, polarity=None)
    assert isinstance(m, Meaning)
    toks = world.render(m, "en")
    assert toks and all(isinstance(t, Token) for t in toks)
    with pytest.raises(dataclasses.FrozenInstanceError):
        toks[0].form = "x"
    assert isinstance(world.surface(toks, "en"), str)
    doc = world.document(rng, 5)
    assert len(doc) == 5 and all(isinstance(x, Meaning) for x in doc)
    assert world.polarity(m) in ("positive", "negative", "neutral")
    review = world.review(rng, "fr", 4)
    assert 1 <= len(review) <= 4 and all(isinstance(s, list) and s for s in review)
    premise, hypothesis = world.nli_pair(rng, "zh", "entailment")
    assert all(isinstance(t, Token) for t in premise + hypothesis)


def test_same_seed_same_output_different_seed_different_output():
    a, b = _dump(World(seed=1)), _dump(World(seed=1))
    assert a == b
    assert _dump(World(seed=2)) != a
    assert _dump(World(seed=1), rng_seed=8) != a


def test_byte_identical_across_processes_and_hash_seeds():
    code = ("import hashlib, sys; sys.path.insert(0, 'tests'); from test_demo import _dump; "
            "from lmvsmt.demo import World; print(hashlib.sha256(_dump(World(seed=3)).encode()).hexdigest())")
    digests = set()
    for hash_seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                             check=True)
        digests.add(out.stdout.strip())
    digests.add(hashlib.sha256(_dump(World(seed=3)).encode()).hexdigest())
    assert len(digests) == 1


def test_language_subset_renders_identically(world):
    small = World(seed=1, languages=["en", "zh"])
    rng = random.Random(3)
    for _ in range(50):
        m = world.random_meaning(rng)
        assert small.render(m, "en") == world.render(m, "en")
        assert small.render(m, "zh") == world.render(m, "zh")
    with pytest.raises(ValueError, match="not in this world"):
        small.render(m, "fr")


def test_no_global_random_state(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("global random state used")

    for name in ("random", "choice", "choices", "randint", "randrange", "shuffle", "sample", "uniform",
                 "seed", "getrandbits", "gauss"):
        monkeypatch.setattr(random, name, forbidden)
    state = random.getstate()
    text = _dump(World(seed=5))
    assert text and random.getstate() == state


def test_invalid_arguments(world):
    rng = random.Random(0)
    with pytest.raises(ValueError, match="languages"):
        World(languages=["en", "de"])
    with pytest.raises(ValueError, match="languages"):
        World(languages=["en", "en"])
    with pytest.raises(ValueError, match="vocab_scale"):
        World(vocab_scale=0)
    with pytest.raises(ValueError, match="polarity"):
        world.random_meaning(rng, polarity="happy")
    with pytest.raises(ValueError, match="stars"):
        world.review(rng, "en", 6)
    with pytest.raises(ValueError, match="relation"):
        world.nli_pair(rng, "en", "paraphrase")


# ----- languages: scripts, word order, translation ------------------------------------------
SCRIPTS = {
    "ar": lambda c: "\u0600" <= c <= "\u06ff",
    "en": lambda c: c.isascii() and c.isalpha(),
    "es": lambda c: c.isalpha() and (c.isascii() or "\u00c0" <= c <= "\u00ff"),
    "fr": lambda c: c == "'" or c.isalpha() and (c.isascii() or "\u00c0" <= c <= "\u00ff"),
    "ru": lambda c: "\u0400" <= c <= "\u04ff",
    "zh": lambda c: "\u4e00" <= c <= "\u9fff",
}


def test_scripts_per_language(world):
    rng = random.Random(11)
    meanings = [world.random_meaning(rng) for _ in range(300)]
    for lang in LANGUAGES:
        for m in meanings:
            for t in world.render(m, lang):
                assert t.form and not any(c.isspace() for c in t.form)
                if t.upos == "PUNCT":
                    assert unicodedata.category(t.form[0]).startswith("P")
                else:
                    assert all(SCRIPTS[lang](c) for c in t.form), (lang, t.form)


def _positions(toks: list[Token]) -> dict[str, int]:
    """Index of the first subject-entity, verb and object-entity token (entities by NER type)."""
    pos = {}
    for i, t in enumerate(toks):
        if t.upos == "VERB" and "V" not in pos:
            pos["V"] = i
        if t.ner == "B-PER":
            pos["S"] = i
        if t.ner == "B-ORG":
            pos["O"] = i
    return pos


def test_word_order_differs_between_languages(world):
    sp = world.space
    m = Meaning(subject=Phrase(entity=sp.by_type["PER"][0]), verb=sp.transitive[0],
                object=Phrase(entity=sp.by_type["ORG"][0]), tense="past")
    orders = {}
    for lang in LANGUAGES:
        pos = _positions(world.render(m, lang))
        orders[lang] = "".join(sorted("SVO", key=pos.__getitem__))
    assert orders["en"] == "SVO" and orders["ru"] == "SOV" and orders["ar"] == "VSO"
    # adjective before the noun in en/ru/zh, after it in es/fr/ar
    np = Meaning(subject=Phrase(noun=5, adjective=0), verb=sp.intransitive[0])
    for lang in LANGUAGES:
        tags = [t.upos for t in world.render(np, lang) if t.upos in ("ADJ", "NOUN")]
        assert tags == (["ADJ", "NOUN"] if lang in ("en", "ru", "zh") else ["NOUN", "ADJ"]), lang


def test_same_meaning_renders_differently_in_every_language(world):
    rng = random.Random(4)
    for _ in range(200):
        m = world.random_meaning(rng)
        forms = {lang: tuple(t.form.lower() for t in world.render(m, lang)) for lang in LANGUAGES}
        assert len(set(forms.values())) == len(LANGUAGES)
        texts = {world.surface(world.render(m, lang), lang) for lang in LANGUAGES}
        assert len(texts) == len(LANGUAGES)
    # content words are coined per language: (almost) no shared stems even among Latin scripts
    for a, b in (("en", "es"), ("en", "fr"), ("es", "fr")):
        ga, gb = world._grammars[a], world._grammars[b]
        pairs = list(zip(ga.nouns + ga.verbs + ga.adjectives, gb.nouns + gb.verbs + gb.adjectives))
        assert sum(x.stem == y.stem for x, y in pairs) <= 0.05 * len(pairs)


def test_zh_surface_has_no_spaces_and_latin_is_detokenised(world):
    rng = random.Random(9)
    for _ in range(50):
        m = world.random_meaning(rng)
        zh = world.render(m, "zh")
        assert world.surface(zh, "zh") == "".join(t.form for t in zh)
        assert " " not in world.surface(zh, "zh") and world.surface(zh, "zh").endswith("。")
        en = world.render(m, "en")
        text = world.surface(en, "en")
        assert text.split() == [t.form for t in en[:-2]] + [en[-2].form + "."]
        assert text[0].isupper()
    negated = Meaning(subject=Phrase(noun=3), attribute=0, negated=True)
    assert " n'est pas " in world.surface(world.render(negated, "fr"), "fr")


def test_morphology_inflects_words(world):
    sp = world.space
    sg = Meaning(subject=Phrase(noun=7), verb=sp.intransitive[1], tense="past")
    pl = dataclasses.replace(sg, subject=Phrase(noun=7, plural=True))
    for lang in ("ar", "en", "es", "fr", "ru"):
        noun = [t.form for t in world.render(sg, lang) if t.upos == "NOUN"]
        nouns = [t.form for t in world.render(pl, lang) if t.upos == "NOUN"]
        assert noun != nouns, lang  # plural marking
    obj = Meaning(subject=Phrase(entity=sp.by_type["PER"][0]), verb=sp.transitive[0], object=Phrase(noun=7))
    as_subject = [t.form for t in world.render(sg, "ru") if t.upos == "NOUN"]
    as_object = [t.form for t in world.render(obj, "ru") if t.upos == "NOUN"]
    assert as_subject != as_object  # accusative case


# ----- annotations -------------------------------------------------------------------------
def test_upos_from_ud_and_ner_well_formed_bio(world):
    rng = random.Random(12)
    seen_types = set()
    for _ in range(300):
        m = world.random_meaning(rng)
        for lang in LANGUAGES:
            toks = world.render(m, lang)
            assert toks[-1].upos == "PUNCT"
            previous = "O"
            for t in toks:
                assert t.upos in UPOS_TAGS
                if t.ner != "O":
                    prefix, etype = t.ner.split("-")
                    assert etype in ("PER", "LOC", "ORG") and prefix in ("B", "I")
                    if prefix == "I":
                        assert previous in (f"B-{etype}", f"I-{etype}")
                    assert t.upos == "PROPN"
                    if lang in ("en", "es", "fr", "ru"):
                        assert t.form[0].isupper()
                    seen_types.add(etype)
                previous = t.ner
    assert seen_types == {"PER", "LOC", "ORG"}


def test_multiword_entities_exist(world):
    lengths = collections.Counter(len(world._grammars["en"].entity(i)) for i in range(len(world.space.entities)))
    assert lengths[1] and lengths[2] and lengths[3]


# ----- sentiment -----------------------------------------------------------------------------
def test_requested_polarity_holds(world):
    rng = random.Random(13)
    for wanted in ("positive", "negative", "neutral"):
        for _ in range(200):
            m = world.random_meaning(rng, polarity=wanted)
            assert world.polarity(m) == wanted
            if wanted != "neutral":
                assert not m.negated and abs(world.sentiment(m)) in (1, 2)
    counts = collections.Counter(world.polarity(world.random_meaning(rng)) for _ in range(500))
    assert all(counts[p] > 25 for p in ("positive", "negative", "neutral"))


def _rate(world, meanings) -> int:
    """Recover the star rating from sentence sentiments (the rule a reader would apply)."""
    scores = [world.sentiment(m) for m in meanings]
    if max(scores) > 0 and min(scores) < 0:
        return 3
    if max(scores) > 0:
        return 5 if max(scores) >= 2 else 4
    return 1 if min(scores) <= -2 else 2


def test_review_stars_are_inferable(world):
    rng = random.Random(14)
    means = []
    for stars in range(1, 6):
        totals = []
        for _ in range(200):
            meanings = world.review_meanings(rng, stars)
            assert 1 <= len(meanings) <= 4
            assert _rate(world, meanings) == stars
            totals.append(sum(world.sentiment(m) for m in meanings) / len(meanings))
        means.append(sum(totals) / len(totals))
    assert means == sorted(means) and len(set(means)) == 5
    assert means[2] == pytest.approx(0, abs=0.15)


def test_sentiment_learnable_from_word_lookup(world):
    """Word polarity counts fitted on train sentences predict test sentence polarity."""
    rng = random.Random(15)

    def sample(n):
        out = []
        for _ in range(n):
            m = world.random_meaning(rng, polarity=rng.choice(["positive", "negative"]))
            out.append((m, world.polarity(m)))
        return out

    train, test = sample(400), sample(200)
    for lang in LANGUAGES:
        counts = {"positive": collections.Counter(), "negative": collections.Counter()}
        for m, label in train:
            counts[label].update(t.form for t in world.render(m, lang))
        correct = 0
        for m, label in test:  # naive Bayes log-odds with add-one smoothing
            total = sum(math.log((counts["positive"][t.form] + 1) / (counts["negative"][t.form] + 1))
                        for t in world.render(m, lang))
            correct += ("positive" if total > 0 else "negative") == label
        assert correct / len(test) > 0.8, (lang, correct)  # majority class: about 0.5


# ----- NLI -----------------------------------------------------------------------------------
def test_nli_relations_hold_by_construction(world):
    rng = random.Random(16)
    for relation in ("entailment", "neutral", "contradiction"):
        for _ in range(300):
            p, h = world.nli_meanings(rng, relation)
            assert p != h
            assert world.relation(p, h) == relation
            if relation == "entailment":
                assert not p.negated and not h.negated and p.tense == h.tense
            if relation == "contradiction":
                flipped = p.negated != h.negated
                pred = (p.verb, h.verb) if p.kind == "event" else (p.attribute, h.attribute)
                antonym = (world.space.verbs[p.verb].antonym if p.kind == "event"
                           else world.space.adjectives[p.attribute].antonym)
                assert p.tense == h.tense and (flipped or pred[1] == antonym)
    premise, hypothesis = world.nli_pair(rng, "ar", "neutral")
    assert premise[-1].upos == "PUNCT" and hypothesis[-1].upos == "PUNCT"


def test_nli_judge_on_hand_made_pairs(world):
    sp = world.space
    karin = Phrase(entity=sp.by_type["PER"][0])
    person = Phrase(noun=sp.type_noun["PER"])
    verb = next(v for v in sp.transitive if sp.verbs[v].antonym is not None)
    other = next(v for v in sp.transitive if v != verb and v != sp.verbs[verb].antonym)
    red_car = Phrase(noun=10, adjective=0)
    car = Phrase(noun=10)
    saw = Meaning(subject=karin, verb=verb, object=red_car, location=sp.by_type["LOC"][0], tense="past")
    rel = world.relation
    assert rel(saw, dataclasses.replace(saw, object=car)) == "entailment"
    assert rel(saw, dataclasses.replace(saw, location=None, subject=person)) == "entailment"
    assert rel(dataclasses.replace(saw, object=car), saw) == "neutral"
    assert rel(dataclasses.replace(saw, subject=person), saw) == "neutral"
    assert rel(saw, dataclasses.replace(saw, negated=True)) == "contradiction"
    assert rel(saw, dataclasses.replace(saw, verb=sp.verbs[verb].antonym)) == "contradiction"
    assert rel(saw, dataclasses.replace(saw, verb=other)) == "neutral"
    assert rel(saw, dataclasses.replace(saw, tense="future")) == "neutral"
    neg = dataclasses.replace(saw, negated=True)
    assert rel(neg, dataclasses.replace(neg, object=car)) == "neutral"
    assert rel(neg, neg) == "entailment"
    good = Meaning(subject=karin, attribute=0)
    assert rel(good, dataclasses.replace(good, attribute=sp.adjectives[0].antonym)) == "contradiction"
    assert rel(dataclasses.replace(good, intensified=True), good) == "entailment"
    assert rel(good, dataclasses.replace(good, intensified=True)) == "neutral"


# ----- documents and corpora -------------------------------------------------------------------
def _referents(m: Meaning) -> set:
    out = {p.referent() for p in m.phrases()} | {("verb", m.verb)}
    return out | ({("loc", m.location)} if m.location is not None else set())


def test_documents_are_coherent(world):
    rng = random.Random(17)

    def shared_share(meanings):
        hits = sum(bool(_referents(m) & set().union(*map(_referents, meanings[:i])))
                   for i, m in enumerate(meanings) if i)
        return hits / (len(meanings) - 1)

    docs = [shared_share(world.document(rng, 8)) for _ in range(40)]
    shuffled = [shared_share([world.random_meaning(rng) for _ in range(8)]) for _ in range(40)]
    assert sum(docs) / 40 > 0.7 > sum(shuffled) / 40
    dialogue = [m for _ in range(30) for m in world.document(rng, 8, style="dialogue")]
    report = [m for _ in range(30) for m in world.document(rng, 8)]
    length = lambda ms: sum(len(world.render(m, "en")) for m in ms) / len(ms)  # noqa: E731
    assert length(dialogue) < length(report)


def test_document_languages(world):
    rng = random.Random(18)
    sizes = collections.Counter()
    for _ in range(300):
        langs = world.document_languages(rng, 0.3)
        assert len(langs) >= 2 and langs == [x for x in LANGUAGES if x in langs]
        sizes[len(langs)] += 1
    assert sizes[2] and sum(v for k, v in sizes.items() if k > 2)
    assert all(len(world.document_languages(rng, 0.0)) == 2 for _ in range(20))
    assert all(world.document_languages(rng, 1.0) == list(LANGUAGES) for _ in range(20))


# ----- learnability ------------------------------------------------------------------------------
def test_pos_and_ner_learnable_from_word_lookup(world):
    """A word -> tag lookup fitted on train sentences beats the majority class on test by far."""
    rng = random.Random(19)
    train = [world.random_meaning(rng) for _ in range(600)]
    test = [world.random_meaning(rng) for _ in range(200)]
    for lang in LANGUAGES:
        for field in ("upos", "ner"):
            table = collections.defaultdict(collections.Counter)
            for m in train:
                for t in world.render(m, lang):
                    table[t.form][getattr(t, field).split("-")[0]] += 1
            gold = [(t.form, getattr(t, field).split("-")[0]) for m in test for t in world.render(m, lang)]
            majority = collections.Counter(tag for _, tag in gold).most_common(1)[0]
            default = majority[0]
            correct = sum((table[f].most_common(1)[0][0] if f in table else default) == tag for f, tag in gold)
            accuracy, baseline = correct / len(gold), majority[1] / len(gold)
            if field == "upos":
                assert accuracy > 0.9 and accuracy > baseline + 0.5, (lang, accuracy, baseline)
            else:
                assert accuracy > baseline + 0.15, (lang, accuracy, baseline)


def test_vocabulary_size_scales(world):
    small = World(seed=1, vocab_scale=0.3)
    g = world._grammars["en"]
    content = len(g.nouns) + len(g.verbs) + len(g.adjectives) + len(g.adverbs)
    assert 100 <= content <= 300
    sg = small._grammars["en"]
    assert len(sg.nouns) + len(sg.verbs) + len(sg.adjectives) + len(sg.adverbs) < content
    for lang in LANGUAGES:
        assert len(small.vocabulary(lang)) < len(world.vocabulary(lang))


# ----- configuration -----------------------------------------------------------------------------
def test_config_section_defaults_and_validation():
    config = cfg.validate({})
    demo = config["demo"]
    assert demo["seed"] == 1 and demo["sentences_per_document"] == [4, 10]
    assert set(demo["downstream_sizes"]) == {"train", "valid", "test"}
    assert 0 <= demo["language_coverage"] <= 1
    world = world_from_config(cfg.load(REPO / "config" / "config.yaml"))
    assert world.languages == list(LANGUAGES)
    with pytest.raises(ConfigError, match="demo.language_coverage"):
        cfg.validate({"demo": {"language_coverage": 1.5}})
    with pytest.raises(ConfigError, match="demo.vocab_scale"):
        cfg.validate({"demo": {"vocab_scale": 0}})
    with pytest.raises(ConfigError, match="demo.sentences_per_document"):
        world_from_config({"demo": {"sentences_per_document": [9, 3]}})
