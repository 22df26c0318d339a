"""The synthetic demo world: meanings, documents, reviews and NLI pairs in six pseudo-languages.

Everything is a pure function of (seed, vocab_scale) and of the random.Random the
caller passes in; no global random state is used. Rendering a meaning is
deterministic, so the same meaning list gives parallel documents in every language.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace

from lmvsmt.config import ConfigError
from lmvsmt.demo.languages import GRAMMARS
from lmvsmt.demo.meaning import NLI_RELATIONS, TENSES, Meaning, MeaningSpace, Phrase, Token
from lmvsmt.vocabulary import LANGUAGES

_NAME_CONSONANTS = "ktpmnslrdbgvzhf"
_NAME_VOWELS = "aeiou"
STYLES = ("report", "dialogue")


@dataclass(frozen=True)
class Topic:
    """What a document is about: the pools its sentences mostly draw from."""

    entities: tuple[int, ...]
    locations: tuple[int, ...]
    nouns: tuple[int, ...]
    verbs: tuple[int, ...]
    adjectives: tuple[int, ...]


class World:
    """A seeded synthetic multilingual world (see lmvsmt/demo/__init__.py for the API)."""

    def __init__(self, seed: int = 1, languages=LANGUAGES, vocab_scale: float = 1.0):
        languages = list(languages)
        unknown = [lang for lang in languages if lang not in GRAMMARS]
        if unknown or not languages or len(set(languages)) != len(languages):
            raise ValueError(f"demo world languages must be distinct members of {list(LANGUAGES)}, got {languages}")
        self.seed = int(seed)
        self.vocab_scale = float(vocab_scale)
        self.languages = languages
        self.space = MeaningSpace(self.seed, self.vocab_scale)
        # All six lexicons are always built, so a language renders identically whichever
        # subset is requested (names must avoid collisions in every script).
        self._grammars = {lang: cls(self.space, self.seed) for lang, cls in GRAMMARS.items()}
        self._name_parts(random.Random(f"{self.seed}/names"))

    def _name_parts(self, rng: random.Random) -> None:
        seen: set[str] = set()
        grammars = list(self._grammars.values())
        while len(seen) < self.space.n_name_parts:
            syllables = rng.choice((2, 2, 2, 3))
            phonemes = "".join(rng.choice(_NAME_CONSONANTS) + rng.choice(_NAME_VOWELS) for _ in range(syllables))
            phonemes += "n" if rng.random() < 0.25 else ""
            if phonemes in seen:
                continue
            forms = [g.transliterate(phonemes) for g in grammars]
            if all(g.is_free([f]) for g, f in zip(grammars, forms)):
                seen.add(phonemes)
                for g, f in zip(grammars, forms):
                    g.names.append(f)
                    g.claim_name(f)

    # ----- rendering -----------------------------------------------------------------
    def _grammar(self, lang: str):
        if lang not in self.languages:
            raise ValueError(f"language {lang!r} is not in this world's languages {self.languages}")
        return self._grammars[lang]

    def render(self, m: Meaning, lang: str) -> list[Token]:
        return self._grammar(lang).render(m)

    def surface(self, tokens: list[Token], lang: str) -> str:
        return self._grammar(lang).surface(tokens)

    def vocabulary(self, lang: str) -> dict[str, str]:
        """Casefolded form -> UPOS of every word the language can produce."""
        return self._grammar(lang).vocabulary()

    def notice(self) -> str:
        """One line to put into generated files: this data is synthetic."""
        return (f"SYNTHETIC data from the lmvsmt demo world (seed={self.seed}, vocab_scale={self.vocab_scale}); "
                "pseudo-languages, not real text")

    # ----- meanings ------------------------------------------------------------------
    def topic(self, rng: random.Random) -> Topic:
        sp = self.space
        actors = sp.by_type["PER"] + sp.by_type["ORG"]
        return Topic(entities=tuple(rng.sample(actors, min(3, len(actors)))),
                     locations=tuple(rng.sample(sp.by_type["LOC"], min(2, len(sp.by_type["LOC"])))),
                     nouns=tuple(rng.sample(range(len(sp.nouns)), min(4, len(sp.nouns)))),
                     verbs=tuple(rng.sample(range(len(sp.verbs)), min(4, len(sp.verbs)))),
                     adjectives=tuple(rng.sample(range(len(sp.adjectives)), min(4, len(sp.adjectives)))))

    @staticmethod
    def _pick(rng: random.Random, pool, topical=()):
        """A topical choice when the topic offers one (80%), else any."""
        topical = [x for x in topical if x in pool] if topical else []
        return rng.choice(topical if topical and rng.random() < 0.8 else pool)

    def _adjective(self, rng, signs, topic: Topic | None) -> int:
        pool = [a for s in signs for a in self.space.polar[s]]
        return self._pick(rng, pool, topic.adjectives if topic else ())

    def _phrase(self, rng, topic, *, entity_share=0.5, modifier_share=0.3, signs=(1, -1, 0),
                avoid=None, types=("PER", "ORG", "LOC")) -> Phrase:
        sp = self.space
        for _ in range(100):
            if rng.random() < entity_share:
                pool = [e for t in types for e in sp.by_type[t]]
                phrase = Phrase(entity=self._pick(rng, pool, topic.entities if topic else ()))
            else:
                adjective = self._adjective(rng, signs, topic) if rng.random() < modifier_share else None
                noun = self._pick(rng, range(len(sp.nouns)), topic.nouns if topic else ())
                phrase = Phrase(noun=noun, adjective=adjective, plural=rng.random() < 0.3)
            if avoid is None or phrase.referent() != avoid.referent():
                return phrase
        raise RuntimeError("cannot draw a distinct phrase")  # unreachable with >= 6 nouns

    def random_meaning(self, rng: random.Random, polarity: str | None = None, *, topic: Topic | None = None,
                       kind: str | None = None, subject: Phrase | None = None, negated: bool | None = None,
                       style: str = "report") -> Meaning:
        """A random clause. polarity: 'positive'/'negative' (exactly one polar word of that sign,
        no negation), 'neutral' (no polar word), None (unconstrained). kind: 'attribution',
        'transitive', 'intransitive' or None. subject/negated/topic/style constrain further."""
        if polarity not in (None, "positive", "negative", "neutral"):
            raise ValueError(f"polarity must be 'positive', 'negative', 'neutral' or None, got {polarity!r}")
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {style!r}")
        sp = self.space
        polar = polarity in ("positive", "negative")
        sign = {"positive": 1, "negative": -1}.get(polarity, 0)
        modifier_signs = (0,) if polarity is not None else (1, -1, 0)
        dialogue = style == "dialogue"
        if kind is None:
            r = rng.random()
            kind = ("attribution" if r < (0.6 if polar else 0.35)
                    else "transitive" if r < (1.0 if polar else 0.8) else "intransitive")
        if negated is None:
            negated = not polar and rng.random() < (0.25 if dialogue else 0.15)
        tense = rng.choices(TENSES, weights=(2, 5, 2) if dialogue else (4, 4, 2))[0]
        modifier_share = 0.15 if dialogue else 0.3
        # A polar event carries its polarity on one noun-phrase adjective; pick which phrase.
        polar_slot = None
        if polar and kind != "attribution":
            polar_slot = "object" if kind == "transitive" and rng.random() < 0.7 else "subject"
            if subject is not None and kind == "transitive":
                polar_slot = "object"  # keep the requested subject as it is

        def phrase(slot, avoid=None, given=None):
            if given is not None:
                base = given
            else:
                base = self._phrase(rng, topic, modifier_share=modifier_share, signs=modifier_signs, avoid=avoid,
                                    entity_share=0.0 if slot == polar_slot else 0.5)
            if slot == polar_slot:  # a common noun phrase with exactly one polar adjective
                if base.entity is not None:
                    base = self._phrase(rng, topic, entity_share=0.0, modifier_share=0.0, avoid=avoid)
                base = replace(base, adjective=self._adjective(rng, (sign,), topic))
            return base

        subj = phrase("subject", given=subject)
        if kind == "attribution":
            signs = (sign,) if polar else ((0,) if polarity == "neutral" else (1, -1, 0))
            return Meaning(subject=subj, attribute=self._adjective(rng, signs, topic),
                           intensified=rng.random() < 0.25, negated=negated, tense=tense)
        verbs = sp.transitive if kind == "transitive" else sp.intransitive
        verb = self._pick(rng, verbs, topic.verbs if topic else ())
        obj = phrase("object", avoid=subj) if kind == "transitive" else None
        adverb = rng.randrange(sp.n_adverbs) if not dialogue and rng.random() < 0.2 else None
        location = None
        if rng.random() < (0.1 if dialogue else 0.3):
            location = self._pick(rng, sp.by_type["LOC"], topic.locations if topic else ())
        return Meaning(subject=subj, verb=verb, object=obj, adverb=adverb, location=location,
                       negated=negated, tense=tense)

    def document(self, rng: random.Random, n_sentences: int, style: str = "report") -> list[Meaning]:
        """n_sentences meanings on one topic (shared entities, nouns, predicates).
        style 'report' (UN-like prose) or 'dialogue' (shorter, subtitle-like)."""
        topic, out = self.topic(rng), []
        for _ in range(n_sentences):
            # half of the sentences continue about something already mentioned
            subject = rng.choice([p for m in out for p in m.phrases()]) if out and rng.random() < 0.5 else None
            out.append(self.random_meaning(rng, topic=topic, style=style, subject=subject))
        return out

    def document_languages(self, rng: random.Random, coverage: float) -> list[str]:
        """The languages a document exists in: two at random, each further one with probability coverage."""
        if len(self.languages) < 2:
            raise ValueError("a document needs at least two languages")
        chosen = set(rng.sample(self.languages, 2))
        chosen |= {lang for lang in self.languages if lang not in chosen and rng.random() < coverage}
        return [lang for lang in self.languages if lang in chosen]

    # ----- sentiment -----------------------------------------------------------------
    def sentiment(self, m: Meaning) -> int:
        """Signed sentiment score: polar modifiers count 1, a predicated attribute 1
        (2 when intensified), flipped by negation."""
        adjs = self.space.adjectives
        score = sum(adjs[p.adjective].polarity for p in m.phrases() if p.adjective is not None)
        if m.attribute is not None:
            score += adjs[m.attribute].polarity * (2 if m.intensified else 1) * (-1 if m.negated else 1)
        return score

    def polarity(self, m: Meaning) -> str:
        score = self.sentiment(m)
        return "positive" if score > 0 else "negative" if score < 0 else "neutral"

    def review_meanings(self, rng: random.Random, stars: int) -> list[Meaning]:
        """1-4 sentences about one item whose polarities encode the rating:
        5 all positive with an intensified praise, 4 positive (+ neutral), 3 as many positive
        as negative, 2 negative (+ neutral), 1 all negative with an intensified complaint."""
        if stars not in (1, 2, 3, 4, 5):
            raise ValueError(f"stars must be 1..5, got {stars!r}")
        sp = self.space
        if rng.random() < 0.4:
            item = Phrase(entity=rng.choice(sp.by_type["ORG"]))
        else:
            item = Phrase(noun=rng.randrange(len(sp.nouns)))
        n = rng.randint(2 if stars == 3 else 1, 4)
        if stars in (1, 5):
            signs = [1 if stars == 5 else -1] * n
        elif stars == 3:
            half = n // 2
            signs = [1] * half + [-1] * half + [0] * (n - 2 * half)
        else:
            s = 1 if stars == 4 else -1
            signs = [s] + [s if rng.random() < 0.5 else 0 for _ in range(n - 1)]
        out = []
        for i, s in enumerate(signs):
            about = item if rng.random() < 0.7 else None
            if s == 0:
                out.append(self.random_meaning(rng, "neutral", subject=about))
                continue
            strong = stars in (1, 5) and (i == 0 or rng.random() < 0.5)
            kind = "attribution" if strong or rng.random() < 0.6 else None
            m = self.random_meaning(rng, "positive" if s > 0 else "negative", subject=about, kind=kind)
            if m.attribute is not None:
                m = replace(m, intensified=strong)
            out.append(m)
        rng.shuffle(out)
        return out

    def review(self, rng: random.Random, lang: str, stars: int) -> list[list[Token]]:
        return [self.render(m, lang) for m in self.review_meanings(rng, stars)]

    # ----- natural language inference --------------------------------------------------
    def _generalise(self, phrase: Phrase) -> Phrase:
        return Phrase(noun=self.space.type_noun[self.space.entities[phrase.entity].type])

    def _entailed(self, rng, p: Meaning) -> Meaning:
        """Drop a modifier or generalise a name (valid for affirmative premises)."""
        ops = []
        for slot in ("subject", "object"):
            ph = getattr(p, slot)
            if ph is not None and ph.adjective is not None:
                ops.append(lambda m, s=slot: replace(m, **{s: replace(getattr(m, s), adjective=None)}))
            if ph is not None and ph.entity is not None:
                ops.append(lambda m, s=slot: replace(m, **{s: self._generalise(getattr(m, s))}))
        if p.location is not None:
            ops.append(lambda m: replace(m, location=None))
        if p.adverb is not None:
            ops.append(lambda m: replace(m, adverb=None))
        if p.intensified:
            ops.append(lambda m: replace(m, intensified=False))
        rng.shuffle(ops)
        h = p
        for op in ops[:1 if rng.random() < 0.7 else 2]:
            h = op(h)
        return h

    def _enriched(self, rng, m: Meaning) -> Meaning | None:
        """m with one modifier added (None when nothing can be added)."""
        ops = []
        for slot in ("subject", "object"):
            ph = getattr(m, slot)
            if ph is not None and ph.entity is None and ph.adjective is None:
                ops.append(lambda x, s=slot: replace(x, **{s: replace(getattr(x, s), adjective=rng.randrange(
                    len(self.space.adjectives)))}))
            if ph is not None and ph.entity is None and ph.noun in self.space.type_noun.values() and not ph.plural:
                etype = self.space.nouns[ph.noun].generalises
                ops.append(lambda x, s=slot, t=etype: replace(x, **{s: Phrase(
                    entity=rng.choice(self.space.by_type[t]))}))
        if m.kind == "event":
            if m.location is None:
                ops.append(lambda x: replace(x, location=rng.choice(self.space.by_type["LOC"])))
            if m.adverb is None:
                ops.append(lambda x: replace(x, adverb=rng.randrange(self.space.n_adverbs)))
        elif not m.intensified:
            ops.append(lambda x: replace(x, intensified=True))
        return rng.choice(ops)(m) if ops else None

    def nli_meanings(self, rng: random.Random, relation: str) -> tuple[Meaning, Meaning]:
        """A premise/hypothesis pair whose relation holds by construction (and is re-checked
        with `relation`, the independent semantic judge)."""
        if relation not in NLI_RELATIONS:
            raise ValueError(f"relation must be one of {NLI_RELATIONS}, got {relation!r}")
        build = {"entailment": self._nli_entailment, "neutral": self._nli_neutral,
                 "contradiction": self._nli_contradiction}[relation]
        for _ in range(100):
            pair = build(rng)
            if pair is not None and pair[0] != pair[1] and self.relation(*pair) == relation:
                return pair
        raise RuntimeError(f"cannot build a {relation} pair")  # unreachable: constructions are valid

    def _nli_entailment(self, rng):
        p = self.random_meaning(rng, negated=False)
        if self._entailed(rng, p) == p:  # nothing to drop: add a modifier to the premise first
            p = self._enriched(rng, p)
            if p is None:
                return None
        return p, self._entailed(rng, p)

    def _nli_contradiction(self, rng):
        op = rng.choice(("negation", "antonym_attribute", "antonym_predicate"))
        if op == "negation":
            p = self.random_meaning(rng)
            return p, replace(p, negated=not p.negated)
        if op == "antonym_attribute":
            p = self.random_meaning(rng, kind="attribution", negated=False)
            h = replace(p, attribute=self.space.adjectives[p.attribute].antonym, intensified=rng.random() < 0.25)
            return p, h
        paired = [v for v in range(len(self.space.verbs)) if self.space.verbs[v].antonym is not None]
        verb = rng.choice(paired)
        kind = "transitive" if self.space.verbs[verb].transitive else "intransitive"
        p = replace(self.random_meaning(rng, kind=kind, negated=False), verb=verb)
        return p, replace(p, verb=self.space.verbs[verb].antonym)

    def _nli_neutral(self, rng):
        op = rng.choice(("new_predicate", "added_modifier", "specific"))
        if op == "added_modifier":
            p = self.random_meaning(rng, negated=False)
            h = self._enriched(rng, p)
            return None if h is None else (p, h)
        if op == "specific":
            etype = rng.choice(("PER", "LOC", "ORG"))
            general = Phrase(noun=self.space.type_noun[etype])
            p = self.random_meaning(rng, subject=general, negated=False)
            return p, replace(p, subject=Phrase(entity=rng.choice(self.space.by_type[etype])))
        # new information about the same participant: a different, compatible predicate
        p = self.random_meaning(rng)
        h = self.random_meaning(rng, subject=p.subject)
        if rng.random() < 0.6:
            h = replace(h, tense=p.tense)
        return p, h

    def _arg_relation(self, a: Phrase | None, b: Phrase | None) -> str:
        """How hypothesis phrase b relates to premise phrase a: same/general/other."""
        if a is None or b is None:
            return "same" if a is b else "other"
        if a.referent() == b.referent():
            return "same"
        if (a.entity is not None and b.entity is None and not b.plural and b.adjective is None
                and b.noun == self.space.type_noun[self.space.entities[a.entity].type]):
            return "general"
        return "other"

    def relation(self, p: Meaning, h: Meaning) -> str:
        """The semantic judge: entailment / contradiction / neutral between two meanings.
        Phrases are definite (same referent = same thing); conservative otherwise."""
        if p.kind != h.kind or p.tense != h.tense:
            return "neutral"
        args = [self._arg_relation(p.subject, h.subject), self._arg_relation(p.object, h.object)]
        if "other" in args:
            return "neutral"
        same_args = args == ["same", "same"]
        if p.kind == "event":
            pred_p, pred_h, antonym = p.verb, h.verb, self.space.verbs[p.verb].antonym
        else:
            pred_p, pred_h, antonym = p.attribute, h.attribute, self.space.adjectives[p.attribute].antonym
        mods_p = (p.subject.adjective, p.object and p.object.adjective, p.location, p.adverb)
        mods_h = (h.subject.adjective, h.object and h.object.adjective, h.location, h.adverb)
        if pred_h != pred_p:
            if pred_h == antonym and not p.negated and not h.negated and same_args and mods_p == mods_h:
                return "contradiction"
            return "neutral"
        if p.negated != h.negated:
            same = same_args and mods_p == mods_h and p.intensified == h.intensified
            return "contradiction" if same else "neutral"
        if p.negated:  # both negated: only the identical claim is safe
            return "entailment" if (same_args and mods_p == mods_h and p.intensified == h.intensified) else "neutral"
        # both affirmative: h holds if every modifier of h is in p (names may be generalised)
        dropped_only = all(mh is None or mh == mp for mp, mh in zip(mods_p, mods_h))
        return "entailment" if dropped_only and (p.intensified or not h.intensified) else "neutral"

    def nli_pair(self, rng: random.Random, lang: str, relation: str) -> tuple[list[Token], list[Token]]:
        p, h = self.nli_meanings(rng, relation)
        return self.render(p, lang), self.render(h, lang)

    def sentence(self, rng: random.Random, lang: str, polarity: str | None = None) -> list[Token]:
        """Convenience: a random meaning rendered in lang."""
        return self.render(self.random_meaning(rng, polarity), lang)


def world_from_config(config: dict) -> World:
    """The World described by a validated config (demo section + languages)."""
    demo = config.get("demo", {})
    low, high = demo.get("sentences_per_document", (1, 1))
    if low > high:
        raise ConfigError(f"config error: demo.sentences_per_document: min {low} > max {high} "
                          "(allowed values: [min, max] with 1 <= min <= max)")
    return World(seed=demo.get("seed", 1), languages=config.get("languages", LANGUAGES),
                 vocab_scale=demo.get("vocab_scale", 1.0))
