"""The language-independent meaning space of the synthetic demo world.

A meaning is a small predicate-argument structure (who did what to whom, or who is
how), with tense, negation and optional modifiers. Concepts are integer ids; each
pseudo-language (lmvsmt.demo.languages) gives every concept its own word. Nothing
here is random except the entities, drawn from a seeded random.Random.
"""
from __future__ import annotations

import random
from dataclasses import dataclass


UPOS_TAGS = frozenset(
    "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
)
ENTITY_TYPES = ("PER", "LOC", "ORG")
TENSES = ("past", "present", "future")
POLARITIES = ("positive", "negative", "neutral")
NLI_RELATIONS = ("entailment", "neutral", "contradiction")


@dataclass(frozen=True, slots=True)
class Token:
    """One surface token with its UD UPOS tag and typed BIO entity tag."""

    form: str
    upos: str
    ner: str = "O"


@dataclass(frozen=True, slots=True)
class Phrase:
    """A referring expression: a named entity, or a definite common noun (+ adjective)."""

    entity: int | None = None
    noun: int | None = None
    adjective: int | None = None
    plural: bool = False

    def referent(self) -> tuple:
        """What the phrase refers to, ignoring its modifier (definite descriptions)."""
        return ("entity", self.entity) if self.entity is not None else ("noun", self.noun, self.plural)


@dataclass(frozen=True, slots=True)
class Meaning:
    """A clause: an event (verb [+ object]) or an attribution (subject is adjective)."""

    subject: Phrase
    verb: int | None = None
    object: Phrase | None = None
    attribute: int | None = None
    intensified: bool = False
    adverb: int | None = None
    location: int | None = None
    negated: bool = False
    tense: str = "present"

    @property
    def kind(self) -> str:
        return "attribution" if self.attribute is not None else "event"

    def phrases(self) -> tuple[Phrase, ...]:
        return (self.subject,) if self.object is None else (self.subject, self.object)


@dataclass(frozen=True, slots=True)
class Noun:
    generalises: str | None = None  # entity type this noun can stand for ("the person")


@dataclass(frozen=True, slots=True)
class Verb:
    transitive: bool
    antonym: int | None = None  # mutually exclusive predicate (arrive/leave)


@dataclass(frozen=True, slots=True)
class Adjective:
    polarity: int  # +1 positive, -1 negative, 0 neutral
    antonym: int


@dataclass(frozen=True, slots=True)
class Entity:
    type: str
    parts: tuple[int, ...]  # name-part ids (given + family name, or one name)
    designator: int | None  # "Bank", "Port": a designator id, or None
    feminine: bool


# Concept counts at vocab_scale 1: about 160 content lemmas per language plus names.
BASE_SIZES = {
    "nouns": 60,
    "transitive": 30,
    "intransitive": 12,
    "polar_pairs": 15,
    "neutral_pairs": 8,
    "adverbs": 10,
    "persons": 30,
    "locations": 20,
    "organisations": 20,
    "name_parts": 90,
    "loc_designators": 4,
    "org_designators": 6,
}
MIN_SIZES = {"nouns": 6, "transitive": 4, "intransitive": 4, "polar_pairs": 2, "neutral_pairs": 2,
             "adverbs": 2, "persons": 3, "locations": 3, "organisations": 3, "name_parts": 12,
             "loc_designators": 1, "org_designators": 1}


def sizes_for(vocab_scale: float) -> dict[str, int]:
    if not vocab_scale > 0:
        raise ValueError(f"vocab_scale must be > 0, got {vocab_scale!r}")
    return {k: max(MIN_SIZES[k], round(v * vocab_scale)) for k, v in BASE_SIZES.items()}


class MeaningSpace:
    """Concept inventory: nouns, verbs, adjectives, adverbs, designators, entities."""

    def __init__(self, seed: int, vocab_scale: float):
        self.sizes = s = sizes_for(vocab_scale)
        # The first three nouns are the generic "person", "place", "organisation".
        self.nouns = [Noun(t) for t in ENTITY_TYPES] + [Noun() for _ in range(s["nouns"] - 3)]
        self.type_noun = {t: i for i, t in enumerate(ENTITY_TYPES)}
        self.verbs: list[Verb] = []
        for transitive, count in ((True, s["transitive"]), (False, s["intransitive"])):
            start, pairs = len(self.verbs), count // 4  # a quarter of verbs come in antonym pairs
            for i in range(count):
                antonym = None
                if i < 2 * pairs:
                    antonym = start + (i + 1 if i % 2 == 0 else i - 1)
                self.verbs.append(Verb(transitive, antonym))
        self.adjectives: list[Adjective] = []
        for i in range(s["polar_pairs"]):
            base = 2 * i
            self.adjectives += [Adjective(+1, base + 1), Adjective(-1, base)]
        for i in range(s["neutral_pairs"]):
            base = len(self.adjectives)
            self.adjectives += [Adjective(0, base + 1), Adjective(0, base)]
        self.n_adverbs = s["adverbs"]
        self.designators = ["LOC"] * s["loc_designators"] + ["ORG"] * s["org_designators"]
        self.n_name_parts = s["name_parts"]
        self.entities = self._entities(random.Random(f"{seed}/entities"))
        self.by_type = {t: [i for i, e in enumerate(self.entities) if e.type == t] for t in ENTITY_TYPES}
        self.transitive = [i for i, v in enumerate(self.verbs) if v.transitive]
        self.intransitive = [i for i, v in enumerate(self.verbs) if not v.transitive]
        self.polar = {+1: [i for i, a in enumerate(self.adjectives) if a.polarity > 0],
                      -1: [i for i, a in enumerate(self.adjectives) if a.polarity < 0],
                      0: [i for i, a in enumerate(self.adjectives) if a.polarity == 0]}

    def _entities(self, rng: random.Random) -> list[Entity]:
        s, n = self.sizes, self.n_name_parts
        loc_d = [i for i, t in enumerate(self.designators) if t == "LOC"]
        org_d = [i for i, t in enumerate(self.designators) if t == "ORG"]
        seen: set[tuple] = set()
        out: list[Entity] = []

        def draw(etype: str) -> Entity:
            while True:
                if etype == "PER":
                    parts = tuple(rng.sample(range(n), 2 if rng.random() < 0.85 else 1))
                    entity = Entity("PER", parts, None, rng.random() < 0.5)
                elif etype == "LOC":
                    designator = rng.choice(loc_d) if rng.random() < 0.4 else None
                    entity = Entity("LOC", (rng.randrange(n),), designator, False)
                else:
                    parts = tuple(rng.sample(range(n), 1 if rng.random() < 0.7 else 2))
                    entity = Entity("ORG", parts, rng.choice(org_d), False)
                key = (entity.parts, entity.designator)
                if key not in seen:
                    seen.add(key)
                    return entity

        for etype, count in (("PER", s["persons"]), ("LOC", s["locations"]), ("ORG", s["organisations"])):
            out += [draw(etype) for _ in range(count)]
        return out
