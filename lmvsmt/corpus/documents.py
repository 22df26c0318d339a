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


class MalformedDocument(ValueError):
    """A document that is not well-formed XML, or cannot be read."""


def normalise_space(text: str) -> str:
    """Collapse every run of (Unicode) whitespace to one space and strip the ends."""
    return " ".join(text.split())


def read_bytes(path: Path) -> bytes:
    """The bytes of a file, gunzipped when its name ends in .gz."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as fh:
            return fh.read()
    return path.read_bytes()


def check_well_formed(data: bytes) -> None:
    """Raise MalformedDocument unless `data` is well-formed XML (expat, no handlers:
    the whole check runs in C, so validating a corpus costs little)."""
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise MalformedDocument(str(exc)) from None


# Sentence elements of a document already checked by check_well_formed: the
# regular expression only has to find them, not to validate XML, and is about
# twice as fast as expat callbacks in Python. Self-closing <s/> is an empty sentence.
_SENTENCE = re.compile(r'<s\b[^>]*?\bid="([^"]*)"[^>]*?(?:/>|>(.*?)</s>)', re.S)
_TAG = re.compile(r"<[^>]*>")


def sentences(data: bytes) -> dict[str, str]:
    """Sentence id -> whitespace-normalised text, for every <s> of a well-formed
    document, in document order. Inner tags (OPUS <time/>) are dropped, entities
    decoded; empty sentences are kept here (callers drop them)."""
    out = {}
    for sid, text in _SENTENCE.findall(data.decode("utf-8")):
        if "<" in text:
            text = _TAG.sub("", text)
        if "&" in text:
            text = html.unescape(text)
        out[sid] = " ".join(text.split())
    return out


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
