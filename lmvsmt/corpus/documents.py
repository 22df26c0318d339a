"""Sentence-segmented XML documents: the UN TEI files of UNPC v1.0 and the raw
(untokenised) subtitle files of OpenSubtitles v2018 on OPUS. Both mark sentences
as `<s id="...">text</s>`; TEI puts them in `<p id>` paragraphs with ids "p:s",
OPUS raw puts `<time/>` stamps inside the sentence. Readers and writers for both.
"""
from __future__ import annotations

import gzip
import html
import re
import xml.parsers.expat
from pathlib import Path
from typing import Iterable, Sequence
from xml.sax.saxutils import escape, quoteattr

from lmvsmt.errors import LmvsmtError


class MalformedDocument(LmvsmtError, ValueError):
    """A document that is not well-formed XML, or cannot be read."""


def normalise_space(text: str) -> str:
    """Collapse every run of (Unicode) whitespace to one space and strip the ends."""
    return " ".join(text.split())


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a file, gunzipped when its name ends in .gz."""
    if str(path).endswith(".gz"):
        with gzip.open(path, "rb") as fh:
            return fh.read()
    with open(path, "rb", buffering=0) as fh:  # one read of the whole file, no buffer to fill
        return fh.readall()


def check_well_formed(data: bytes) -> None:
    """Raise MalformedDocument unless `data` is well-formed XML (expat, no handlers:
    the whole check runs in C, so validating a corpus costs little)."""
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise MalformedDocument(str(exc)) from None


# Sentence elements of a document already checked by check_well_formed: the
# regular expression only has to find them, not to validate XML, and is several
# times faster than expat callbacks in Python. The text is matched as runs of
# non-"<" with inner tags (OPUS <time/>) in between, which avoids the slow
# character-by-character lazy match. Self-closing <s/> is an empty sentence.
_SENTENCE_START = r'<s\b[^>]*?\bid="([^"]*)"'
_SENTENCE = re.compile(_SENTENCE_START + r'[^>]*?(?:/>|>([^<]*(?:<(?!/s>)[^<]*)*)</s>)')
_SENTENCE_ID = re.compile(_SENTENCE_START.encode())
# The common form (id first, text without inner tags; every UN document), about
# twice as fast; used when it finds as many sentences as the document has.
_PLAIN_SENTENCE = re.compile(r'<s id="([^"]*)"[^>]*>([^<]*)</s>')
_TAG = re.compile(r"<[^>]*>")


# Whitespace that str.split() knows besides " ": ASCII controls, deleted by
# bytes.translate, and the UTF-8 forms of Unicode spaces (a prefix for
# U+2000-U+202F, which also matches some punctuation: then we just normalise).
_ASCII_SPACE = bytes(c for c in range(0x80) if chr(c).isspace() and c != 0x20)
_UTF8_SPACE = (b"\xc2\x85", b"\xc2\xa0", b"\xe1\x9a\x80", b"\xe2\x80", b"\xe2\x81\x9f", b"\xe3\x80\x80")


def _normalised(texts: list[str], joined: str) -> bool:
    """Whether the texts (also given NUL-joined) are all whitespace-normalised
    already: a few scans in C, much cheaper than splitting and joining every
    sentence. str.strip returns the very same object when there is nothing to
    strip, so the list comparison is one identity test per text."""
    if list(map(str.strip, texts)) != texts:
        return False
    data = joined.encode("utf-8")
    if b"  " in data or len(data.translate(None, _ASCII_SPACE)) != len(data):
        return False
    return joined.isascii() or not any(seq in data for seq in _UTF8_SPACE)


def sentences(data: bytes, count: int = -1) -> dict[str, str]:
    """Sentence id -> whitespace-normalised text, for every <s> of a well-formed
    document, in document order. Inner tags (OPUS <time/>) are dropped, entities
    decoded; empty sentences are kept here (callers drop them). `count`, when
    known, is how many sentences the document has (len(sentence_ids(data)))."""
    text = data.decode("utf-8")
    found = _PLAIN_SENTENCE.findall(text) if count >= 0 else None
    if found is None or len(found) != count:  # each plain match is one whole <s>: all found or not
        found = _SENTENCE.findall(text)
    # Tests on all texts at once (substring searches run in C) decide whether any
    # sentence needs the slow path: UN documents usually need nothing at all.
    texts = [s for _, s in found]
    joined = "\0".join(texts)
    if "<" not in joined and "&" not in joined:
        if _normalised(texts, joined):
            return dict(found)
        return {sid: " ".join(s.split()) for sid, s in found}
    out = {}
    for sid, s in found:
        if "<" in s:
            s = _TAG.sub("", s)
        if "&" in s:
            s = html.unescape(s)
        out[sid] = " ".join(s.split())
    return out


def sentence_ids(data: bytes) -> list[str]:
    """The ids of the sentences that `sentences` reads, in document order, without
    their text (a few times cheaper: enough to check the ids that link files name)."""
    return list(map(bytes.decode, _SENTENCE_ID.findall(data)))


def read_document(path: Path) -> dict[str, str]:
    """Check and read one document file; MalformedDocument names the problem."""
    try:
        data = read_bytes(path)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise MalformedDocument(f"cannot be read: {exc}") from None
    check_well_formed(data)
    return sentences(data)


# --- writers -------------------------------------------------------------------

_XML_DECL = '<?xml version="1.0" encoding="utf-8"?>\n'


def write_tei_document(
    path: Path,
    lang: str,
    paragraphs: Sequence[Sequence[str]],
    *,
    symbol: str,
    date: str,
    title: str,
) -> list[str]:
    """Write a UN-style TEI document (UNPC v1.0): a header with the document symbol
    and date, then `<p id="p"><s id="p:s" lang="..">` elements. Returns the
    sentence ids in document order."""
    ids: list[str] = []
    parts = [
        _XML_DECL,
        "<TEI.2>\n <teiHeader>\n  <fileDesc>\n",
        f"   <titleStmt><title>{escape(title)}</title></titleStmt>\n",
        "   <publicationStmt>\n",
        f"    <date>{escape(date)}</date>\n",
        f'    <idno type="symbol">{escape(symbol)}</idno>\n',
        "   </publicationStmt>\n  </fileDesc>\n </teiHeader>\n <text>\n  <body>\n",
    ]
    for p, paragraph in enumerate(paragraphs, start=1):
        parts.append(f'   <p id="{p}">\n')
        for s, text in enumerate(paragraph, start=1):
            sid = f"{p}:{s}"
            ids.append(sid)
            parts.append(f'    <s id="{sid}" lang="{lang}">{escape(text)}</s>\n')
        parts.append("   </p>\n")
    parts.append("  </body>\n </text>\n</TEI.2>\n")
    _write_text(path, "".join(parts))
    return ids


def _timestamp(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def write_opus_raw_document(
    path: Path,
    document_id: str,
    lines: Sequence[str],
    *,
    seconds_per_sentence: float = 2.5,
    meta: dict[str, str] | None = None,
) -> list[str]:
    """Write an OPUS raw subtitle document (OpenSubtitles v2018): `<document id>`
    with `<s id="n">` sentences, each framed by start/end `<time>` stamps and with
    the text on its own lines, then a `<meta>` block. Returns the sentence ids."""
    ids: list[str] = []
    parts = [_XML_DECL, f"<document id={quoteattr(document_id)}>\n"]
    for n, text in enumerate(lines, start=1):
        sid = str(n)
        ids.append(sid)
        start = 1.0 + (n - 1) * seconds_per_sentence
        parts.append(
            f'  <s id="{sid}">\n'
            f'    <time id="T{n}S" value="{_timestamp(start)}" />\n'
            f"{escape(text)}\n"
            f'    <time id="T{n}E" value="{_timestamp(start + seconds_per_sentence * 0.8)}" />\n'
            "  </s>\n"
        )
    if meta:
        parts.append("  <meta>\n")
        parts.extend(f"    <{key}>{escape(value)}</{key}>\n" for key, value in meta.items())
        parts.append("  </meta>\n")
    parts.append("</document>\n")
    _write_text(path, "".join(parts))
    return ids


def _write_text(path: Path, text: str) -> None:
    # Source trees are written into a temporary directory that is renamed into
    # place when complete (see synthetic.py), so single files need no fsync here.
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=1, mtime=0)
    path.write_bytes(data)


def paragraphs_of(texts: Iterable[str], sizes: Iterable[int]) -> list[list[str]]:
    """Cut a flat list of sentences into paragraphs of the given sizes (the last
    paragraph takes what is left)."""
    texts = list(texts)
    out, i = [], 0
    for size in sizes:
        if i >= len(texts):
            break
        out.append(texts[i : i + size])
        i += size
    if i < len(texts):
        out.append(texts[i:])
    return out
