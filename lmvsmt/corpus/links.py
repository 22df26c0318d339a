"""Sentence links between two documents: the cesAlign XML used by OPUS alignment
files (OpenSubtitles v2018 `xml/{l1}-{l2}.xml.gz`) and by the UNPC v1.0 link
files (`*.lnk`). A file holds `<linkGrp fromDoc=".." toDoc="..">` groups of
`<link xtargets="1 2;3"/>`: the sentence ids of the fromDoc side, a semicolon,
those of the toDoc side (either side may be empty: a 1-0 link).

The reader streams a file group by group and parses each group on its own, so a
malformed group is reported and skipped without losing the rest of the file, and
memory holds one group at a time whatever the file size.
"""
from __future__ import annotations

import gzip
import re
import xml.parsers.expat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Sequence, Union
from xml.sax.saxutils import quoteattr

_CHUNK = 1 << 20
_OPEN, _CLOSE = b"<linkGrp", b"</linkGrp>"
_GROUP_ATTRS = re.compile(rb'\b(fromDoc|toDoc)\s*=\s*"([^"]*)"')
_XTARGETS = re.compile(rb'<link\b([^>]*)>')
_XTARGET = re.compile(rb'\bxtargets\s*=\s*"([^"]*)"')


@dataclass
class LinkGroup:
    """One parsed <linkGrp>: the two documents and their links, in file order."""

    from_doc: str
    to_doc: str
    links: list[tuple[list[str], list[str]]]
    line: int

    def bitext_links(self) -> int:
        """Links with sentences on both sides (what can become a bitext line)."""
        return sum(1 for a, b in self.links if a and b)


@dataclass
class BadGroup:
    """A <linkGrp> that could not be used, with the reason and its line."""

    reason: str
    line: int


Group = Union[LinkGroup, BadGroup]


def _open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def iter_link_groups(path: Path) -> Iterator[Group]:
    """Stream the link groups of one alignment file, in order. Unreadable or
    malformed groups come out as BadGroup; a file cut off inside a group ends
    with one BadGroup."""
    try:
        yield from _iter_groups(path)
    except (OSError, EOFError) as exc:  # unreadable file or truncated gzip stream
        yield BadGroup(f"cannot be read: {exc}", 0)


def _iter_groups(path: Path) -> Iterator[Group]:
    line = 1
    buf = b""
    with _open_binary(path) as fh:
        eof = False
        while True:
            start = buf.find(_OPEN)
            if start < 0:
                if eof:
                    return
                # keep a tail in case "<linkGrp" straddles two chunks
                line += buf.count(b"\n", 0, max(0, len(buf) - len(_OPEN)))
                buf = buf[max(0, len(buf) - len(_OPEN)):]
                chunk = fh.read(_CHUNK)
                eof = not chunk
                buf += chunk
                continue
            tag_end = buf.find(b">", start)
            end = buf.find(_CLOSE, start)
            if tag_end >= 0 and buf[tag_end - 1 : tag_end] == b"/" and (end < 0 or tag_end < end):
                # <linkGrp .../>: a group without links, nothing to align
                line += buf.count(b"\n", 0, tag_end)
                buf = buf[tag_end + 1 :]
                continue
            if end < 0:
                if eof:
                    yield BadGroup("file ends inside <linkGrp>", line + buf.count(b"\n", 0, start))
                    return
                chunk = fh.read(_CHUNK)
                eof = not chunk
                buf += chunk
                continue
            end += len(_CLOSE)
            group_line = line + buf.count(b"\n", 0, start)
            yield parse_group(buf[start:end], group_line)
            line = group_line + buf.count(b"\n", start, end)
            buf = buf[end:]


def parse_group(block: bytes, line: int = 0) -> Group:
    """Parse one `<linkGrp ...>...</linkGrp>` block."""
    try:
        xml.parsers.expat.ParserCreate().Parse(block, True)
    except xml.parsers.expat.ExpatError as exc:
        return BadGroup(f"not well-formed XML ({exc})", line)
    head = block[: block.find(b">") + 1]
    attrs = {k.decode(): v.decode("utf-8") for k, v in _GROUP_ATTRS.findall(head)}
    if "fromDoc" not in attrs or "toDoc" not in attrs:
        return BadGroup("<linkGrp> without fromDoc/toDoc", line)
    links = []
    for link_attrs in _XTARGETS.findall(block, len(head)):
        found = _XTARGET.search(link_attrs)
        if found is None:
            return BadGroup("<link> without xtargets", line)
        sides = found.group(1).decode("utf-8").split(";")
        if len(sides) != 2:
            return BadGroup(f"xtargets {found.group(1).decode()!r} is not 'ids;ids'", line)
        links.append((sides[0].split(), sides[1].split()))
    return LinkGroup(attrs["fromDoc"], attrs["toDoc"], links, line)


def xtargets(from_ids: Sequence[str], to_ids: Sequence[str]) -> str:
    return f"{' '.join(from_ids)};{' '.join(to_ids)}"


def write_link_file(
    path: Path,
    groups: Sequence[tuple[str, str, Sequence[tuple[Sequence[str], Sequence[str]]]]],
    *,
    style: str,
) -> None:
    """Write a cesAlign file of (fromDoc, toDoc, links) groups. style "opus" numbers
    the links (id="SL1", as OPUS does), style "tei" gives their type ("2-1", as
    the UNPC link files do). Gzipped when the name ends in .gz."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        '<!DOCTYPE cesAlign PUBLIC "-//CES//DTD XML cesAlign//EN" "">\n',
        '<cesAlign version="1.0">\n',
    ]
    for from_doc, to_doc, links in groups:
        parts.append(f'<linkGrp targType="s" fromDoc={quoteattr(from_doc)} toDoc={quoteattr(to_doc)}>\n')
        for n, (a, b) in enumerate(links, start=1):
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
