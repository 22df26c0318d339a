"""SYNTHETIC sources for the offline demo: documents of the lmvsmt.demo world,
written in the real release formats (formats.py) so that the real parsers are
what the demo runs.

Like the real corpora, a document exists in two or more languages (the minimum
two, each further language with probability demo.language_coverage), sentence
segmentation differs between languages (some 2-1 and 1-2 links), a few
sentences exist in one language only (1-0 links), some sentences are empty or
carry stray whitespace, and a film may have two subtitle files in a language of
which different language pairs use different ones. UNPC's paragraphs hold
different numbers of sentences in different languages, so its sentence ids
("p:s") are language-specific, and its links are written as the release has
them: one directory per pair (some named out of alphabetical order), toDoc ids
first in xtargets.
"""
from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from lmvsmt.corpus.documents import paragraphs_of, write_opus_raw_document, write_tei_document
from lmvsmt.corpus.formats import LAYOUTS, Layout
from lmvsmt.corpus.links import write_link_file
from lmvsmt.io import atomic_directory
from lmvsmt.vocabulary import LANGUAGES

MERGE_PROBABILITY = 0.08  # two meanings said in one sentence (a 2-1 link)
EXTRA_PROBABILITY = 0.04  # a sentence found in one language only (a 1-0 link)
EMPTY_PROBABILITY = 0.02  # an empty <s> (dropped by the parser)
MESSY_PROBABILITY = 0.1  # stray whitespace inside a sentence (normalised by the parser)
SECOND_VERSION_PROBABILITY = 0.15  # OpenSubtitles: a second subtitle file in a language


@dataclass
class _Sentence:
    sid: str
    span: tuple[int, int] | None  # meanings [start, end) it renders; None: one language only


def _segment(rng: random.Random, n: int) -> list[tuple[int, int] | None]:
    """One language's sentence segmentation of n meanings, with extra sentences."""
    spans, i = [], 0
    while i < n:
        if rng.random() < EXTRA_PROBABILITY:
            spans.append(None)
        width = 2 if i + 1 < n and rng.random() < MERGE_PROBABILITY else 1
        spans.append((i, i + width))
        i += width
    return spans


def _mess(rng: random.Random, text: str) -> str:
    if rng.random() >= MESSY_PROBABILITY:
        return text
    words = text.split(" ")
    k = rng.randrange(len(words))
    words[k] = words[k] + rng.choice(["  ", " \n ", "\t", "\u3000"])
    return "  " + " ".join(words) + "\n"


def _texts(world, rng, meanings, lang, spans) -> list[str]:
    texts = []
    for span in spans:
        if span is None:
            if rng.random() < EMPTY_PROBABILITY / EXTRA_PROBABILITY:
                texts.append("  ")
            else:
                extra = world.document(rng, 1)[0]
                texts.append(world.surface(world.render(extra, lang), lang))
            continue
        parts = [world.surface(world.render(m, lang), lang) for m in meanings[span[0] : span[1]]]
        texts.append(_mess(rng, " ".join(parts)))
    return texts


def align(a: Sequence[_Sentence], b: Sequence[_Sentence]) -> list[tuple[list[str], list[str]]]:
    """Sentence links between two segmentations of the same meanings: minimal
    blocks whose meaning spans end together; one-language sentences are 1-0/0-1
    links, or ride along inside a block that is still open."""
    links, i, j = [], 0, 0
    while i < len(a) or j < len(b):
        if i < len(a) and a[i].span is None:
            links.append(([a[i].sid], []))
            i += 1
            continue
        if j < len(b) and b[j].span is None:
            links.append(([], [b[j].sid]))
            j += 1
            continue
        ids_a, ids_b = [a[i].sid], [b[j].sid]
        end_a, end_b = a[i].span[1], b[j].span[1]
        i, j = i + 1, j + 1
        while end_a != end_b:
            if end_a < end_b:
                ids_a.append(a[i].sid)
                end_a = a[i].span[1] if a[i].span else end_a
                i += 1
            else:
                ids_b.append(b[j].sid)
                end_b = b[j].span[1] if b[j].span else end_b
                j += 1
        links.append((ids_a, ids_b))
    return links


def write_release_links(
    layout: Layout,
    raw: Path,
    langs: tuple[str, str],
    groups: Sequence[tuple[str, str, Sequence[tuple[Sequence[str], Sequence[str]]]]],
    first: str | None = None,
) -> None:
    """Write one language pair's link groups, (fromDoc, toDoc, links as (fromDoc
    ids, toDoc ids)), where and how the release keeps them: OPUS one alignment
    file per pair; UNPC one .lnk file per document under `links/{s}_{t}/`, the
    directory named in the order of `langs`. xtargets list first the ids of
    `first` (default: the release's order, layout.xtargets_first)."""
    first = first or layout.xtargets_first
    if layout.style == "opus":
        write_link_file(layout.link_file(raw, *langs), groups, style=layout.style, first=first)
        return
    by_document = defaultdict(list)
    for group in groups:
        by_document[layout.document_of(layout.source(group[0]))].append(group)
    for document, document_groups in by_document.items():
        write_link_file(layout.link_file(raw, *langs, document=document), document_groups, style=layout.style,
                        first=first)


def write_demo_sources(corpus: str, raw_dir: Path, languages: Sequence[str], demo: dict) -> dict[str, int]:
    """Generate the demo's `corpus` (unpc or opensubtitles) into raw_dir, in that
    corpus's release format. Returns counts (documents, language versions, links)."""
    from lmvsmt.demo import World  # the world is only needed for the demo

    layout = LAYOUTS[corpus]
    languages = sorted(languages)
    world = World(seed=demo["seed"], languages=languages, vocab_scale=demo["vocab_scale"])
    rng = random.Random(f"{demo['seed']}/corpus/{corpus}")
    low, high = demo["sentences_per_document"]
    coverage = demo["language_coverage"]
    if low > high:
        raise ValueError(f"demo.sentences_per_document: min {low} > max {high}")
    counts = defaultdict(int)
    with atomic_directory(Path(raw_dir)) as tmp:
        groups = defaultdict(list)  # (lang1, lang2) -> link groups
        dir_order = {}  # UNPC: (lang1, lang2) -> the languages in the order its directory names them
        for d in range(demo[f"{corpus}_documents"]):
            style = "report" if layout.style == "tei" else "dialogue"
            meanings = world.document(rng, rng.randint(low, high), style=style)
            chosen = world.document_languages(rng, coverage)
            versions = {}  # lang -> [(ref, sentences)]
            for lang in sorted(chosen):
                n_versions = 2 if layout.style == "opus" and rng.random() < SECOND_VERSION_PROBABILITY else 1
                versions[lang] = [
                    _write_version(layout, tmp, d, v, lang, world, rng, meanings) for v in range(n_versions)
                ]
                counts["language_versions"] += n_versions
            for lang1, lang2 in itertools.combinations(sorted(chosen), 2):
                (ref1, sents1), (ref2, sents2) = rng.choice(versions[lang1]), rng.choice(versions[lang2])
                links = align(sents1, sents2)
                if layout.style == "tei":
                    # UNPC: toDoc in the first language of the pair directory's name, as
                    # OPUS's conversion implies (it swaps the two, then names the pair so)
                    if (lang1, lang2) not in dir_order:
                        dir_order[(lang1, lang2)] = (lang2, lang1) if rng.random() < 0.5 else (lang1, lang2)
                    forward = dir_order[(lang1, lang2)][1] == lang1
                else:
                    forward = rng.random() < 0.5  # the real files name either language first
                if forward:
                    groups[(lang1, lang2)].append((ref1, ref2, links))
                else:
                    groups[(lang1, lang2)].append((ref2, ref1, [(b, a) for a, b in links]))
                counts["link_groups"] += 1
                counts["links"] += len(links)
            counts["documents"] += 1
        for pair, pair_groups in sorted(groups.items()):
            write_release_links(layout, tmp, dir_order.get(pair, pair), pair_groups)
    return dict(counts)


def _write_version(layout: Layout, raw: Path, d: int, v: int, lang: str, world, rng, meanings):
    spans = _segment(rng, len(meanings))
    texts = _texts(world, rng, meanings, lang, spans)
    year = 1990 + d % 25
    if layout.style == "tei":
        symbol = f"A/{year - 1945}/{d + 1}"
        rest = f"{year}/a/{year - 1945}/{d + 1}.xml"
        ref, rel = layout.ref(lang, rest)
        sizes = [rng.randint(1, 4) for _ in texts]
        ids = write_tei_document(
            raw / layout.docs_dir / rel, lang, paragraphs_of(texts, sizes),
            symbol=symbol, date=f"{year}-{1 + d % 12:02d}-{1 + d % 28:02d}",
            title=f"{symbol}: {world.notice()}",
        )
    else:
        film = f"{1950 + d % 68}/{100000 + d}"
        file_id = f"{1_000_000 + 20 * d + 2 * LANGUAGES.index(lang) + v}"
        ref, rel = layout.ref(lang, f"{film}/{file_id}.xml")
        ids = write_opus_raw_document(
            raw / layout.docs_dir / rel, file_id, texts,
            meta={"source": world.notice(), "language": lang},
        )
    return ref, [_Sentence(sid, span) for sid, span in zip(ids, spans)]
