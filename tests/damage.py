"""Damage as a bad day does it, for the fault tests: bits flipped inside the data of a
zip member (torch.save archives: the zip structure stays intact, so only the CRC-32
tells), and a size-limited file system to fill up."""
from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import zipfile
from pathlib import Path
from typing import Iterator

import pytest


def member_span(path: Path, member: str | None = None) -> tuple[int, int]:
    """(offset, size) of the stored bytes of `member` (default: the largest member)."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        info = max(infos, key=lambda i: i.file_size) if member is None else \
            next(i for i in infos if i.filename.endswith(member))
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


def flip_bits(path: Path, nbytes: int = 1, member: str | None = None) -> None:
    """Invert `nbytes` bytes (every bit of them) in the middle of a member's data."""
    offset, size = member_span(path, member)
    nbytes = min(nbytes, size)
    start = offset + (size - nbytes) // 2
    with open(path, "r+b") as fh:
        fh.seek(start)
        data = fh.read(nbytes)
        fh.seek(start)
        fh.write(bytes(b ^ 0xFF for b in data))


def flip_one_bit(path: Path, member: str | None = None) -> None:
    offset, size = member_span(path, member)
    with open(path, "r+b") as fh:
        fh.seek(offset + size // 2)
        byte = fh.read(1)[0]
        fh.seek(offset + size // 2)
        fh.write(bytes([byte ^ 0x04]))


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "4m") mounted at `where`: a real file system that fills
    up. Needs root (as the Slurm tests do); skipped where mounting is not allowed."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a size-limited file system needs root (mount -t tmpfs)")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(directory: Path, leave: int = 0) -> None:
    """Fill the file system of `directory` (a file `filler` in it) up to its last byte,
    or up to `leave` bytes."""
    with open(directory / "filler", "wb", buffering=0) as fh:
        for block in (1 << 16, 1):
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * block)
        if leave:
            fh.truncate(max(0, fh.tell() - leave))
