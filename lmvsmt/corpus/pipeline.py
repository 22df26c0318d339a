"""Build one pretraining corpus: scan the sources, allocate, split and write.

Two streaming passes over the alignment files, so memory holds per-document
metadata and one document pair at a time, never the corpus text:

1. scan: every link group becomes a candidate bitext (two language versions, the
   multi-way document, the number of aligned sentence pairs); every document a
   candidate names is checked for well-formedness, and the group's sentence ids
   against the ids of its two documents, which decides per language pair whose
   ids xtargets lists first (xtargets.py). Malformed groups and documents are
   skipped and counted; too many of them is an error.
2. write: after allocation and splitting, the groups that were allocated are
   read again with their two documents and written as line-aligned bitexts and
   as document-level text (both sides of each bitext).

Every error is raised before the first output is opened, or while the outputs
are still temporary files, so a failed build writes nothing under the final names.

One module although over 400 lines: both passes read the scan's per-document state
and the per-pair xtargets readings it decides; the allocation itself, the link and
document readers and the xtargets test live in their own modules.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import sys
from array import array
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from lmvsmt.corpus import allocation as alloc
from lmvsmt.config import SCHEMA_DIR, load_schema
from lmvsmt.corpus import xtargets
from lmvsmt.corpus.documents import MalformedDocument, check_well_formed, sentence_ids, sentences
from lmvsmt.corpus.formats import LAYOUTS, Layout
from lmvsmt.corpus.links import BadGroup, LinkGroup, iter_link_groups
from lmvsmt.errors import LmvsmtError
from lmvsmt.io import atomic_write, open_text
from lmvsmt.layout import (
    ALLOCATION_KINDS,
    CORPUS_ALLOCATION,
    CORPUS_BITEXT,
    CORPUS_DOC,
    CORPUS_LINKS,
    CORPUS_STATS,
    corpus_dir,
    corpus_texts,
    stats as stats_path,
)
from lmvsmt.vocabulary import SPLITS, language_pairs

log = logging.getLogger(__name__)

# One row per allocated bitext: the multi-way document, its pair (lang1 < lang2),
# split, aligned sentence pairs in its link group (links with ids on both sides),
# and the two language versions (paths inside the release) it consumes.
ALLOCATION_COLUMNS = ("doc_id", "lang1", "lang2", "split", "sentences", "source1", "source2")


class CorpusError(LmvsmtError, ValueError):
    """A corpus that cannot be built; the message names the file and the problem."""


def output_files(out_dir: Path, languages: Sequence[str]) -> list[Path]:
    """Every text file the build writes."""
    docs, bitexts = corpus_texts(str(out_dir), languages)
    return [Path(p) for p in docs + bitexts]


def stage_targets(results: str, corpora: Sequence[str], languages: Sequence[str]) -> list[str]:
    """Final outputs of the corpus stage: Table 6 data, allocations and texts."""
    targets = [stats_path(results, "table6")]
    for corpus in corpora:
        directory = corpus_dir(results, corpus)
        docs, bitexts = corpus_texts(directory, languages)
        targets += [f"{directory}/" + CORPUS_ALLOCATION.format(kind=k) for k in ALLOCATION_KINDS]
        targets.append(f"{directory}/{CORPUS_LINKS}")
        targets += docs + bitexts
    return targets


@dataclass
class Scan:
    """Pass-1 metadata: candidates as parallel lists of small ints."""

    sources: dict[str, int] = field(default_factory=dict)  # language version -> index
    documents: dict[str, int] = field(default_factory=dict)  # multi-way document -> index
    cand_from: list[int] = field(default_factory=list)
    cand_to: list[int] = field(default_factory=list)
    cand_doc: list[int] = field(default_factory=list)
    cand_pair: list[str] = field(default_factory=list)
    cand_links: list[int] = field(default_factory=list)
    # where each candidate's group is, its sentence ids, and how many dangle under each reading
    cand_file: array = field(default_factory=lambda: array("l"))
    cand_line: array = field(default_factory=lambda: array("l"))
    cand_ids: array = field(default_factory=lambda: array("l"))
    cand_dangling_from: array = field(default_factory=lambda: array("l"))
    cand_dangling_to: array = field(default_factory=lambda: array("l"))
    checks: dict[str, xtargets.PairCheck] = field(default_factory=dict)  # pair -> its link check
    sentence_counts: array = field(default_factory=lambda: array("l"))  # language version -> its sentences
    counts: Counter = field(default_factory=Counter)
    link_files: list[str] = field(default_factory=list)  # plain strings: one per document in UNPC
    bad: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, where, reason)

    CANDIDATE_FIELDS = ("cand_from", "cand_to", "cand_doc", "cand_pair", "cand_links", "cand_file", "cand_line",
                        "cand_ids", "cand_dangling_from", "cand_dangling_to")

    def intern(self, table: dict[str, int], key: str) -> int:
        index = table.get(key)
        if index is None:
            index = table[key] = len(table)
        return index

    def keep(self, keep: Sequence[int]) -> None:
        """Keep only the candidates at these indices."""
        for name in self.CANDIDATE_FIELDS:
            values = getattr(self, name)
            kept = [values[i] for i in keep]
            setattr(self, name, array(values.typecode, kept) if isinstance(values, array) else kept)

    def __len__(self) -> int:
        return len(self.cand_from)


class _Documents:
    """Sentence ids of the language versions that candidates name. Each file is
    checked for well-formedness once; the ids of recently read ones are kept
    (the groups of one document in different pairs tend to come together)."""

    def __init__(self, layout: Layout, raw_dir: Path, result: Scan, size: int = 64):
        self.layout, self.raw_dir, self.result, self.size = layout, raw_dir, result, size
        self.cache: OrderedDict[int, set[str]] = OrderedDict()
        self.checked = bytearray()  # 1 at the index of a language version found well-formed
        self.bad: set[int] = set()

    def ids(self, index: int, source: str) -> set[str] | None:
        """The sentence ids of a language version; None when it is missing or malformed."""
        if index in self.bad:
            return None
        ids = self.cache.get(index)
        if ids is not None:
            self.cache.move_to_end(index)
            return ids
        try:
            data = self.layout.read(self.raw_dir, source)
            if index >= len(self.checked) or not self.checked[index]:
                check_well_formed(data)
                if index >= len(self.checked):
                    self.checked.extend(bytes(index + 1 - len(self.checked)))
                self.checked[index] = 1
            found = sentence_ids(data)
        except FileNotFoundError:
            reason = "missing"
        except (OSError, EOFError, UnicodeDecodeError, MalformedDocument) as exc:
            reason = f"not well-formed or unreadable: {exc}"
        else:
            counts = self.result.sentence_counts
            if index >= len(counts):
                counts.extend([-1] * (index + 1 - len(counts)))
            counts[index] = len(found)  # lets the writer read the document the cheap way
            ids = self.cache[index] = set(found)
            if len(self.cache) > self.size:
                self.cache.popitem(last=False)
            return ids
        self.bad.add(index)
        self.result.bad.append(("document", self.layout.path_of(self.raw_dir, source), reason))
        return None


def scan(layout: Layout, raw_dir: Path, languages: Sequence[str]) -> Scan:
    """Pass 1 over the link files and the documents they name: candidates, and
    every candidate group's sentence ids checked against its two documents."""
    wanted = set(languages)
    result = Scan()
    seen: set[tuple[int, int]] = set()
    files = result.link_files = layout.link_paths(raw_dir)
    if not files:
        raise CorpusError(f"{raw_dir}: no alignment files ({', '.join(layout.link_globs)}) for {layout.corpus}")
    documents = _Documents(layout, raw_dir, result)
    for file_index, path in enumerate(
        tqdm(files, desc=f"{layout.corpus}: scan links and documents", unit="file", mininterval=10, file=sys.stderr)
    ):
        for group in iter_link_groups(path):
            result.counts["link_groups"] += 1
            if isinstance(group, BadGroup):
                result.bad.append(("link_group", f"{path}:{group.line}", group.reason))
                continue
            found = _scan_group(layout, group, path, wanted, seen, result)
            if found is None:
                continue
            (a, source_a), (b, source_b) = found
            ids_a, ids_b = documents.ids(a, source_a), documents.ids(b, source_b)
            if ids_a is None or ids_b is None:  # the candidate is dropped below
                n = d_from = d_to = 0
            else:
                pair = result.cand_pair[-1]
                check = result.checks.get(pair)
                if check is None:
                    check = result.checks[pair] = xtargets.PairCheck(pair)
                n, d_from, d_to = check.add_group(group.links, ids_a, ids_b, file_index, f"{path}:{group.line}")
            result.cand_file.append(file_index)
            result.cand_line.append(group.line)
            result.cand_ids.append(n)
            result.cand_dangling_from.append(d_from)
            result.cand_dangling_to.append(d_to)
    result.counts["link_groups_bad"] = sum(1 for kind, _, _ in result.bad if kind == "link_group")
    result.counts["documents"] = len(set(result.cand_from) | set(result.cand_to))
    result.counts["documents_bad"] = len(documents.bad)
    if documents.bad:
        bad = documents.bad
        result.keep([i for i in range(len(result)) if result.cand_from[i] not in bad and result.cand_to[i] not in bad])
    result.counts["candidates"] = len(result)
    return result


def _scan_group(layout, group: LinkGroup, path: Path, wanted, seen, result: Scan):
    """Add the group as a candidate; returns its two language versions as
    (index, source), or None when the group is not a candidate."""
    where = f"{path}:{group.line}"
    source_a, source_b = layout.source(group.from_doc), layout.source(group.to_doc)
    if source_a is None or source_b is None:
        result.bad.append(("link_group", where, f"fromDoc/toDoc is not a {layout.corpus} document: {group.from_doc!r} {group.to_doc!r}"))
        return None
    lang_a, lang_b = layout.lang_of(source_a), layout.lang_of(source_b)
    if lang_a == lang_b:
        result.bad.append(("link_group", where, f"both documents are in {lang_a!r}"))
        return None
    if lang_a not in wanted or lang_b not in wanted:
        result.counts["link_groups_other_languages"] += 1
        return None
    n = group.bitext_links()
    if n == 0:
        result.counts["link_groups_without_bitext"] += 1
        return None
    a, b = result.intern(result.sources, source_a), result.intern(result.sources, source_b)
    if (a, b) in seen or (b, a) in seen:
        result.counts["link_groups_duplicate"] += 1
        return None
    seen.add((a, b))
    doc_a, doc_b = layout.document_of(source_a), layout.document_of(source_b)
    if doc_a != doc_b:
        # Links across different documents: the multi-way document is ambiguous.
        result.bad.append(("link_group", where, f"links two different documents {doc_a!r} and {doc_b!r}"))
        return None
    result.cand_from.append(a)
    result.cand_to.append(b)
    result.cand_doc.append(result.intern(result.documents, doc_a))
    result.cand_pair.append(sys.intern("-".join(sorted((lang_a, lang_b)))))  # one string per pair
    result.cand_links.append(n)
    return (a, source_a), (b, source_b)


@functools.cache
def link_check_defaults() -> dict:
    """The corpus.links defaults, read from the schema (where they are written once)."""
    schema = load_schema(SCHEMA_DIR / "corpus.schema.yaml")
    return {key: sub["default"] for key, sub in schema["properties"]["links"]["properties"].items()}


def decide_readings(layout: Layout, raw_dir: Path, result: Scan, settings: dict) -> dict[str, str]:
    """Choose the xtargets reading of every language pair (see xtargets.py), drop
    the groups that do not fit their pair's reading (as malformed link groups) and
    return pair -> reading. Raises CorpusError, naming the link file, when a pair's
    ids or lengths support neither reading."""
    max_share = settings["max_dangling_share"]
    for pair, check in sorted(result.checks.items()):
        if check.needs_lengths(max_share):
            _measure_lengths(layout, raw_dir, result, check)
        problem = check.decide(layout.xtargets_first, max_share, settings["min_length_correlation"],
                               settings["min_length_pairs"], result.link_files[check.files[0]])
        if problem:
            raise CorpusError(f"{layout.corpus}: {problem}")
    keep = []
    for i in range(len(result)):
        check = result.checks[result.cand_pair[i]]
        d = result.cand_dangling_to[i] if check.reading == xtargets.TO_DOC else result.cand_dangling_from[i]
        if d > max_share * result.cand_ids[i]:
            check.dropped += 1
            where = f"{result.link_files[result.cand_file[i]]}:{result.cand_line[i]}"
            result.bad.append(("link_group", where, f"{d} of {result.cand_ids[i]} sentence ids dangle with "
                               f"{xtargets.describe(check.reading)}, the reading of the pair {check.pair}"))
            result.counts["link_groups_bad"] += 1
        else:
            keep.append(i)
    if len(keep) < len(result):
        result.keep(keep)
        result.counts["candidates"] = len(result)
    for pair, check in sorted(result.checks.items()):
        level = logging.WARNING if check.decided_by == "documented_order" else logging.INFO
        log.log(level, "%s: xtargets %s", layout.corpus, check.summary())
    return {pair: check.reading for pair, check in result.checks.items()}


def _measure_lengths(layout: Layout, raw_dir: Path, result: Scan, check: xtargets.PairCheck) -> None:
    """Read the pair's candidate groups again with their documents' text and add
    the lengths of linked sentences under both readings."""
    names = list(result.sources)
    wanted = {(result.cand_from[i], result.cand_to[i]) for i in range(len(result)) if result.cand_pair[i] == check.pair}
    sources = result.sources

    def candidate(from_doc: str, to_doc: str) -> bool:
        return (sources.get(layout.source(from_doc)), sources.get(layout.source(to_doc))) in wanted

    texts: OrderedDict[int, dict[str, str]] = OrderedDict()

    def document_text(index: int) -> dict[str, str]:
        if index not in texts:
            texts[index] = sentences(layout.read(raw_dir, names[index]))
            if len(texts) > 64:
                texts.popitem(last=False)
        return texts[index]

    for file_index in tqdm(check.files, desc=f"{layout.corpus}: {check.pair} sentence lengths", unit="file",
                           mininterval=10, file=sys.stderr):
        for group in iter_link_groups(result.link_files[file_index], validate=False, select=candidate):
            if isinstance(group, LinkGroup):
                a, b = sources[layout.source(group.from_doc)], sources[layout.source(group.to_doc)]
                try:
                    from_text, to_text = document_text(a), document_text(b)
                except (OSError, EOFError, UnicodeDecodeError) as exc:
                    raise CorpusError(f"{raw_dir}: {names[a]} or {names[b]} changed since the scan: {exc}") from None
                check.add_lengths(group.links, from_text, to_text)


def check_bad_share(corpus: str, result: Scan, max_bad_share: float) -> None:
    """Fail, naming the first bad file, when too many groups or documents are bad."""
    for kind, total_key, bad_key in (("link_group", "link_groups", "link_groups_bad"), ("document", "documents", "documents_bad")):
        total, bad = result.counts[total_key], result.counts[bad_key]
        if total and bad / total > max_bad_share:
            first = next(b for b in result.bad if b[0] == kind)
            label = "link groups" if kind == "link_group" else "documents"
            raise CorpusError(
                f"{corpus}: {bad} of {total} {label} are malformed ({bad / total:.1%} > "
                f"corpus.max_bad_share={max_bad_share:.1%}); first: {first[1]}: {first[2]}"
            )


def build(
    corpus: str,
    raw_dir: Path,
    out_dir: Path,
    languages: Sequence[str],
    *,
    unit: str = alloc.LANGUAGE_VERSION,
    allocation_seed: int = 1,
    use: str = "capped",
    valid: float = 0.015,
    test: float = 0.05,
    split_seed: int = 1,
    max_bad_share: float = 0.01,
    links: dict | None = None,
) -> dict:
    """Scan, allocate, split and write one corpus into out_dir (see output_files,
    allocation.{capped,uncapped}.tsv, stats.tsv, links.tsv). `links` holds the
    corpus.links settings of the xtargets check (the schema's defaults for those
    not given). Returns the statistics."""
    if unit not in alloc.UNITS:
        raise ValueError(f"unit must be one of {alloc.UNITS}, not {unit!r}")
    layout = LAYOUTS[corpus]
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    result = scan(layout, raw_dir, languages)
    readings = decide_readings(layout, raw_dir, result, {**link_check_defaults(), **(links or {})})
    for kind, where, reason in result.bad:
        log.warning("%s: skipped malformed %s %s: %s", corpus, kind.replace("_", " "), where, reason)
    check_bad_share(corpus, result, max_bad_share)

    pairs = ["-".join(p) for p in language_pairs(languages)]
    if unit == alloc.LANGUAGE_VERSION:
        units = list(zip(result.cand_from, result.cand_to))
    else:
        units = [(d,) for d in result.cand_doc]
    allocation = alloc.allocate(units, result.cand_pair, pairs, allocation_seed)
    if use == "capped" and allocation.cap == 0:
        empty = [p for p in pairs if not allocation.uncapped[p]]
        raise CorpusError(
            f"{corpus}: language pair(s) {', '.join(empty)} got no document from {raw_dir}, so the capped "
            "allocation (corpus.allocation.use=capped) would be empty"
        )
    doc_names = list(result.documents)
    source_names = list(result.sources)
    allocated_docs = [doc_names[result.cand_doc[i]] for v in allocation.uncapped.values() for i in v]
    split_of = alloc.assign_splits(allocated_docs, valid, test, split_seed)

    def rows(chosen: dict[str, list[int]]):
        out = []
        for pair, indices in chosen.items():
            lang1, lang2 = pair.split("-")
            for i in indices:
                s1, s2 = source_names[result.cand_from[i]], source_names[result.cand_to[i]]
                if layout.lang_of(s1) != lang1:
                    s1, s2 = s2, s1
                doc = doc_names[result.cand_doc[i]]
                out.append((doc, lang1, lang2, split_of[doc], str(result.cand_links[i]), s1, s2))
        return sorted(out, key=lambda r: (r[1], r[2], r[0], r[5], r[6]))

    chosen_indices = [i for indices in allocation.chosen(use == "capped").values() for i in indices]
    chosen = {(result.cand_from[i], result.cand_to[i]): split_of[doc_names[result.cand_doc[i]]] for i in chosen_indices}
    files = [result.link_files[f] for f in sorted({result.cand_file[i] for i in chosen_indices})]
    counts = write_corpus(layout, raw_dir, out_dir, languages, files, result, chosen, readings)
    # written after the text, so a failed build replaces none of the earlier outputs
    for name, capped in (("uncapped", False), ("capped", True)):
        with atomic_write(out_dir / CORPUS_ALLOCATION.format(kind=name)) as fh:
            fh.write("\t".join(ALLOCATION_COLUMNS) + "\n")
            fh.writelines("\t".join(r) + "\n" for r in rows(allocation.chosen(capped)))

    with atomic_write(out_dir / CORPUS_LINKS) as fh:
        fh.write("\t".join(xtargets.REPORT_COLUMNS) + "\n")
        fh.writelines("\t".join(result.checks[p].report_row()) + "\n" for p in pairs if p in result.checks)
    stats = _stats(result, allocation, pairs, counts, unit, use)
    with atomic_write(out_dir / CORPUS_STATS) as fh:
        fh.write("metric\tscope\tvalue\n")
        fh.writelines(f"{m}\t{s}\t{v}\n" for m, s, v in stats)
    log.info(
        "%s: %d candidates, %d allocated uncapped (%d uniquely paired), %d per pair capped; sentences %s",
        corpus, len(result), sum(map(len, allocation.uncapped.values())), allocation.unique, allocation.cap,
        {s: counts[("doc_sentences", s)] for s in SPLITS},
    )
    return {"counts": counts, "scan": result.counts, "cap": allocation.cap, "rows": stats}


def write_corpus(layout, raw_dir, out_dir, languages, files, result: Scan, chosen, readings: dict[str, str]) -> Counter:
    """Pass 2: stream the link files that hold chosen groups again and write those
    groups, reading each pair's xtargets the way decide_readings found."""
    sources, sentence_counts = result.sources, result.sentence_counts

    def document(source: str) -> dict[str, str]:
        return sentences(layout.read(raw_dir, source), sentence_counts[sources[source]])

    counts: Counter = Counter()
    remaining = dict(chosen)
    with contextlib.ExitStack() as stack:
        handles = {}
        for path in output_files(out_dir, languages):
            handles[path.relative_to(out_dir).as_posix()] = stack.enter_context(atomic_write(path))
        started = set()  # document files that already hold a document
        progress = tqdm(total=len(remaining), desc=f"{layout.corpus}: write", unit="bitext", mininterval=10, file=sys.stderr)

        def chosen_group(from_doc: str, to_doc: str) -> bool:
            return (sources.get(layout.source(from_doc)), sources.get(layout.source(to_doc))) in remaining

        for path in files:
            if not remaining:
                break
            # validated in pass 1; only the chosen groups are parsed again
            for group in iter_link_groups(path, validate=False, select=chosen_group):
                if isinstance(group, BadGroup):
                    continue
                source_a, source_b = layout.source(group.from_doc), layout.source(group.to_doc)
                split = remaining.pop((sources[source_a], sources[source_b]), None)
                if split is None:  # a duplicate of a group already written
                    continue
                progress.update()
                _write_group(layout, raw_dir, document, group, source_a, source_b, split, readings, handles, started,
                             counts)
        progress.close()
        if remaining:
            raise CorpusError(f"{raw_dir}: {len(remaining)} allocated link groups disappeared between the two passes")
    return counts


def _write_group(layout, raw_dir, document, group, source_a, source_b, split, readings, handles, started,
                 counts) -> None:
    lang_a, lang_b = layout.lang_of(source_a), layout.lang_of(source_b)
    try:
        text_a, text_b = document(source_a), document(source_b)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{raw_dir}: {source_a} or {source_b} changed since the scan: {exc}") from None
    swapped = lang_b < lang_a  # then lang_a below is the toDoc's language
    if swapped:
        lang_a, lang_b, text_a, text_b = lang_b, lang_a, text_b, text_a
    pair = f"{lang_a}-{lang_b}"
    links = group.links  # halves as written, made (ids of lang_a, ids of lang_b)
    if swapped != (readings[pair] == xtargets.TO_DOC):
        links = [(b, a) for a, b in links]
    # Fast path, all in C: every link is one sentence to one sentence, all found
    # and non-empty (a side naming several ids, or none, is not a key: None).
    ids_a, ids_b = zip(*links) if links else ((), ())
    doc_a, doc_b = list(map(text_a.get, ids_a)), list(map(text_b.get, ids_b))
    if None in doc_a or None in doc_b or "" in doc_a or "" in doc_b:
        doc_a, doc_b, bitext_a, bitext_b = _general_links(links, text_a, text_b, counts)
    else:
        bitext_a, bitext_b = doc_a, doc_b
    for lang, doc in ((lang_a, doc_a), (lang_b, doc_b)):
        if not doc:
            continue
        name = CORPUS_DOC.format(split=split, lang=lang)
        # documents are separated by exactly one empty line
        handles[name].write(("\n" if name in started else "") + "\n".join(doc) + "\n")
        started.add(name)
        counts[("doc_sentences", split)] += len(doc)
        counts[("doc_sentences", f"{split}/{lang}")] += len(doc)
        counts[("documents_written", f"{split}/{lang}")] += 1
    if bitext_a:
        for lang, lines in ((lang_a, bitext_a), (lang_b, bitext_b)):
            name = CORPUS_BITEXT.format(split=split, lang1=lang_a, lang2=lang_b, side=lang)
            handles[name].write("\n".join(lines) + "\n")
        counts[("bitext_sentences", f"{split}/{pair}")] += len(bitext_a)
        counts[("bitext_sentences", split)] += len(bitext_a)
    counts[("bitexts", f"{split}/{pair}")] += 1


def _general_links(links, text_a, text_b, counts):
    """Links of any shape (n-m, 1-0, ids that are missing or empty): the sentences
    each side contributes to its document, and the bitext lines."""
    doc_a, doc_b, bitext_a, bitext_b = [], [], [], []
    for ids_a, ids_b in links:
        side_a = [text_a.get(i) for i in ids_a.split()]
        side_b = [text_b.get(i) for i in ids_b.split()]
        for side in (side_a, side_b):
            if None in side or "" in side:
                counts[("dangling_sentence_ids", "all")] += side.count(None)
                counts[("empty_sentences_dropped", "all")] += side.count("")
                side[:] = [t for t in side if t]
        doc_a += side_a
        doc_b += side_b
        if side_a and side_b:
            bitext_a.append(" ".join(side_a))
            bitext_b.append(" ".join(side_b))
    return doc_a, doc_b, bitext_a, bitext_b


def _stats(result: Scan, allocation, pairs, counts: Counter, unit: str, use: str) -> list[tuple[str, str, str]]:
    rows = [("unit", "all", unit), ("allocation_used", "all", use)]
    for key in ("link_groups", "link_groups_bad", "link_groups_other_languages", "link_groups_without_bitext",
                "link_groups_duplicate", "documents", "documents_bad", "candidates"):
        rows.append((key, "all", str(result.counts[key])))
    rows.append(("uniquely_paired", "all", str(allocation.unique)))
    rows.append(("cap", "all", str(allocation.cap)))
    candidates = Counter(result.cand_pair)
    for pair in pairs:
        rows.append(("candidates", pair, str(candidates[pair])))
        rows.append(("allocated_uncapped", pair, str(len(allocation.uncapped[pair]))))
        rows.append(("allocated_capped", pair, str(len(allocation.capped[pair]))))
    for split in SPLITS:
        for metric in ("doc_sentences", "bitext_sentences"):
            rows.append((metric, split, str(counts[(metric, split)])))
    rows.append(("doc_sentences", "total", str(sum(counts[("doc_sentences", s)] for s in SPLITS))))
    for (metric, scope), value in sorted(counts.items()):
        if "/" in scope or scope == "all":
            rows.append((metric, scope, str(value)))
    for kind, where, reason in result.bad:
        rows.append((f"bad_{kind}", where, reason.replace("\t", " ").replace("\n", " ")))
    return rows


def write_table6(stats_files: dict[str, Path], out: Path) -> None:
    """Table 6 data: sentences of the document-level corpora per corpus and split."""
    with atomic_write(out) as fh:
        fh.write("corpus\ttrain\tvalid\ttest\ttotal\n")
        for corpus, path in stats_files.items():
            values = {}
            with open_text(path) as stats:
                next(stats)
                for line in stats:
                    metric, scope, value = line.rstrip("\n").split("\t")
                    if metric == "doc_sentences" and scope in (*SPLITS, "total"):
                        values[scope] = value
            fh.write("\t".join([corpus, *(values[s] for s in (*SPLITS, "total"))]) + "\n")
