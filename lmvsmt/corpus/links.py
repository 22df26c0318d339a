"""Sentence links between two documents: the cesAlign XML used by OPUS alignment
files (OpenSubtitles v2018 `xml/{l1}-{l2}.xml.gz`) and by the UNPC v1.0 link
files (`links/{s}_{t}/*.lnk`). A file holds `<linkGrp fromDoc=".." toDoc="..">`
groups of `<link xtargets="1 2;3"/>`: the sentence ids of one document, a
semicolon, those of the other (either side may be empty: a 1-0 link).

Which document the first half belongs to is not the same in every release: OPUS
lists the fromDoc ids first, the UNPC link files the toDoc ids (see formats.py).
The reader keeps the two halves as written; lmvsmt.corpus.xtargets decides from
the data which reading a corpus's language pair follows.

The reader streams a file group by group and parses each group on its own, so a
malformed group is reported and skipped without losing the rest of the file, and
memory holds one group at a time whatever the file size.
"""
from __future__ import annotations

import gzip
import itertools
import re
import xml.parsers.expat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence, Union
from xml.sax.saxutils import quoteattr

_CHUNK = 1 << 16  # below malloc's mmap threshold: a larger read buffer costs an mmap per small file
_OPEN, _CLOSE = b"<linkGrp", b"</linkGrp>"
_GROUP_ATTRS = re.compile(r'\b(fromDoc|toDoc)\s*=\s*"([^"]*)"')
_LINK_TAG = re.compile(r"<link\b([^>]*)>")
_XTARGET = re.compile(r'\bxtargets\s*=\s*"([^"]*)"')
_LINK = re.compile(r'xtargets="([^";]*);([^";]*)"')  # literal prefix: the fast scan
_OTHER_SPACE = "".join(c for c in map(chr, range(128)) if c.isspace() and c != " ")  # ASCII whitespace but " "

# Whose sentence ids the first half of xtargets lists.
FROM_DOC, TO_DOC = "fromDoc", "toDoc"
READINGS = (FROM_DOC, TO_DOC)


@dataclass
class LinkGroup:
    """One parsed <linkGrp>: the two documents and their links in file order, each
    link as the two halves of its xtargets as written (space-separated sentence
    ids, "" for none), split only when a link is used."""

    from_doc: str
    to_doc: str
    links: list[tuple[str, str]]
    line: int

    def bitext_links(self) -> int:
        """Links with sentences on both sides (what can become a bitext line)."""
        return sum(map(all, self.links))  # all((a, b)): both halves name ids


@dataclass
class BadGroup:
    """A <linkGrp> that could not be used, with the reason and its line."""

    reason: str
    line: int


Group = Union[LinkGroup, BadGroup]


def _open_binary(path: Path) -> IO[bytes]:
    # plain files unbuffered: the reader asks for large chunks anyway
    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb", buffering=0)


def iter_link_groups(
    path: Path, validate: bool = True, select: Callable[[str, str], bool] | None = None
) -> Iterator[Group]:
    """Stream the link groups of one alignment file, in order. Unreadable or
    malformed groups come out as BadGroup; a file cut off inside a group ends
    with one BadGroup. With `select`, only groups for which select(fromDoc,
    toDoc) is true are parsed beyond their opening tag and yielded."""
    try:
        yield from _iter_groups(path, validate, select)
    except (OSError, EOFError) as exc:  # unreadable file or truncated gzip stream
        yield BadGroup(f"cannot be read: {exc}", 0)


def _iter_groups(path: Path, validate: bool, select) -> Iterator[Group]:
    # buf[pos:] is unread; `line` is the line number at pos. The buffer is only
    # copied when a read appends to it, never once per group.
    line, pos, buf, eof = 1, 0, b"", False
    with _open_binary(path) as fh:
        while True:
            start = buf.find(_OPEN, pos)
            end = buf.find(_CLOSE, start) if start >= 0 else -1
            if start >= 0:
                tag_end = buf.find(b">", start)
                if tag_end >= 0 and buf[tag_end - 1] == 0x2F and (end < 0 or tag_end < end):  # "/"
                    # <linkGrp .../>: a group without links, nothing to align
                    line += buf.count(b"\n", pos, tag_end)
                    pos = tag_end + 1
                    continue
            if start < 0 or end < 0:
                if eof:
                    if start >= 0:
                        yield BadGroup("file ends inside <linkGrp>", line + buf.count(b"\n", pos, start))
                    return
                # keep the unread part (a "<linkGrp" may straddle two reads)
                keep = start if start >= 0 else max(pos, len(buf) - len(_OPEN))
                line += buf.count(b"\n", pos, keep)
                chunk = fh.read(_CHUNK)
                eof = not chunk
                buf, pos = buf[keep:] + chunk, 0
                continue
            end += len(_CLOSE)
            group_line = line + buf.count(b"\n", pos, start)
            group = parse_group(buf[start:end], group_line, validate, select)
            if group is not None:
                yield group
            line = group_line + buf.count(b"\n", start, end)
            pos = end


def parse_group(block: bytes, line: int = 0, validate: bool = True, select=None) -> Group | None:
    """Parse one `<linkGrp ...>...</linkGrp>` block (validate=False skips the
    well-formedness check for a block already validated by an earlier pass;
    None when `select` rejects its documents)."""
    if validate:
        try:
            xml.parsers.expat.ParserCreate().Parse(block, True)
        except xml.parsers.expat.ExpatError as exc:
            return BadGroup(f"not well-formed XML ({exc})", line)
    text = block.decode("utf-8")
    head = text[: text.find(">") + 1]
    attrs = dict(_GROUP_ATTRS.findall(head))
    if "fromDoc" not in attrs or "toDoc" not in attrs:
        return BadGroup("<linkGrp> without fromDoc/toDoc", line)
    if select is not None and not select(attrs["fromDoc"], attrs["toDoc"]):
        return None
    # One regular expression pass finds every xtargets written as the releases
    # write them; when it finds fewer than there are links, parse link by link.
    links = _LINK.findall(text, len(head))
    loose = len(links) != text.count("<link") - 1  # every <link, less the <linkGrp
    if loose:
        links = []
        for link_attrs in _LINK_TAG.findall(text, len(head)):
            found = _XTARGET.search(link_attrs)
            if found is None:
                return BadGroup("<link> without xtargets", line)
            sides = found.group(1).split(";")
            if len(sides) != 2:
                return BadGroup(f"xtargets {found.group(1)!r} is not 'ids;ids'", line)
            links.append((sides[0], sides[1]))
    # cheap substring tests (in C) on the ids alone for stray whitespace, which is rare
    flat = "\0".join(itertools.chain.from_iterable(links))
    if (loose or "  " in flat or " \0" in flat or "\0 " in flat or flat[:1] == " " or flat[-1:] == " "
            or not flat.isascii() or any(c in flat for c in _OTHER_SPACE)):
        links = [(" ".join(a.split()), " ".join(b.split())) for a, b in links]
    return LinkGroup(attrs["fromDoc"], attrs["toDoc"], links, line)


def xtargets(from_ids: Sequence[str], to_ids: Sequence[str]) -> str:
    return f"{' '.join(from_ids)};{' '.join(to_ids)}"


def ids(side: str) -> list[str]:
    """The sentence ids of one side of a link."""
    return side.split()


def write_link_file(
    path: Path,
    groups: Sequence[tuple[str, str, Sequence[tuple[Sequence[str], Sequence[str]]]]],
    *,
    style: str,
    first: str = FROM_DOC,
) -> None:
    """Write a cesAlign file of (fromDoc, toDoc, links) groups, each link given as
    (fromDoc ids, toDoc ids); `first` says whose ids xtargets lists first. style
    "opus" numbers the links (id="SL1", as OPUS does), style "tei" gives their
    type ("2-1", as the UNPC link files do). Gzipped when the name ends in .gz."""
    if first not in READINGS:
        raise ValueError(f"first must be one of {READINGS}, not {first!r}")
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        '<!DOCTYPE cesAlign PUBLIC "-//CES//DTD XML cesAlign//EN" "">\n',
        '<cesAlign version="1.0">\n',
    ]
    for from_doc, to_doc, links in groups:
        parts.append(f'<linkGrp targType="s" fromDoc={quoteattr(from_doc)} toDoc={quoteattr(to_doc)}>\n')
        for n, (a, b) in enumerate(links, start=1):
            if first == TO_DOC:
                a, b = b, a
            if style == "opus":
                parts.append(f'<link id="SL{n}" xtargets="{xtargets(a, b)}" />\n')
            else:
                parts.append(f'<link type="{len(a)}-{len(b)}" xtargets="{xtargets(a, b)}" />\n')
        parts.append("</linkGrp>\n")
    parts.append("</cesAlign>\n")
    data = "".join(parts).encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=1, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
