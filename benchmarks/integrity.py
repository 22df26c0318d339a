"""Cost of verifying an artifact before use, on a checkpoint-like torch archive of
about 1 GiB (many tensors, as a model's state dict): the zip members' CRC-32s
(lmvsmt.integrity, what the pipeline does) against a sha256 of the whole file (what a
checksum file beside it would need), next to torch.save and torch.load themselves.
Every timing reads from the page cache (the file was just written); a cold read adds
the disk's own time to each of them alike.

    .venv/bin/python benchmarks/integrity.py [--mib 1024] [--dir /tmp]

Target: verification costs less than loading the file (it runs before every load).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from lmvsmt import integrity
from lmvsmt.download import sha256_file


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the archive in MiB")
    parser.add_argument("--dir", default=None, help="where to write it (default: the system's temp directory)")
    args = parser.parse_args()
    # 4 MiB float32 tensors, like the weight matrices of a model and its optimizer state.
    state = {f"layer{i}.weight": torch.randn(1024, 1024) for i in range(args.mib // 4)}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "checkpoint.pt"
        save_s = timed(lambda: torch.save(state, path))
        size = path.stat().st_size
        rows = [
            ("torch.save", save_s),
            ("zip CRC-32 check (lmvsmt.integrity)", timed(lambda: integrity.archive_problem(path))),
            ("sha256 of the file", timed(lambda: sha256_file(path))),
            ("torch.load", timed(lambda: torch.load(path, weights_only=True))),
        ]
    print(f"archive: {size / 2**20:.0f} MiB, {len(state)} tensors")
    print("step\tseconds\tMiB_per_s")
    for name, seconds in rows:
        print(f"{name}\t{seconds:.2f}\t{size / 2**20 / seconds:.0f}")
    check, load = rows[1][1], rows[3][1]
    print(f"target: CRC check <= torch.load: {'met' if check <= load else 'NOT met'} "
          f"({check:.2f} s vs {load:.2f} s)")


if __name__ == "__main__":
    main()
