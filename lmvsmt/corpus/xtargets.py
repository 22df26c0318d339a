"""Which half of a link's xtargets belongs to which document, decided from the data.

A link `xtargets="a;b"` pairs the sentence ids `a` of one document with the ids
`b` of the other. OPUS alignment files list the fromDoc ids first; the UNPC v1.0
link files list the toDoc ids first (formats.py gives the evidence). Read the
wrong way round, a bitext pairs sentences that are not translations of each
other without any error. So every link group's ids are checked against both of
its documents under both readings, and each language pair of a corpus gets the
reading under which its ids exist:

- ids dangle (name no sentence of the document) under one reading only: that one;
- both readings fit: the one under which the lengths of linked sentences correlate
  (the same pairs either way when every link names the same ids on both sides:
  then the release's documented order, which changes nothing);
- above `corpus.links.max_dangling_share` under both readings, or no length
  correlation of at least `corpus.links.min_length_correlation`: the build stops
  with one line naming the link file, the corpus and what was found.

Groups that do not fit the reading of their pair (more dangling ids than the share
allows) are skipped as malformed link groups, so they count against
corpus.max_bad_share. The findings go to `links.tsv` beside stats.tsv.
"""
from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from operator import mul
from typing import Sequence

from lmvsmt.corpus.links import FROM_DOC, READINGS, TO_DOC

REPORT_COLUMNS = (
    "pair", "reading", "decided_by", "link_groups", "sentence_ids",
    "dangling_fromDoc_first", "dangling_toDoc_first", "clashing", "groups_dropped",
    "length_pairs", "correlation_fromDoc_first", "correlation_toDoc_first",
)


# how a pair's reading was chosen (links.tsv's decided_by) and what that means
DECIDED_BY = {
    "ids": "the sentence ids, which exist under this reading only",
    "lengths": "the lengths of linked sentences, which correlate more under this reading",
    "same_pairs": "the release's order: every link names the same ids on both sides, so both readings give the "
                  "same pairs",
    "documented_order": "the release's order: both readings fit the ids, and too few linked pairs to test lengths",
}


def describe(reading: str) -> str:
    return f"{reading} ids first"


def group_ids(links: Sequence[tuple[str, str]]) -> tuple[set[str], set[str], int]:
    """The distinct sentence ids of the first and of the second halves of a
    group's links, and how many ids are linked more than once (a sentence claimed
    by two links)."""
    firsts, seconds = zip(*links) if links else ((), ())
    first, second = " ".join(firsts).split(), " ".join(seconds).split()
    unique_first, unique_second = set(first), set(second)
    return unique_first, unique_second, len(first) + len(second) - len(unique_first) - len(unique_second)


def dangling(first: set[str], second: set[str], from_ids: set[str], to_ids: set[str]) -> tuple[int, int]:
    """Ids that name no sentence when the first halves belong to fromDoc, and when
    they belong to toDoc (set differences, in C)."""
    return len(first - from_ids) + len(second - to_ids), len(first - to_ids) + len(second - from_ids)


@dataclass
class _Lengths:
    """Sums for Pearson's correlation of linked sentence lengths (exact integers)."""

    n: int = 0
    sx: int = 0
    sy: int = 0
    sxx: int = 0
    syy: int = 0
    sxy: int = 0

    def add(self, xs: list[int], ys: list[int]) -> None:
        self.n += len(xs)
        self.sx += sum(xs)
        self.sy += sum(ys)
        self.sxx += sum(map(mul, xs, xs))
        self.syy += sum(map(mul, ys, ys))
        self.sxy += sum(map(mul, xs, ys))

    def correlation(self) -> float | None:
        vx, vy = self.n * self.sxx - self.sx**2, self.n * self.syy - self.sy**2
        if self.n < 2 or vx <= 0 or vy <= 0:
            return None
        return (self.n * self.sxy - self.sx * self.sy) / math.sqrt(vx * vy)


def _lengths(links, first_doc: dict[str, str], second_doc: dict[str, str]) -> tuple[list[int], list[int]]:
    """Character lengths of the linked texts (links with text on both sides whose
    ids all exist), the first halves read in first_doc."""
    xs, ys = [], []
    for a, b in links:
        ta = [first_doc.get(i) for i in a.split()]
        tb = [second_doc.get(i) for i in b.split()]
        if ta and tb and all(ta) and all(tb):
            xs.append(sum(map(len, ta)) + len(ta) - 1)
            ys.append(sum(map(len, tb)) + len(tb) - 1)
    return xs, ys


@dataclass
class PairCheck:
    """What the link groups of one language pair show, and the reading chosen."""

    pair: str
    groups: int = 0
    ids: int = 0
    dangling: dict[str, int] = field(default_factory=lambda: dict.fromkeys(READINGS, 0))
    first_dangling: dict[str, str] = field(default_factory=dict)  # reading -> "file:line" of the first group it misses
    clashing: int = 0
    symmetric: bool = True  # every link names the same ids on both sides: both readings give the same pairs
    files: array = field(default_factory=lambda: array("l"))  # link files holding the pair's groups (indices)
    lengths: dict[str, _Lengths] = field(default_factory=lambda: {r: _Lengths() for r in READINGS})
    reading: str = ""
    decided_by: str = ""
    dropped: int = 0

    def add_group(self, links, from_ids, to_ids, file_index: int, where: str) -> tuple[int, int, int]:
        """Check one group's ids against its two documents' sentence ids; returns
        (distinct ids, dangling when fromDoc is first, dangling when toDoc is first),
        ids counted once per half of the group."""
        first, second, clashing = group_ids(links)
        d_from, d_to = dangling(first, second, from_ids, to_ids)
        n = len(first) + len(second)
        self.groups += 1
        self.ids += n
        self.dangling[FROM_DOC] += d_from
        self.dangling[TO_DOC] += d_to
        for reading, d in ((FROM_DOC, d_from), (TO_DOC, d_to)):
            if d and reading not in self.first_dangling:
                self.first_dangling[reading] = where
        self.clashing += clashing
        if self.symmetric and links and not all(map(str.__eq__, *zip(*links))):
            self.symmetric = False
        if not self.files or self.files[-1] != file_index:
            self.files.append(file_index)
        return n, d_from, d_to

    def add_lengths(self, links, from_text: dict[str, str], to_text: dict[str, str]) -> None:
        """Length statistics of one group's links under both readings."""
        self.lengths[FROM_DOC].add(*_lengths(links, from_text, to_text))
        self.lengths[TO_DOC].add(*_lengths(links, to_text, from_text))

    def share(self, reading: str) -> float:
        return self.dangling[reading] / self.ids if self.ids else 0.0

    def correlation(self, reading: str) -> float | None:
        return self.lengths[reading].correlation()

    def length_pairs(self) -> int:
        """Linked sentence pairs in the length test (those found under both readings)."""
        return min(lengths.n for lengths in self.lengths.values())

    def needs_lengths(self, max_dangling_share: float) -> bool:
        """Both readings fit the ids and give different pairs: lengths must decide."""
        return not self.symmetric and all(self.share(r) <= max_dangling_share for r in READINGS)

    def decide(self, documented: str, max_dangling_share: float, min_length_correlation: float,
               min_length_pairs: int, first_file: str) -> str | None:
        """Choose the reading (sets .reading and .decided_by); return a one-line
        problem instead when the data support neither."""
        fits = [r for r in READINGS if self.share(r) <= max_dangling_share]
        found = ", ".join(f"{describe(r)}: {self.dangling[r]:,} of {self.ids:,} sentence ids dangle "
                          f"({self.share(r):.1%})" for r in READINGS)
        if not fits:
            best = min(READINGS, key=lambda r: (self.dangling[r], r != documented))
            where = self.first_dangling.get(best, first_file)
            return (f"link file {where} (pair {self.pair}): the sentence ids of xtargets fit neither reading "
                    f"({found}; corpus.links.max_dangling_share={max_dangling_share:.1%})")
        if len(fits) == 1:
            self.reading, self.decided_by = fits[0], "ids"
            return None
        if self.symmetric:
            self.reading, self.decided_by = documented, "same_pairs"
            return None
        n = self.length_pairs()
        correlations = {r: self.correlation(r) for r in READINGS}
        if n < min_length_pairs or None in correlations.values():
            # too little text to tell: the release's documented order, said in the log and links.tsv
            self.reading, self.decided_by = documented, "documented_order"
            return None
        best = max(READINGS, key=lambda r: (correlations[r], r == documented))
        if correlations[best] < min_length_correlation:
            said = ", ".join(f"{describe(r)}: r={correlations[r]:.2f}" for r in READINGS)
            return (f"link file {first_file} (pair {self.pair}): the sentence ids fit both readings of xtargets "
                    f"({found}) but the lengths of linked sentences do not correlate under either ({said}; "
                    f"corpus.links.min_length_correlation={min_length_correlation:.2f})")
        self.reading, self.decided_by = best, "lengths"
        return None

    def report_row(self) -> list[str]:
        def corr(r):
            c = self.correlation(r)
            return "" if c is None else f"{c:.4f}"

        return [
            self.pair, f"{self.reading}_first", self.decided_by, str(self.groups), str(self.ids),
            str(self.dangling[FROM_DOC]), str(self.dangling[TO_DOC]), str(self.clashing), str(self.dropped),
            str(self.length_pairs()), corr(FROM_DOC), corr(TO_DOC),
        ]

    def summary(self) -> str:
        text = (f"{self.pair}: {describe(self.reading)} (decided by {DECIDED_BY[self.decided_by]}); "
                f"{self.groups} link groups, {self.ids} sentence ids, dangling {self.dangling[FROM_DOC]} "
                f"({describe(FROM_DOC)}) / {self.dangling[TO_DOC]} ({describe(TO_DOC)}), {self.clashing} linked "
                f"twice, {self.dropped} groups dropped")
        if self.length_pairs():
            text += "; length correlation " + " / ".join(
                f"{c:.2f}" if (c := self.correlation(r)) is not None else "-" for r in READINGS)
        return text
