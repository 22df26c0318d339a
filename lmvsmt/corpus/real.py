"""The real sources (corpus.source: real): which files to download for each
corpus (URLs and versions live in config/paper.yaml, corpus.real), and how to
unpack them into the release layout that formats.py reads.

UNPC v1.0: one TEI tarball per language, split into parts (.tar.gz.00, .01, ...)
that are concatenated while unpacking, and a separate tarball of the sentence
link files (UNv1.0-TEI.links.tar.gz: UNv1.0-TEI/links/{s}_{t}/...). OpenSubtitles
v2018 on OPUS: one raw zip per language and one alignment file per language pair.
"""
from __future__ import annotations

import itertools
import os
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import IO, Sequence

from lmvsmt.corpus.formats import LAYOUTS
from lmvsmt.io import atomic_directory


def downloads(config: dict, corpus: str) -> dict[str, tuple[str, str]]:
    """File name -> (URL, config key naming it) of every file `corpus` needs for
    the configured languages."""
    real = config["corpus"]["real"][corpus]
    languages = sorted(config["languages"])
    version = real["version"]
    base = real["base_url"].format(version=version).rstrip("/")
    out: dict[str, tuple[str, str]] = {}
    if corpus == "unpc":
        for lang in languages:
            if lang not in real["archives"]:
                raise KeyError(f"corpus.real.unpc.archives: no archive listed for language {lang!r}")
            for name in real["archives"][lang]:
                name = name.format(version=version)
                out[name] = (f"{base}/{name}", f"corpus.real.unpc.archives.{lang}")
        for name in real["links"]:
            name = name.format(version=version)
            out[name] = (f"{base}/{name}", "corpus.real.unpc.links")
        return out
    layout = LAYOUTS[corpus]
    for lang in languages:
        path = real["documents"].format(code=layout.code(lang))
        out[path.rsplit("/", 1)[-1]] = (f"{base}/{path}", "corpus.real.opensubtitles.documents")
    for lang1, lang2 in itertools.combinations(languages, 2):
        code1, code2 = sorted([layout.code(lang1), layout.code(lang2)])
        path = real["alignments"].format(code1=code1, code2=code2)
        out[path.rsplit("/", 1)[-1]] = (f"{base}/{path}", "corpus.real.opensubtitles.alignments")
    return out


class _Concatenated:
    """A read-only stream over several files one after the other (split tarballs)."""

    def __init__(self, paths: Sequence[Path]):
        self._paths = list(paths)
        self._fh: IO[bytes] | None = None

    def read(self, size: int = -1) -> bytes:
        while True:
            if self._fh is None:
                if not self._paths:
                    return b""
                self._fh = open(self._paths.pop(0), "rb")
            data = self._fh.read(size)
            if data or size == 0:
                return data
            self._fh.close()
            self._fh = None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def unpack(corpus: str, files: Sequence[Path], raw_dir: Path) -> None:
    """Unpack downloaded files into raw_dir (replaced as a whole when complete)."""
    files = sorted(Path(f) for f in files)
    with atomic_directory(Path(raw_dir)) as tmp:
        if corpus == "unpc":
            archives: dict[str, list[Path]] = {}
            for path in files:
                stem, _, part = path.name.rpartition(".")
                key = stem if part.isdigit() else path.name
                archives.setdefault(key, []).append(path)
            for key, parts in sorted(archives.items()):
                stream = _Concatenated(sorted(parts))
                try:
                    with tarfile.open(fileobj=stream, mode="r|gz") as tar:
                        tar.extractall(tmp, filter="data")
                finally:
                    stream.close()
            return
        for path in files:
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as archive:
                    for member in archive.infolist():
                        target = (tmp / member.filename).resolve()
                        if not target.is_relative_to(tmp.resolve()):
                            raise ValueError(f"{path}: member {member.filename!r} escapes the target directory")
                    archive.extractall(tmp)
            else:
                target = tmp / "xml" / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(path, target)  # no copy of large alignment files where possible
                except OSError:
                    shutil.copyfile(path, target)
