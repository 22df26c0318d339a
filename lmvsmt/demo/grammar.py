"""Rendering meanings into a pseudo-language: lexicon coinage and clause assembly.

`Grammar` holds what all six pseudo-languages share (a seeded lexicon whose every
inflected form is unique, so a word's form determines its UPOS tag; named
entities; the clause skeleton with a configurable word order). Each language in
lmvsmt.demo.languages supplies its phonotactics, morphology and function words.
"""
from __future__ import annotations

import random
from typing import NamedTuple

from lmvsmt.demo.meaning import Entity, Meaning, MeaningSpace, Phrase, Token


class Lexeme(NamedTuple):
    stem: str
    gender: str = "m"  # grammatical gender, where the language has one


def coin_syllables(rng: random.Random, n: int, onsets, nuclei, codas) -> str:
    """n open syllables plus a final coda (clusters only at word edges, so words stay pronounceable)."""
    return "".join(rng.choice(onsets) + rng.choice(nuclei) for _ in range(n)) + rng.choice(codas)


class Grammar:
    """One pseudo-language. Subclasses set the class attributes and morphology hooks."""

    name = ""
    order = "SVO"  # SVO | SOV | VSO
    adverb_position = "final"  # final | preverbal | postverbal
    location_position = "final"  # final | preverbal
    designator_first = False  # "Banco Karino" vs "Karino Bank"
    cased = True  # capitalised names and sentence starts (Latin, Cyrillic)
    spaced = True  # words separated by spaces (not zh)
    period = "."
    location_adp = ""
    function_words: dict[str, str] = {}  # form -> UPOS

    def __init__(self, space: MeaningSpace, seed: int):
        self.space = space
        self._taken: dict[str, str] = {}  # casefolded form -> UPOS: no form is coined twice
        self._claim(self.function_words, None)
        rng = random.Random(f"{seed}/{self.name}/lexicon")
        self.nouns = [self._coin(rng, "NOUN") for _ in space.nouns]
        self.verbs = [self._coin(rng, "VERB") for _ in space.verbs]
        self.adjectives = [self._coin(rng, "ADJ") for _ in space.adjectives]
        self.adverbs = [self._coin(rng, "ADV") for _ in range(space.n_adverbs)]
        self.designators = [self._coin(rng, "PROPN", kind) for kind in space.designators]
        self.names: list[str] = []  # name-part forms, set by the World (shared across languages)
        self._entity_cache: dict[int, list[Token]] = {}

    # ----- lexicon -------------------------------------------------------------------
    def coin(self, rng: random.Random, upos: str, kind: str | None = None) -> Lexeme:
        """A candidate lexeme of category upos (kind: LOC/ORG for designators)."""
        raise NotImplementedError

    def inflections(self, upos: str, lex: Lexeme) -> set[str]:
        """Every surface form the lexeme can take (used to keep forms unambiguous)."""
        raise NotImplementedError

    def _claim(self, forms, upos: str | None) -> None:
        if isinstance(forms, dict):
            for form, tag in forms.items():
                self._taken[form.casefold()] = tag
        else:
            for form in forms:
                self._taken[form.casefold()] = upos

    def is_free(self, forms) -> bool:
        return all(f.casefold() not in self._taken for f in forms)

    def _coin(self, rng: random.Random, upos: str, kind: str | None = None) -> Lexeme:
        for _ in range(10000):
            lex = self.coin(rng, upos, kind)
            forms = self.inflections(upos, lex)
            if self.is_free(forms):
                self._claim(forms, upos)
                return lex
        raise RuntimeError(f"demo language {self.name}: cannot coin another distinct {upos}; lower vocab_scale")

    def transliterate(self, phonemes: str) -> str:
        """Spell a language-neutral name (e.g. 'karinon') in this language's script."""
        raise NotImplementedError

    def claim_name(self, form: str) -> None:
        self._claim([form], "PROPN")

    def vocabulary(self) -> dict[str, str]:
        """Every coined or function form (casefolded) with its UPOS tag."""
        return dict(self._taken)

    # ----- morphology hooks ----------------------------------------------------------
    def noun_phrase(self, noun: Lexeme, adjective: Lexeme | None, plural: bool, role: str) -> list[Token]:
        raise NotImplementedError

    def verb_group(self, verb: Lexeme, tense: str, negated: bool, plural: bool, gender: str) -> list[Token]:
        raise NotImplementedError

    def predicate(self, adjective: Lexeme, tense: str, negated: bool, intensified: bool,
                  plural: bool, gender: str) -> tuple[list[Token], list[Token]]:
        """Copula + adjective: (tokens before the subject, tokens after it)."""
        raise NotImplementedError

    def adverb(self, lex: Lexeme) -> str:
        raise NotImplementedError

    def designator(self, lex: Lexeme) -> str:
        return lex.stem.capitalize() if self.cased else lex.stem

    # ----- assembly ------------------------------------------------------------------
    def entity(self, index: int) -> list[Token]:
        if index not in self._entity_cache:  # names are fixed once the World is built
            self._entity_cache[index] = self._entity_tokens(index)
        return list(self._entity_cache[index])

    def _entity_tokens(self, index: int) -> list[Token]:
        e: Entity = self.space.entities[index]
        words = [self.names[p] for p in e.parts]
        if e.designator is not None:
            d = self.designator(self.designators[e.designator])
            words = [d] + words if self.designator_first else words + [d]
        return [Token(w, "PROPN", ("B-" if i == 0 else "I-") + e.type) for i, w in enumerate(words)]

    def agreement(self, phrase: Phrase) -> tuple[bool, str]:
        """(plural, gender) that a verb or predicate adjective agrees with."""
        if phrase.entity is None:
            return phrase.plural, self.nouns[phrase.noun].gender
        e = self.space.entities[phrase.entity]
        if e.type == "PER":
            return False, "f" if e.feminine else "m"
        return False, self.designators[e.designator].gender if e.designator is not None else "m"

    def phrase(self, phrase: Phrase, role: str) -> list[Token]:
        if phrase.entity is not None:
            return self.entity(phrase.entity)
        adjective = self.adjectives[phrase.adjective] if phrase.adjective is not None else None
        return self.noun_phrase(self.nouns[phrase.noun], adjective, phrase.plural, role)

    def render(self, m: Meaning) -> list[Token]:
        plural, gender = self.agreement(m.subject)
        subject = self.phrase(m.subject, "subj")
        if m.attribute is not None:
            before, after = self.predicate(self.adjectives[m.attribute], m.tense, m.negated,
                                           m.intensified, plural, gender)
            tokens = before + subject + after
        else:
            verb = self.verb_group(self.verbs[m.verb], m.tense, m.negated, plural, gender)
            obj = self.phrase(m.object, "obj") if m.object is not None else []
            adverb = [Token(self.adverb(self.adverbs[m.adverb]), "ADV")] if m.adverb is not None else []
            location = []
            if m.location is not None:
                location = [Token(self.location_adp, "ADP")] + self.entity(m.location)
            pre = (location if self.location_position == "preverbal" else []) + (
                adverb if self.adverb_position == "preverbal" else [])
            group = pre + verb + (adverb if self.adverb_position == "postverbal" else [])
            if self.order == "SVO":
                tokens = subject + group + obj
            elif self.order == "SOV":
                tokens = subject + obj + group
            else:  # VSO
                tokens = group + subject + obj
            tokens += (adverb if self.adverb_position == "final" else []) + (
                location if self.location_position == "final" else [])
        if self.cased and tokens[0].ner == "O":
            first = tokens[0]
            tokens[0] = Token(first.form[:1].upper() + first.form[1:], first.upos, first.ner)
        return tokens + [Token(self.period, "PUNCT")]

    def surface(self, tokens: list[Token]) -> str:
        if not self.spaced:
            return "".join(t.form for t in tokens)
        out = ""
        for t in tokens:  # no space before punctuation or after an elided word (fr n')
            out += t.form if (not out or t.upos == "PUNCT" or out.endswith("'")) else " " + t.form
        return out
