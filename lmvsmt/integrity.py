"""Integrity of the binary artifacts one stage hands to the next: fairseq checkpoints,
exported models and probing feature caches.

All of them are torch.save files, i.e. zip archives whose every member (the pickle
and each tensor's bytes) carries a CRC-32 written by torch itself, and fairseq writes
its checkpoints the same way. torch.load checks none of these CRCs: a flipped bit in
a tensor loads silently. Reading every member once and comparing its CRC catches any
single flipped bit (and any burst up to 32 bits) without a checksum file beside the
artifact and without touching fairseq; it costs one sequential read of the file
(benchmarks/integrity.py measures it against sha256).

A damaged artifact is moved aside (`<name>.bad-<UTC time>`, never deleted, never read
again) and the error names it, says what is wrong and how to get it back: the same
Snakemake command then regenerates it, because its file is missing.
"""
from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

from lmvsmt.errors import LmvsmtError
from lmvsmt.io import move_aside

CHUNK = 1 << 20


class DamagedFileError(LmvsmtError, RuntimeError):
    """An artifact that does not read back as written; the message names it, what is
    wrong, and the command that regenerates it."""


def archive_problem(path: str | Path) -> str | None:
    """What is wrong with the torch archive at `path` (None: every member reads back
    with its CRC-32). A missing file raises FileNotFoundError."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if not any(info.filename.endswith("data.pkl") for info in infos):
                return "not a torch archive: no data.pkl member"
            for info in infos:
                with zf.open(info) as member:
                    while member.read(CHUNK):
                        pass
    except (FileNotFoundError, PermissionError):
        raise
    except zipfile.BadZipFile as exc:
        return f"{exc}" if "CRC" in str(exc) else f"not an intact zip archive: {exc}"
    except (OSError, EOFError, ValueError, NotImplementedError, struct.error, zlib.error) as exc:
        return f"unreadable zip archive: {type(exc).__name__}: {exc}"
    return None


def member_digest(path: str | Path) -> tuple | None:
    """(name, size, CRC-32) of every member, from the archive's directory only: equal
    for two copies of the same checkpoint (fairseq copies one save to several names).
    None when the directory cannot be read."""
    try:
        with zipfile.ZipFile(path) as zf:
            return tuple((i.filename.split("/", 1)[-1], i.file_size, i.CRC) for i in zf.infolist())
    except (OSError, EOFError, ValueError, NotImplementedError, struct.error, zipfile.BadZipFile):
        return None


def check_archive(path: str | Path, remedy: str) -> Path:
    """Return `path` if it is an intact torch archive; otherwise move it aside and raise
    DamagedFileError (`remedy` says how to regenerate it)."""
    path = Path(path)
    problem = archive_problem(path)
    if problem is not None:
        aside = move_aside(path)
        raise DamagedFileError(f"{path}: damaged ({problem}); moved aside to {aside.name}; {remedy}")
    return path


def load_torch(path: str | Path, remedy: str, **kwargs):
    """torch.load of an archive verified first (check_archive)."""
    import torch

    check_archive(path, remedy)
    try:
        return torch.load(path, **kwargs)
    except Exception as exc:  # intact bytes that still do not load: name the file
        raise DamagedFileError(f"{path}: intact archive that torch cannot load ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''}); {remedy}") from exc
