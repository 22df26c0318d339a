"""Where each corpus keeps its documents and links, as released.

UNPC v1.0 (TEI release): one TEI file per language version,
`UNv1.0-TEI/{lang}/{year}/{symbol path}.xml` (the same path in every language),
from the per-language archives UNv1.0-TEI.{lang}.tar.gz; the sentence links come
in a separate archive, UNv1.0-TEI.links.tar.gz, as `UNv1.0-TEI/links/{s}_{t}/**.lnk`
(one directory per language pair, not always named in alphabetical order, holding
several link files; OPUS's conversion, Helsinki-NLP/OPUS-ingest
corpus/UNPC/src/Makefile, reads every *.lnk below it, and so do we; our writers
put one file per document there).
Their groups name the documents as `Xml/{lang}/{year}/...xml`, and their xtargets
list the toDoc sentence ids first: OPUS's conversion swaps fromDoc and toDoc, the
authors' reader (Helsinki-NLP/lm-vs-mt preprocessing/scripts/unpc/make_corpus.py)
unpacks xtargets as (toDoc ids, fromDoc ids). Sentence ids ("p:s") differ between
the languages of a document. The multi-way document is the path after the language.

OpenSubtitles v2018 (OPUS, raw/{lang}.zip + xml/{l1}-{l2}.xml.gz): one subtitle
file per language version, `OpenSubtitles/raw/{lang}/{year}/{imdb id}/{file id}.xml`,
and one alignment file per language pair naming them `{lang}/{year}/{imdb}/{id}.xml.gz`.
The multi-way document is the film (year/imdb id); a language may have several
subtitle files for one film and different pairs may use different ones.
OPUS calls Chinese `zh_cn`; xtargets list the fromDoc ids first (cesAlign's order).

The build does not take either xtargets order on trust: lmvsmt.corpus.xtargets
checks it against the documents (`xtargets_first` only breaks a tie the data
leaves open, and tells the writers how to write).
"""
from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from lmvsmt.corpus.documents import read_bytes
from lmvsmt.corpus.links import FROM_DOC, TO_DOC

LINKS_DIR = "links"  # UNPC: the directory of the pair directories of link files


@dataclass(frozen=True)
class Layout:
    corpus: str
    docs_dir: str  # documents live under <raw>/<docs_dir>/<code>/...
    link_globs: tuple[str, ...]  # alignment files, relative to <raw>
    ref_prefix: str  # what fromDoc/toDoc put before "<code>/..."
    style: str  # "tei" (UN documents, typed links) or "opus" (subtitles, numbered links)
    film_level: bool  # multi-way document = <year>/<imdb> directory rather than the file
    xtargets_first: str  # whose sentence ids the release lists first in xtargets (FROM_DOC or TO_DOC)
    codes: dict[str, str] = field(default_factory=dict)  # language -> code in paths

    def code(self, lang: str) -> str:
        return self.codes.get(lang, lang)

    def language(self, code: str) -> str:
        for lang, c in self.codes.items():
            if c == code:
                return lang
        return code

    def source(self, ref: str) -> str | None:
        """The language-version id ("en/1990/a/45/1.xml") of a fromDoc/toDoc value,
        or None when it does not have this corpus's form."""
        if not ref.startswith(self.ref_prefix):
            return None
        source = ref[len(self.ref_prefix) :]
        if "/" not in source or source.startswith("/") or ".." in source.split("/"):
            return None
        return source

    def lang_of(self, source: str) -> str:
        return self.language(source.split("/", 1)[0])

    def document_of(self, source: str) -> str:
        """The multi-way document a language version belongs to."""
        rest = source.split("/", 1)[1]
        if self.film_level:
            return rest.rsplit("/", 1)[0]
        for ext in (".gz", ".xml"):
            if rest.endswith(ext):
                rest = rest[: -len(ext)]
        return rest

    def path_of(self, raw_dir: str | Path, source: str) -> str:
        """The file holding a language version (OPUS names .xml.gz what the raw
        zip stores as .xml; either is accepted). Plain strings: this runs once
        per document and pathlib would cost more than the parsing."""
        path = self._plain_path(raw_dir, source)
        if not os.path.exists(path) and os.path.exists(path + ".gz"):
            return path + ".gz"
        return path

    def read(self, raw_dir: str | Path, source: str) -> bytes:
        """The bytes of a language version's file (see path_of; without its stat
        when the file is there under the plain name, as it usually is)."""
        path = self._plain_path(raw_dir, source)
        try:
            return read_bytes(path)
        except FileNotFoundError:
            if not os.path.exists(path + ".gz"):
                raise
        return read_bytes(path + ".gz")

    def _plain_path(self, raw_dir: str | Path, source: str) -> str:
        plain = source[:-3] if source.endswith(".gz") else source
        return f"{raw_dir}{os.sep}{self.docs_dir}{os.sep}{plain}"

    def ref(self, lang: str, rest: str) -> tuple[str, str]:
        """(fromDoc/toDoc value, file path relative to docs_dir) of a language
        version whose path after the language code is `rest` (writer side)."""
        rel = f"{self.code(lang)}/{rest}"
        if self.style == "opus":
            return f"{self.ref_prefix}{rel}.gz", rel
        return f"{self.ref_prefix}{rel}", rel

    def link_files(self, raw_dir: Path) -> list[Path]:
        """The alignment files under raw_dir (see link_paths)."""
        return [Path(p) for p in self.link_paths(raw_dir)]

    def link_paths(self, raw_dir: str | Path) -> list[str]:
        """The alignment files under raw_dir, as plain strings (UNPC may have one
        per document). UNPC's per-document link files are ordered by their path
        below the pair directory, so that the groups of one document in its
        different pairs are read one after the other."""
        root = os.path.join(str(raw_dir), "")
        found, walked = set(), {}
        for pattern in self.link_globs:  # plain strings: several times faster than Path.glob
            base, recursive, name = pattern.partition("/**/")
            if recursive:  # "base/**/name": one walk of base for all such patterns
                if base not in walked:
                    walked[base] = [(f, os.path.join(d, f)[len(root) :])
                                    for d, _, fs in os.walk(root + base) for f in fs]
                found.update(rel for f, rel in walked[base] if fnmatch.fnmatchcase(f, name))
            else:
                found.update(p[len(root) :] for p in glob.glob(glob.escape(root) + pattern) if os.path.isfile(p))

        marker = f"{os.sep}{LINKS_DIR}{os.sep}"

        def order(rel: str) -> tuple[str, str]:
            # ".../links/{s}_{t}/rest" sorts by rest first (strings, not lists of parts)
            _, found_links, below = (os.sep + rel).partition(marker)
            return (below.partition(os.sep)[2] if found_links else "", rel)

        return [root + rel for rel in sorted(found, key=order)]

    def link_file(self, raw_dir: Path, lang1: str, lang2: str, document: str = "") -> Path:
        """Where the writers put links of a language pair: OPUS one file per pair
        (codes in alphabetical order); UNPC one file per document (our choice: the
        release's file names inside a pair directory are not documented) under
        the pair directory `links/{lang1}_{lang2}/`, named in the order given."""
        if self.style == "opus":
            a, b = sorted([self.code(lang1), self.code(lang2)])
            return raw_dir / "xml" / f"{a}-{b}.xml.gz"
        if not document:
            raise ValueError("UNPC link files are per document: give the document")
        return raw_dir / self.docs_dir / LINKS_DIR / f"{self.code(lang1)}_{self.code(lang2)}" / f"{document}.lnk"


_UNPC_TREE = "UNv1.0-TEI"
UNPC = Layout(
    corpus="unpc",
    docs_dir=_UNPC_TREE,
    link_globs=(f"{_UNPC_TREE}/{LINKS_DIR}/**/*.lnk", f"{_UNPC_TREE}/{LINKS_DIR}/**/*.lnk.gz"),
    ref_prefix="Xml/",
    style="tei",
    film_level=False,
    xtargets_first=TO_DOC,
)

OPENSUBTITLES = Layout(
    corpus="opensubtitles",
    docs_dir="OpenSubtitles/raw",
    link_globs=("xml/*.xml.gz", "xml/*.xml"),
    ref_prefix="",
    style="opus",
    film_level=True,
    xtargets_first=FROM_DOC,
    codes={"zh": "zh_cn"},
)

LAYOUTS = {layout.corpus: layout for layout in (UNPC, OPENSUBTITLES)}
