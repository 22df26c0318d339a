"""A deterministic, seeded SYNTHETIC multilingual world for the offline demo.

A shared meaning space (entities PER/LOC/ORG, predicates, attributes with polarity,
negation, tense) is rendered into six pseudo-languages named ar, en, es, fr, ru, zh,
each with its own seeded lexicon in its own script, word order and morphology.
The corpus and downstream stages write its output in the real source formats.

    from lmvsmt.demo import World, Token, Meaning
    world = World(seed=1, languages=["ar", "en", "es", "fr", "ru", "zh"], vocab_scale=1.0)
    rng = random.Random(7)
    m = world.random_meaning(rng, polarity=None)     # "positive" | "negative" | "neutral" | None
    ms = world.document(rng, 6)                      # one topic, shared entities and predicates
    toks = world.render(m, "fr")                     # [Token(form, upos, ner)], ner in BIO with type
    text = world.surface(toks, "fr")                 # detokenised (no spaces for zh)
    world.polarity(m)                                # "positive" | "negative" | "neutral"
    world.review(rng, "es", stars=4)                 # list of sentences (token lists)
    world.nli_pair(rng, "ru", "contradiction")       # (premise tokens, hypothesis tokens)

Nothing produced here is real language data.
"""
from lmvsmt.demo.meaning import (ENTITY_TYPES, NLI_RELATIONS, POLARITIES, TENSES, UPOS_TAGS, Meaning, Phrase,
                                 Token)
from lmvsmt.demo.world import STYLES, Topic, World, world_from_config

__all__ = ["ENTITY_TYPES", "NLI_RELATIONS", "POLARITIES", "STYLES", "TENSES", "UPOS_TAGS",
           "Meaning", "Phrase", "Token", "Topic", "World", "world_from_config"]
