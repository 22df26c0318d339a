"""Exactly-once allocation of documents to language pairs (PROTOCOL.md,
"Pretraining data").

Input: candidate bitexts, each a language pair and the units it would consume.
The unit is what may be used at most once: one language version of a document
(`language_version`, the authors' scripts: a candidate consumes its two versions)
or the whole multi-way document (`document`, the paper's wording).

1. Candidates whose units occur in no other candidate (documents that can only
   be paired one way) are allocated first.
2. Every further candidate is offered greedily to the language pair that
   currently has the fewest documents: that pair takes its next candidate (in a
   seeded random order) whose units are all still free.
3. Candidates left over are dropped (they cannot form a bitext any more).
4. Capped allocation: every pair is cut to the size of the smallest pair by a
   seeded random sample; the uncapped allocation is kept as well.
"""
from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass
from typing import Hashable, Sequence

LANGUAGE_VERSION = "language_version"
DOCUMENT = "document"
UNITS = (LANGUAGE_VERSION, DOCUMENT)


@dataclass
class Allocation:
    """Candidate indices per language pair, sorted."""

    uncapped: dict[str, list[int]]
    capped: dict[str, list[int]]
    unique: int  # candidates allocated in step 1
    cap: int  # size of every pair in the capped allocation

    def chosen(self, capped: bool) -> dict[str, list[int]]:
        return self.capped if capped else self.uncapped


def allocate(
    units: Sequence[Sequence[Hashable]],
    pair_of: Sequence[str],
    pairs: Sequence[str],
    seed: int,
) -> Allocation:
    """Allocate candidate i (consuming `units[i]`, for pair `pair_of[i]`) so that no
    unit is used twice; `pairs` are all language pairs of the study."""
    if len(units) != len(pair_of):
        raise ValueError("units and pair_of must have one entry per candidate")
    uses = Counter(u for us in units for u in us)
    allocated: dict[str, list[int]] = {p: [] for p in pairs}
    waiting: dict[str, list[int]] = {p: [] for p in pairs}
    used: set = set()
    for i, (us, pair) in enumerate(zip(units, pair_of)):
        if pair not in allocated:
            raise ValueError(f"candidate {i}: pair {pair!r} is not one of {list(pairs)}")
        if all(uses[u] == 1 for u in us):
            allocated[pair].append(i)
            used.update(us)
        else:
            waiting[pair].append(i)
    unique = sum(map(len, allocated.values()))

    rng = random.Random(f"allocation:{seed}")
    for pair in sorted(waiting):
        rng.shuffle(waiting[pair])
    # Heap of (documents allocated so far, pair) over pairs that still have
    # candidates; only the popped pair's count changes, so entries stay current.
    heap = [(len(allocated[p]), p) for p in sorted(pairs) if waiting[p]]
    heapq.heapify(heap)
    position = dict.fromkeys(pairs, 0)
    while heap:
        size, pair = heapq.heappop(heap)
        queue, k = waiting[pair], position[pair]
        while k < len(queue) and not used.isdisjoint(units[queue[k]]):
            k += 1
        if k == len(queue):
            continue  # this pair has nothing free left
        i = queue[k]
        position[pair] = k + 1
        allocated[pair].append(i)
        used.update(units[i])
        if k + 1 < len(queue):
            heapq.heappush(heap, (size + 1, pair))

    uncapped = {p: sorted(v) for p, v in allocated.items()}
    cap = min((len(v) for v in uncapped.values()), default=0)
    rng = random.Random(f"cap:{seed}")
    capped = {p: sorted(rng.sample(uncapped[p], cap)) for p in sorted(uncapped)}
    return Allocation(uncapped=uncapped, capped=capped, unique=unique, cap=cap)


def assign_splits(documents: Sequence[str], valid: float, test: float, seed: int) -> dict[str, str]:
    """Split documents (not sentences) into train/valid/test by a seeded shuffle.
    Shares are of documents; valid and test get at least one document each when
    there are at least three, so no split is empty by rounding alone."""
    docs = sorted(set(documents))
    random.Random(f"splits:{seed}").shuffle(docs)
    n = len(docs)
    n_test, n_valid = round(test * n), round(valid * n)
    if n >= 3:
        n_test, n_valid = max(1, n_test), max(1, n_valid)
    split = {}
    for k, doc in enumerate(docs):
        split[doc] = "test" if k < n_test else "valid" if k < n_test + n_valid else "train"
    return split
