"""Pretraining corpora (lmvsmt.corpus): readers and writers of the release formats,
the streaming scan, every bad-input case, the built corpus files, the real-source
unpacking, and the Snakemake stage on the demo config."""
import copy
import gzip
import io
import itertools
import random
import re
import shutil
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

from lmvsmt import config as lmvsmt_config
from lmvsmt import corpus, vocabulary
from lmvsmt.corpus import pipeline as corpus_build
from lmvsmt.corpus import links as corpus_links
from lmvsmt.corpus import real, synthetic
from lmvsmt.corpus.documents import (
    MalformedDocument,
    normalise_space,
    paragraphs_of,
    read_document,
    sentences,
    write_opus_raw_document,
    write_tei_document,
)
from lmvsmt.corpus.formats import OPENSUBTITLES, UNPC
from lmvsmt.corpus.links import BadGroup, LinkGroup, iter_link_groups, write_link_file
from lmvsmt.layout import CORPUS_LINKS

ROOT = Path(__file__).resolve().parent.parent
LANGS = ["ar", "en", "fr", "zh"]


# --- a small hand-made source tree --------------------------------------------


def text(doc, lang, k):
    return f"{lang} sentence {k} of document {doc}"


def pair_dir(a, b):
    """The languages of a pair in the order its UNPC link directory names them:
    some pairs out of alphabetical order, as in the release."""
    return (b, a) if (LANGS.index(a) + LANGS.index(b)) % 2 else (a, b)


def make_sources(raw: Path, layout, docs: dict[int, list[str]], n_sentences=4, merge=None):
    """Document d in the given languages, n sentences each, 1-1 links for every
    pair of its languages (`merge`: {(d, lang): k} says sentences k and k+1 are one
    sentence in that language, giving a 2-1 link), links written as the release
    writes them."""
    merge = merge or {}
    groups = {}
    for d, langs in docs.items():
        ids = {}
        refs = {}
        for lang in langs:
            texts = [text(d, lang, k) for k in range(n_sentences)]
            if (d, lang) in merge:
                k = merge[(d, lang)]
                texts[k : k + 2] = [texts[k] + " " + texts[k + 1]]
            if layout.style == "tei":
                ref, rel = layout.ref(lang, f"2001/a/56/{d}.xml")
                sids = write_tei_document(raw / layout.docs_dir / rel, lang, [texts], symbol=f"A/56/{d}",
                                          date="2001-01-01", title="test")
            else:
                ref, rel = layout.ref(lang, f"2001/{5000 + d}/{900 + d * 10 + LANGS.index(lang)}.xml")
                sids = write_opus_raw_document(raw / layout.docs_dir / rel, str(d), texts)
            if (d, lang) in merge:
                k = merge[(d, lang)]
                sids = sids[:k] + [sids[k]] + sids[k:]  # meaning k and k+1 -> the same sentence
            ids[lang], refs[lang] = sids, ref
        for a, b in itertools.combinations(sorted(langs), 2):
            links, i = [], 0
            while i < n_sentences:
                la, lb = [ids[a][i]], [ids[b][i]]
                if i + 1 < n_sentences and (ids[a][i + 1] == ids[a][i] or ids[b][i + 1] == ids[b][i]):
                    la = sorted({ids[a][i], ids[a][i + 1]})
                    lb = sorted({ids[b][i], ids[b][i + 1]})
                    i += 1
                links.append((la, lb))
                i += 1
            groups.setdefault((a, b), []).append((refs[a], refs[b], links))
    for (a, b), pair_groups in groups.items():
        synthetic.write_release_links(layout, raw, pair_dir(a, b), pair_groups)
    return raw


def build(raw, out, langs=LANGS, **kw):
    kw.setdefault("valid", 0.2)
    kw.setdefault("test", 0.2)
    kw.setdefault("use", "uncapped")
    return corpus.build(kw.pop("corpus", "unpc"), raw, out, langs, **kw)


def read_tsv(path):
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def stat(out, metric, scope="all"):
    for row in read_tsv(out / "stats.tsv"):
        if row["metric"] == metric and row["scope"] == scope:
            return row["value"]
    return None


# --- documents -------------------------------------------------------------------


def test_normalise_space():
    assert normalise_space("  a\u3000 b\n\tc  ") == "a b c"
    assert normalise_space(" \n ") == ""


def test_sentences_reads_both_formats():
    tei = (b'<TEI.2><text><body><p id="1"><s id="1:1" lang="en">A &amp; B\n  said</s>'
           b'<s id="1:2" lang="en"/><s lang="en" id="1:3">C &lt;x&gt; &#233;</s></p></body></text></TEI.2>')
    assert sentences(tei) == {"1:1": "A & B said", "1:2": "", "1:3": "C <x> \u00e9"}
    opus = (b'<document id="7"><s id="1">\n <time id="T1S" value="00:00:01,000" />\nHello\n'
            b'there\n <time id="T1E" value="00:00:02,000" />\n</s><meta><source>x</source></meta></document>')
    assert sentences(opus) == {"1": "Hello there"}


def test_sentences_with_a_known_count_read_the_same():
    # the writer passes the count from the scan, which lets the common form be read cheaply;
    # documents with other forms (attributes first, inner tags, self-closing) fall back
    plain = b'<p id="1"><s id="1:1" lang="en">A  b</s><s id="1:2" lang="en">&amp; c</s></p>'
    mixed = (b'<p><s lang="en" id="1">first</s><s id="2"><time id="T1"/>two</s><s id="3"/>'
             b'<s id="4" lang="en">four</s></p>')
    for data in (plain, mixed):
        count = len(corpus_build.sentence_ids(data))
        assert sentences(data, count) == sentences(data)
    assert sentences(mixed, 4) == {"1": "first", "2": "two", "3": "", "4": "four"}


def test_sentences_normalise_every_kind_of_whitespace():
    rng = random.Random(3)
    spaces = [" ", "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u2003", "\u3000"]
    for _ in range(300):
        texts = ["".join(rng.choice(spaces + ["w", "\u062f", "\u2014", "x"]) for _ in range(rng.randint(0, 12)))
                 for _ in range(rng.randint(1, 6))]
        data = "<p>" + "".join(f'<s id="{k}">{t}</s>' for k, t in enumerate(texts)) + "</p>"
        assert sentences(data.encode("utf-8")) == {str(k): normalise_space(t) for k, t in enumerate(texts)}


def test_tei_writer_round_trip(tmp_path):
    paragraphs = [["First  one.", "Second <b> & 'q'"], ["Third\none."]]
    path = tmp_path / "en" / "2001" / "x.xml"
    ids = write_tei_document(path, "en", paragraphs, symbol="A/1", date="2001-01-01", title="t & t")
    assert ids == ["1:1", "1:2", "2:1"]
    assert read_document(path) == {"1:1": "First one.", "1:2": "Second <b> & 'q'", "2:1": "Third one."}


def test_opus_writer_round_trip(tmp_path):
    path = tmp_path / "fr" / "1999" / "123" / "456.xml"
    ids = write_opus_raw_document(path, "456", ["Bonjour  !", "Ça va ?", ""], meta={"source": "test"})
    assert ids == ["1", "2", "3"]
    assert read_document(path) == {"1": "Bonjour !", "2": "Ça va ?", "3": ""}


def test_malformed_document_is_reported(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text('<TEI.2><text><body><p id="1"><s id="1:1">cut off', encoding="utf-8")
    with pytest.raises(MalformedDocument, match="line 1"):
        read_document(path)


# --- links -------------------------------------------------------------------------


@pytest.mark.parametrize("style,name", [("opus", "en-fr.xml.gz"), ("tei", "en_fr.lnk")])
def test_link_writer_round_trip(tmp_path, style, name):
    groups = [("en/1.xml.gz", "fr/1.xml.gz", [(["1"], ["1"]), (["2", "3"], ["2"]), (["4"], [])]),
              ("fr/2.xml.gz", "en/2.xml.gz", [(["1:1"], ["1:1", "1:2"])])]
    write_link_file(tmp_path / name, groups, style=style)
    got = list(iter_link_groups(tmp_path / name))
    assert [(g.from_doc, g.to_doc, g.links) for g in got] == [
        (a, b, [(" ".join(x), " ".join(y)) for x, y in links]) for a, b, links in groups]
    assert corpus_links.ids(got[0].links[1][0]) == ["2", "3"]
    assert [g.bitext_links() for g in got] == [2, 1]


def test_link_groups_stream_across_chunk_boundaries(tmp_path, monkeypatch):
    groups = [(f"en/{i}.xml.gz", f"fr/{i}.xml.gz", [([str(k)], [str(k)]) for k in range(1, 1 + i % 5)]) for i in range(1, 60)]
    write_link_file(tmp_path / "en-fr.xml.gz", groups, style="opus")
    monkeypatch.setattr(corpus_links, "_CHUNK", 7)  # "<linkGrp" and groups straddle reads
    got = list(iter_link_groups(tmp_path / "en-fr.xml.gz"))
    assert [g.from_doc for g in got] == [g[0] for g in groups]
    assert all(isinstance(g, LinkGroup) for g in got)
    starts = list(itertools.accumulate([4] + [2 + i % 5 for i in range(1, 59)]))
    assert [g.line for g in got] == starts


BROKEN_GROUPS = [
    ('<linkGrp fromDoc="en/1.xml.gz" toDoc="fr/1.xml.gz"><link xtargets="1;1"></linkGrp>', "not well-formed"),
    ('<linkGrp fromDoc="en/1.xml.gz"><link xtargets="1;1"/></linkGrp>', "without fromDoc/toDoc"),
    ('<linkGrp fromDoc="en/1.xml.gz" toDoc="fr/1.xml.gz"><link id="SL1"/></linkGrp>', "without xtargets"),
    ('<linkGrp fromDoc="en/1.xml.gz" toDoc="fr/1.xml.gz"><link xtargets="1 2"/></linkGrp>', "is not 'ids;ids'"),
]


@pytest.mark.parametrize("broken,reason", BROKEN_GROUPS)
def test_broken_link_group_is_skipped_not_the_file(tmp_path, broken, reason):
    good = '<linkGrp fromDoc="en/{0}.xml.gz" toDoc="fr/{0}.xml.gz"><link xtargets="1;1"/></linkGrp>\n'
    path = tmp_path / "en-fr.xml"
    path.write_text("<cesAlign>\n" + good.format(1) + broken + "\n" + good.format(3) + "</cesAlign>\n", encoding="utf-8")
    got = list(iter_link_groups(path))
    assert [type(g) for g in got] == [LinkGroup, BadGroup, LinkGroup]
    assert reason in got[1].reason and got[1].line == 3


def test_truncated_link_file(tmp_path):
    path = tmp_path / "en-fr.xml.gz"
    path.write_bytes(gzip.compress(b'<cesAlign>\n<linkGrp fromDoc="en/1.xml.gz" toDoc="fr/1.xml.gz">\n<link xtargets="1;1"/>\n'))
    got = list(iter_link_groups(path))
    assert len(got) == 1 and isinstance(got[0], BadGroup) and "ends inside" in got[0].reason
    path.write_bytes(gzip.compress(b"<cesAlign>" + b"<linkGrp/>" * 1000)[:40])  # cut gzip stream
    got = list(iter_link_groups(path))
    assert isinstance(got[-1], BadGroup) and "cannot be read" in got[-1].reason


# --- building a corpus ---------------------------------------------------------------


def check_corpus_files(out: Path, langs, tagged=True):
    """All files there, bitexts line-aligned, documents separated by one empty line,
    whitespace normalised (tagged: every line starts with its language, as the
    hand-made sources have it)."""
    for path in corpus.output_files(out, langs):
        assert path.exists(), path
    for split in vocabulary.SPLITS:
        for a, b in vocabulary.language_pairs(langs):
            left = (out / split / f"bitext.{a}-{b}.{a}").read_text(encoding="utf-8").splitlines()
            right = (out / split / f"bitext.{a}-{b}.{b}").read_text(encoding="utf-8").splitlines()
            assert len(left) == len(right)
            assert all(line == normalise_space(line) and line for line in left + right)
            if tagged:
                assert all(l.startswith(a + " ") for l in left) and all(r.startswith(b + " ") for r in right)
        for lang in langs:
            content = (out / split / f"doc.{lang}.txt").read_text(encoding="utf-8")
            assert "\n\n\n" not in content and not content.startswith("\n") and not content.endswith("\n\n")
            for line in content.splitlines():
                assert line == "" or (line == normalise_space(line) and (not tagged or line.startswith(lang + " ")))


@pytest.mark.parametrize("layout", [UNPC, OPENSUBTITLES], ids=lambda l: l.corpus)
@pytest.mark.parametrize("unit", ["language_version", "document"])
def test_build_writes_a_consistent_corpus(tmp_path, layout, unit):
    docs = {d: sorted(set(LANGS[: 2 + d % 3]) | {LANGS[d % 4]}) for d in range(24)}
    raw = make_sources(tmp_path / "raw", layout, docs, merge={(1, "en"): 1, (2, "fr"): 0})
    out = tmp_path / "out"
    build(raw, out, corpus=layout.corpus, unit=unit, use="capped")
    check_corpus_files(out, LANGS)

    uncapped, capped = read_tsv(out / "allocation.uncapped.tsv"), read_tsv(out / "allocation.capped.tsv")
    assert capped and list(capped[0]) == list(corpus_build.ALLOCATION_COLUMNS)
    # no unit used twice
    if unit == "document":
        assert max(Counter(r["doc_id"] for r in uncapped).values()) == 1
    versions = Counter(s for r in uncapped for s in (r["source1"], r["source2"]))
    assert max(versions.values()) == 1
    # capped pairs have equal size, every pair of the study is there
    per_pair = Counter((r["lang1"], r["lang2"]) for r in capped)
    assert set(per_pair) == set(vocabulary.language_pairs(LANGS)) and len(set(per_pair.values())) == 1
    assert {tuple(r.values()) for r in capped} <= {tuple(r.values()) for r in uncapped}
    # splits are by document, and every allocated bitext was written with both sides
    assert all(len({r["split"] for r in uncapped if r["doc_id"] == d}) == 1 for d in {r["doc_id"] for r in uncapped})
    for split in vocabulary.SPLITS:
        for a, b in vocabulary.language_pairs(LANGS):
            rows = [r for r in capped if (r["lang1"], r["lang2"], r["split"]) == (a, b, split)]
            lines = (out / split / f"bitext.{a}-{b}.{a}").read_text(encoding="utf-8").splitlines()
            assert len(lines) == sum(int(r["sentences"]) for r in rows)
            assert int(stat(out, "bitexts", f"{split}/{a}-{b}") or 0) == len(rows)
    # both sides of each bitext feed the document corpora
    n_docs = sum(int(v) for k, v in ((r["scope"], r["value"]) for r in read_tsv(out / "stats.tsv") if r["metric"] == "documents_written"))
    assert n_docs == 2 * len(capped)
    # deterministic: a second build gives the same bytes
    build(raw, tmp_path / "again", corpus=layout.corpus, unit=unit, use="capped")
    for path in corpus.output_files(out, LANGS) + [out / "allocation.capped.tsv", out / "stats.tsv"]:
        assert path.read_bytes() == (tmp_path / "again" / path.relative_to(out)).read_bytes()


def test_merged_sentences_give_2_1_lines(tmp_path):
    raw = make_sources(tmp_path / "raw", UNPC, {0: ["en", "fr"]}, merge={(0, "en"): 1})
    build(raw, tmp_path / "out", langs=["en", "fr"], valid=0, test=0)
    en = (tmp_path / "out/train/bitext.en-fr.en").read_text(encoding="utf-8").splitlines()
    fr = (tmp_path / "out/train/bitext.en-fr.fr").read_text(encoding="utf-8").splitlines()
    assert len(en) == len(fr) == 3
    assert en[1] == f"{text(0, 'en', 1)} {text(0, 'en', 2)}"
    assert fr[1] == f"{text(0, 'fr', 1)} {text(0, 'fr', 2)}"
    assert (tmp_path / "out/train/doc.en.txt").read_text(encoding="utf-8").count("\n") == 3


def test_documents_are_separated_by_one_empty_line(tmp_path):
    raw = make_sources(tmp_path / "raw", UNPC, {0: ["en", "fr"], 1: ["en", "fr"]}, n_sentences=2)
    build(raw, tmp_path / "out", langs=["en", "fr"], valid=0, test=0)
    lines = (tmp_path / "out/train/doc.en.txt").read_text(encoding="utf-8").split("\n")
    assert lines == [text(0, "en", 0), text(0, "en", 1), "", text(1, "en", 0), text(1, "en", 1), ""]


def test_empty_sentences_and_whitespace_are_cleaned(tmp_path):
    raw = tmp_path / "raw"
    for lang, texts in (("en", ["  one\n two ", "   ", "three"]), ("fr", ["un deux", "", "trois\t"])):
        ref, rel = UNPC.ref(lang, "2001/x.xml")
        write_tei_document(raw / UNPC.docs_dir / rel, lang, [texts], symbol="x", date="2001", title="t")
    synthetic.write_release_links(
        UNPC, raw, ("en", "fr"),
        [("Xml/en/2001/x.xml", "Xml/fr/2001/x.xml", [(["1:1"], ["1:1"]), (["1:2"], ["1:2"]), (["1:3"], ["1:3", "1:9"])])])
    out = tmp_path / "out"
    build(raw, out, langs=["en", "fr"], valid=0, test=0, links={"max_dangling_share": 0.2})
    assert (out / "train/bitext.en-fr.en").read_text(encoding="utf-8") == "one two\nthree\n"
    assert (out / "train/bitext.en-fr.fr").read_text(encoding="utf-8") == "un deux\ntrois\n"
    assert (out / "train/doc.fr.txt").read_text(encoding="utf-8") == "un deux\ntrois\n"
    assert stat(out, "empty_sentences_dropped") == "2" and stat(out, "dangling_sentence_ids") == "1"


# --- xtargets: whose ids come first, decided from the data -------------------------------

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda".split()
MEANING = re.compile(r"\bm\d+\.\d+\b")


def meaning_text(lang, d, k):
    """Sentence k of document d in `lang`: tagged with its meaning, of a length that
    varies from sentence to sentence but is about the same in every language."""
    n = 1 + (d * 7919 + k * 104729) % 23 + LANGS.index(lang) % 2
    return f"{lang} m{d}.{k} " + " ".join(WORDS[(k + i) % len(WORDS)] for i in range(n))


def make_release_sources(raw: Path, layout, docs: dict[int, list[str]], first=None, n=8, shuffle=None):
    """Sources in the release layout with language-specific sentence ids: UNPC's
    paragraphs hold a different number of sentences in each language; an OPUS
    subtitle file starts with 0-3 sentences of its language only and ends with
    the rest of 3, so both readings of xtargets name existing sentences and only
    the lengths tell them apart. xtargets list `first`'s ids first (default: the
    release's order). `shuffle` (a random.Random) links the meanings of a pair in
    a random order (an alignment whose lengths do not correlate)."""
    groups = {}
    for d, langs in docs.items():
        refs, meaning_ids, extra_ids = {}, {}, {}
        for lang in langs:
            texts = [meaning_text(lang, d, k) for k in range(n)]
            li = LANGS.index(lang)
            if layout.style == "tei":
                sizes = [1 + (li + p) % 4 for p in range(n)]
                ref, rel = layout.ref(lang, f"2001/a/56/{d}.xml")
                ids = write_tei_document(raw / layout.docs_dir / rel, lang, paragraphs_of(texts, sizes),
                                         symbol=f"A/56/{d}", date="2001-01-01", title="test")
                meaning_ids[lang], extra_ids[lang] = ids, ([], [])
            else:
                lead = [f"{lang} only, before {k}" for k in range(li)]
                trail = [f"{lang} only, after {k}" for k in range(3 - li)]
                ref, rel = layout.ref(lang, f"2001/{5000 + d}/{900 + d * 10 + li}.xml")
                ids = write_opus_raw_document(raw / layout.docs_dir / rel, str(d), lead + texts + trail)
                meaning_ids[lang] = ids[li : li + n]
                extra_ids[lang] = (ids[:li], ids[li + n :])
            refs[lang] = ref
        for a, b in itertools.combinations(sorted(langs), 2):
            order = list(range(n))
            if shuffle is not None:
                shuffle.shuffle(order)
            links = [([x], []) for x in extra_ids[a][0]] + [([], [y]) for y in extra_ids[b][0]]
            links += [([meaning_ids[a][k]], [meaning_ids[b][j]]) for k, j in enumerate(order)]
            links += [([x], []) for x in extra_ids[a][1]] + [([], [y]) for y in extra_ids[b][1]]
            groups.setdefault((a, b), []).append((refs[a], refs[b], links))
    for (a, b), pair_groups in groups.items():
        synthetic.write_release_links(layout, raw, pair_dir(a, b), pair_groups, first=first)
    return raw


def check_aligned(out: Path, langs):
    """Every bitext line pair renders the same meanings; returns the lines seen."""
    lines = 0
    for split in vocabulary.SPLITS:
        for a, b in vocabulary.language_pairs(langs):
            left = (out / split / f"bitext.{a}-{b}.{a}").read_text(encoding="utf-8").splitlines()
            right = (out / split / f"bitext.{a}-{b}.{b}").read_text(encoding="utf-8").splitlines()
            assert len(left) == len(right)
            for x, y in zip(left, right):
                assert x.startswith(a + " ") and y.startswith(b + " ")
                assert MEANING.findall(x) == MEANING.findall(y), (split, a, b, x, y)
            lines += len(left)
    return lines


@pytest.mark.parametrize("layout", [UNPC, OPENSUBTITLES], ids=lambda l: l.corpus)
@pytest.mark.parametrize("first", ["fromDoc", "toDoc"])
def test_either_xtargets_order_builds_aligned_bitexts(tmp_path, layout, first):
    docs = {d: LANGS for d in range(6)}
    raw = make_release_sources(tmp_path / "raw", layout, docs, first=first)
    if layout is UNPC:  # the release layout: one directory per pair, some named out of order
        dirs = {p.name for p in (raw / UNPC.docs_dir / "links").iterdir()}
        assert "en_ar" in dirs and "ar_fr" in dirs and len(dirs) == 6
    out = tmp_path / "out"
    build(raw, out, corpus=layout.corpus, valid=0.2, test=0.2)
    allocated = read_tsv(out / "allocation.uncapped.tsv")
    assert check_aligned(out, LANGS) == sum(int(r["sentences"]) for r in allocated) == len(allocated) * 8 > 0
    report = read_tsv(out / CORPUS_LINKS)
    assert [r["pair"] for r in report] == ["-".join(p) for p in vocabulary.language_pairs(LANGS)]
    for row in report:
        assert row["reading"] == f"{first}_first"
        assert row["link_groups"] == "6" and row["clashing"] == "0" and row["groups_dropped"] == "0"
        # UNPC: the wrong reading names sentences that do not exist; OPUS: it names
        # existing ones, and only the lengths of linked sentences tell
        wrong = "toDoc" if first == "fromDoc" else "fromDoc"
        assert row[f"dangling_{first}_first"] == "0"
        if layout is UNPC:
            assert row["decided_by"] == "ids" and int(row[f"dangling_{wrong}_first"]) > 0
        else:
            assert row["decided_by"] == "lengths" and row[f"dangling_{wrong}_first"] == "0"
            assert float(row[f"correlation_{first}_first"]) > 0.9 > 0.3 > float(row[f"correlation_{wrong}_first"])


def test_link_file_that_fits_neither_reading_stops_the_build(tmp_path):
    raw = make_release_sources(tmp_path / "raw", UNPC, {d: ["en", "fr", "zh"] for d in range(6)})
    victims = sorted((raw / UNPC.docs_dir / "links" / "fr_en").rglob("*.lnk"))
    for victim in victims:  # ids that exist in neither document
        victim.write_text(re.sub(r'xtargets="[^"]*"', 'xtargets="7:1;7:2"', victim.read_text(encoding="utf-8")),
                          encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(corpus.CorpusError) as err:
        build(raw, out, langs=["en", "fr", "zh"])
    message = str(err.value)
    assert "\n" not in message and message.startswith("unpc: link file ")
    assert f"{victims[0]}:4 (pair en-fr)" in message and "fit neither reading" in message
    assert "fromDoc ids first: 12 of 12 sentence ids dangle (100.0%)" in message  # 2 distinct ids a group
    assert "corpus.links.max_dangling_share=1.0%" in message
    assert not out.exists()  # nothing written under the final names


def test_lengths_that_do_not_correlate_stop_the_build(tmp_path):
    raw = make_release_sources(tmp_path / "raw", OPENSUBTITLES, {d: ["en", "fr"] for d in range(8)},
                               shuffle=random.Random(5))
    out = tmp_path / "out"
    with pytest.raises(corpus.CorpusError) as err:
        build(raw, out, corpus="opensubtitles", langs=["en", "fr"])
    message = str(err.value)
    path = OPENSUBTITLES.link_file(raw, "en", "fr")
    assert "\n" not in message and message.startswith(f"opensubtitles: link file {path} (pair en-fr)")
    assert "fit both readings" in message and "do not correlate under either" in message
    assert "corpus.links.min_length_correlation=0.50" in message
    assert not out.exists()
    # a lower threshold (a setting) lets it through
    build(raw, out, corpus="opensubtitles", langs=["en", "fr"], links={"min_length_correlation": -1})
    assert read_tsv(out / CORPUS_LINKS)[0]["decided_by"] == "lengths"


def test_group_against_its_pairs_reading_is_skipped(tmp_path):
    docs = {d: ["en", "fr"] for d in range(30)}
    raw = make_release_sources(tmp_path / "raw", UNPC, docs)
    # one document's link file written the other way round
    make_release_sources(tmp_path / "other", UNPC, {7: ["en", "fr"]}, first="fromDoc")
    (odd,) = (tmp_path / "other" / UNPC.docs_dir / "links").rglob("*.lnk")
    target = raw / odd.relative_to(tmp_path / "other")
    shutil.copyfile(odd, target)
    out = tmp_path / "out"
    with pytest.raises(corpus.CorpusError, match="corpus.max_bad_share"):
        build(raw, out, langs=["en", "fr"])  # 1 of 30 groups is more than 1 %
    build(raw, out, langs=["en", "fr"], max_bad_share=0.05)
    (row,) = read_tsv(out / CORPUS_LINKS)
    assert row["reading"] == "toDoc_first" and row["groups_dropped"] == "1"
    (bad,) = [r for r in read_tsv(out / "stats.tsv") if r["metric"] == "bad_link_group"]
    assert bad["scope"] == f"{target}:4"
    assert "dangle with toDoc ids first, the reading of the pair en-fr" in bad["value"]
    assert check_aligned(out, ["en", "fr"]) == 29 * 8


def test_links_report_counts_clashes(tmp_path):
    raw = make_release_sources(tmp_path / "raw", UNPC, {d: ["en", "fr"] for d in range(4)})
    victim = UNPC.link_files(raw)[0]
    text = victim.read_text(encoding="utf-8")
    first_link = re.search(r'xtargets="([^";]*);([^";]*)"', text)
    # the same fr sentence linked a second time
    victim.write_text(text.replace("</linkGrp>", f'<link type="1-1" xtargets="{first_link.group(1)};" />\n</linkGrp>'),
                      encoding="utf-8")
    out = tmp_path / "out"
    build(raw, out, langs=["en", "fr"], valid=0, test=0)
    (row,) = read_tsv(out / CORPUS_LINKS)
    assert row["clashing"] == "1" and row["sentence_ids"] == str(4 * 16)


# --- bad input ------------------------------------------------------------------------


def corrupt_one_document(raw: Path, layout) -> Path:
    victim = sorted((raw / layout.docs_dir).rglob("*.xml"))[3]
    victim.write_text(victim.read_text(encoding="utf-8")[:-40], encoding="utf-8")
    return victim


def test_malformed_document_is_skipped_and_counted(tmp_path):
    raw = make_sources(tmp_path / "raw", UNPC, {d: LANGS for d in range(30)})
    victim = corrupt_one_document(raw, UNPC)
    out = tmp_path / "out"
    build(raw, out, max_bad_share=0.05)
    assert stat(out, "documents_bad") == "1" and stat(out, "documents") == "120"
    assert stat(out, "bad_document", str(victim)).startswith("not well-formed")
    sources = {s for r in read_tsv(out / "allocation.uncapped.tsv") for s in (r["source1"], r["source2"])}
    assert str(victim.relative_to(raw / UNPC.docs_dir)) not in sources


def test_missing_document_is_skipped_and_counted(tmp_path):
    raw = make_sources(tmp_path / "raw", OPENSUBTITLES, {d: LANGS for d in range(30)})
    victim = sorted((raw / OPENSUBTITLES.docs_dir).rglob("*.xml"))[0]
    victim.unlink()
    out = tmp_path / "out"
    build(raw, out, corpus="opensubtitles", max_bad_share=0.05)
    assert stat(out, "bad_document", str(victim)) == "missing"


def test_broken_link_group_is_skipped_and_counted(tmp_path):
    raw = make_sources(tmp_path / "raw", UNPC, {d: ["en", "fr"] for d in range(20)})
    link_file = UNPC.link_files(raw)[0]
    content = link_file.read_text(encoding="utf-8").replace('xtargets="1:2;1:2"', 'xtargets="1:2"', 1)
    link_file.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    build(raw, out, langs=["en", "fr"], max_bad_share=0.1)
    assert stat(out, "link_groups_bad") == "1" and stat(out, "link_groups") == "20"
    assert stat(out, "candidates") == "19"
    (bad,) = [r for r in read_tsv(out / "stats.tsv") if r["metric"] == "bad_link_group"]
    assert bad["scope"] == f"{link_file}:4" and "ids;ids" in bad["value"]


@pytest.mark.parametrize("what", ["document", "link group"])
def test_too_many_bad_inputs_fail_naming_the_file(tmp_path, what):
    raw = make_sources(tmp_path / "raw", UNPC, {d: ["en", "fr"] for d in range(10)})
    if what == "document":
        victim = corrupt_one_document(raw, UNPC)
        where = str(victim)
    else:
        victim = UNPC.link_files(raw)[0]
        victim.write_text(victim.read_text(encoding="utf-8").replace("</linkGrp>", "</linkgrp>"), encoding="utf-8")
        where = f"{victim}:4"
    out = tmp_path / "out"
    with pytest.raises(corpus.CorpusError) as err:
        build(raw, out, langs=["en", "fr"], max_bad_share=0.04)
    message = str(err.value)
    assert "\n" not in message and where in message and "corpus.max_bad_share=4.0%" in message
    assert not out.exists()  # nothing written, nothing half-written


def test_no_alignment_files_is_an_error(tmp_path):
    (tmp_path / "raw").mkdir()
    with pytest.raises(corpus.CorpusError, match="no alignment files"):
        build(tmp_path / "raw", tmp_path / "out")


def test_empty_capped_allocation_is_an_error(tmp_path):
    raw = make_sources(tmp_path / "raw", UNPC, {0: ["en", "fr"]})
    with pytest.raises(corpus.CorpusError, match="ar-en.*corpus.allocation.use=capped"):
        build(raw, tmp_path / "out", use="capped")


def test_other_languages_are_ignored(tmp_path):
    raw = make_sources(tmp_path / "raw", UNPC, {d: LANGS for d in range(6)})
    out = tmp_path / "out"
    build(raw, out, langs=["en", "fr"], valid=0, test=0)
    assert stat(out, "link_groups_other_languages") == "30" and stat(out, "candidates") == "6"
    assert sorted(p.name for p in (out / "train").iterdir()) == ["bitext.en-fr.en", "bitext.en-fr.fr", "doc.en.txt", "doc.fr.txt"]


def test_table6(tmp_path):
    raw = make_sources(tmp_path / "raw", UNPC, {d: ["en", "fr"] for d in range(10)})
    build(raw, tmp_path / "unpc", langs=["en", "fr"], valid=0.1, test=0.1)
    corpus.write_table6({"unpc": tmp_path / "unpc/stats.tsv"}, tmp_path / "table6.tsv")
    (row,) = read_tsv(tmp_path / "table6.tsv")
    # 10 documents x 2 languages x 4 sentences; one document each in valid and test
    assert row == {"corpus": "unpc", "train": "64", "valid": "8", "test": "8", "total": "80"}


# --- demo sources ----------------------------------------------------------------------


def test_align_segmentations():
    S = synthetic._Sentence
    a = [S("1", (0, 1)), S("2", (1, 3)), S("x", None), S("3", (3, 4))]
    b = [S("1", (0, 1)), S("2", (1, 2)), S("3", (2, 3)), S("4", (3, 4))]
    assert synthetic.align(a, b) == [(["1"], ["1"]), (["2"], ["2", "3"]), (["x"], []), (["3"], ["4"])]


# --- the Snakemake stage -----------------------------------------------------------------


def stage_config(tmp_path: Path, **corpus_cfg) -> tuple[Path, dict]:
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    cfg["results_dir"] = str(tmp_path / "results")
    cfg.setdefault("demo", {}).update(unpc_documents=60, opensubtitles_documents=60, sentences_per_document=[3, 6],
                                      language_coverage=0.5)
    cfg["corpus"].update(corpus_cfg)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path, cfg


def corpus_stage_targets(cfg):
    results = Path(cfg["results_dir"])
    targets = [results / "stats" / "table6.tsv"]
    for name in cfg["corpus"]["corpora"]:
        targets += [results / "corpus" / name / f"allocation.{k}.tsv" for k in ("capped", "uncapped")]
        targets += corpus.output_files(results / "corpus" / name, cfg["languages"])
    return targets


def test_snakemake_demo_corpus_stage_and_rerun_is_a_noop(tmp_path, snakemake):
    configfile, cfg = stage_config(tmp_path)
    targets = corpus_stage_targets(cfg)
    proc = snakemake(*targets, cores=2, configfile=configfile)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for target in targets:
        assert target.exists(), target
    results = Path(cfg["results_dir"])
    for name in cfg["corpus"]["corpora"]:
        check_corpus_files(results / "corpus" / name, cfg["languages"], tagged=False)
        assert (results / "corpus" / "raw" / name).is_dir()
        assert (results / "logs" / "corpus_build" / f"{name}.log").exists()
    rows = read_tsv(results / "stats" / "table6.tsv")
    assert [r["corpus"] for r in rows] == cfg["corpus"]["corpora"]
    assert all(int(r["train"]) > 0 and int(r["total"]) == int(r["train"]) + int(r["valid"]) + int(r["test"]) for r in rows)
    rerun = snakemake(*targets, "-n", cores=2, configfile=configfile)
    assert rerun.returncode == 0 and "Nothing to be done" in rerun.stdout + rerun.stderr, rerun.stdout


def _tar_gz(root: Path, member: str, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(root / member, arcname=member)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _serve_real_release(http_server, tmp_path: Path, langs) -> dict:
    """Sources packed and served (127.0.0.1) as the real releases are: UNPC's TEI
    tarball per language in two parts plus the separate links tarball, OPUS raw
    zips and gzipped alignment files. Returns corpus.real for the config."""
    docs = {d: langs for d in range(8)}
    unpc_raw = make_release_sources(tmp_path / "src-unpc", UNPC, docs)
    for lang in langs:
        data = _tar_gz(unpc_raw, f"{UNPC.docs_dir}/{lang}")
        http_server.serve(f"/unpc/UNv1.0-TEI.{lang}.tar.gz.00", data[: len(data) // 2])
        http_server.serve(f"/unpc/UNv1.0-TEI.{lang}.tar.gz.01", data[len(data) // 2 :])
    links = _tar_gz(unpc_raw, f"{UNPC.docs_dir}/links", {f"{UNPC.docs_dir}/links/README": b"UN corpus links\n"})
    http_server.serve("/unpc/UNv1.0-TEI.links.tar.gz", links)
    os_raw = make_release_sources(tmp_path / "src-os", OPENSUBTITLES, docs)
    for lang in langs:
        code = OPENSUBTITLES.code(lang)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in sorted((os_raw / OPENSUBTITLES.docs_dir / code).rglob("*.xml")):
                archive.write(path, path.relative_to(os_raw).as_posix())
        http_server.serve(f"/os/raw/{code}.zip", buffer.getvalue())
    for path in (os_raw / "xml").iterdir():
        http_server.serve(f"/os/xml/{path.name}", path.read_bytes())
    return {
        "unpc": {"base_url": http_server.url("/unpc"),
                 "archives": {lang: [f"UNv{{version}}-TEI.{lang}.tar.gz.0{k}" for k in (0, 1)] for lang in langs}},
        "opensubtitles": {"base_url": http_server.url("/os")},
    }


def test_snakemake_real_sources_download_unpack_and_build(http_server, tmp_path, snakemake):
    langs = ["en", "fr", "zh"]
    configfile, cfg = stage_config(tmp_path, source="real")
    cfg["languages"] = langs
    cfg["corpus"]["allocation"]["use"] = "uncapped"
    cfg["corpus"]["real"] = _serve_real_release(http_server, tmp_path, langs)
    configfile.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    validated = lmvsmt_config.validate(copy.deepcopy(cfg))
    names = real.downloads(validated, "opensubtitles")
    assert sorted(names) == ["en-fr.xml.gz", "en-zh_cn.xml.gz", "en.zip", "fr-zh_cn.xml.gz", "fr.zip", "zh_cn.zip"]
    assert names["zh_cn.zip"] == (http_server.url("/os/raw/zh_cn.zip"), "corpus.real.opensubtitles.documents")
    names = real.downloads(validated, "unpc")
    assert names["UNv1.0-TEI.links.tar.gz"] == (http_server.url("/unpc/UNv1.0-TEI.links.tar.gz"), "corpus.real.unpc.links")
    targets = corpus_stage_targets(cfg)
    proc = snakemake(*targets, cores=2, configfile=configfile)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = Path(cfg["results_dir"])
    lock = (results / "downloads.lock").read_text(encoding="utf-8")
    assert "UNv1.0-TEI.links.tar.gz" in lock and len(http_server.hits("/unpc/UNv1.0-TEI.links.tar.gz")) == 1
    assert (results / "corpus/raw/unpc/UNv1.0-TEI/links/fr_en").is_dir()  # as the release names it
    for name, reading, decided_by in (("unpc", "toDoc", "ids"), ("opensubtitles", "fromDoc", "lengths")):
        out = results / "corpus" / name
        rows = read_tsv(out / "allocation.uncapped.tsv")
        assert check_aligned(out, langs) == sum(int(r["sentences"]) for r in rows) > 0
        report = read_tsv(out / CORPUS_LINKS)
        assert [(r["pair"], r["reading"], r["decided_by"]) for r in report] == [
            (f"{a}-{b}", f"{reading}_first", decided_by) for a, b in vocabulary.language_pairs(langs)]
        log = (results / "logs" / "corpus_build" / f"{name}.log").read_text(encoding="utf-8")
        assert f"{name}: xtargets en-fr: {reading} ids first (decided by" in log


def test_paper_dry_run_downloads_the_links_archive(snakemake):
    proc = snakemake("results/corpus/raw/unpc", "-n", configfile="config/paper.yaml", profile=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    downloads = set(re.findall(r"results/corpus/download/unpc/(\S+)", proc.stdout))
    assert "UNv1.0-TEI.links.tar.gz" in downloads and "UNv1.0-TEI.zh.tar.gz.00" in downloads


def test_failed_rebuild_keeps_the_previous_outputs(tmp_path):
    raw = make_sources(tmp_path / "raw", UNPC, {d: ["en", "fr"] for d in range(10)})
    out = tmp_path / "out"
    build(raw, out, langs=["en", "fr"], max_bad_share=0.04)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    corrupt_one_document(raw, UNPC)
    with pytest.raises(corpus.CorpusError):
        build(raw, out, langs=["en", "fr"], max_bad_share=0.04)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("name", ["unpc", "opensubtitles"])
def test_demo_sources_have_real_choices(tmp_path, name):
    demo = {"seed": 3, "vocab_scale": 1.0, f"{name}_documents": 40, "sentences_per_document": [4, 8],
            "language_coverage": 0.4}
    raw = tmp_path / name
    counts = synthetic.write_demo_sources(name, raw, LANGS, demo)
    layout = corpus_build.LAYOUTS[name]
    groups = [g for path in layout.link_files(raw) for g in iter_link_groups(path)]
    assert all(isinstance(g, LinkGroup) for g in groups) and len(groups) == counts["link_groups"]
    shapes = Counter((len(a.split()), len(b.split())) for g in groups for a, b in g.links)
    assert shapes[(1, 1)] > shapes[(2, 1)] + shapes[(1, 2)] > 0 and shapes[(1, 0)] + shapes[(0, 1)] > 0
    languages_of = {}
    for g in groups:
        for ref in (g.from_doc, g.to_doc):
            source = layout.source(ref)
            languages_of.setdefault(layout.document_of(source), set()).add(layout.lang_of(source))
    sizes = Counter(len(v) for v in languages_of.values())
    assert len(languages_of) == 40 and sizes[2] > 0 and sum(sizes.values()) > sizes[2]
    # the release format is what the real parser reads, and the build accepts it
    out = tmp_path / "out"
    corpus.build(name, raw, out, LANGS, valid=0.1, test=0.1, use="uncapped")
    assert stat(out, "documents_bad") == "0" and stat(out, "link_groups_bad") == "0"
    check_corpus_files(out, LANGS, tagged=False)
    # each pair's xtargets read the release's way, told by the ids alone
    report = read_tsv(out / CORPUS_LINKS)
    assert len(report) == len(vocabulary.language_pairs(LANGS)) == 6
    assert {(r["reading"], r["decided_by"]) for r in report} == {(f"{layout.xtargets_first}_first", "ids")}
    assert all(r[f"dangling_{layout.xtargets_first}_first"] == "0" for r in report)
    if name == "unpc":  # the release layout: links/{s}_{t}/ per pair, not all alphabetical; ids differ by language
        dirs = [p.name.split("_") for p in (raw / layout.docs_dir / "links").iterdir()]
        assert len(dirs) == 6 and 0 < sum(a > b for a, b in dirs) < 6
        assert sum(a != b for g in groups for a, b in g.links if a and b) > len(groups)
    if name == "opensubtitles":  # some films have two subtitle files in one language
        versions = Counter(p.parent for p in (raw / layout.docs_dir).rglob("*.xml"))  # per language and film
        assert max(versions.values()) == 2
    # deterministic: the same seed writes the same bytes
    synthetic.write_demo_sources(name, tmp_path / "again", LANGS, demo)
    for path in sorted(p for p in raw.rglob("*") if p.is_file()):
        assert path.read_bytes() == (tmp_path / "again" / path.relative_to(raw)).read_bytes()
