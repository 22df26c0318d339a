"""Downloader throughput and memory: prints MiB/s and peak RSS of `lmvsmt.download.fetch`
for a fresh HTTP download, one resumed after dropped connections, a file:// copy and
the offline reuse check (sha256 of an existing file), at two sizes so that one can see
that memory does not grow with the file (the body is streamed in 1 MiB chunks).

    .venv/bin/python benchmarks/download.py [--mib 64]

The server runs in this process (tests/httpserver.py, on 127.0.0.1); each fetch runs
in a fresh interpreter so that its peak RSS is its own.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from httpserver import FixtureServer  # noqa: E402

CHILD = r"""
import json, re, sys, time
from lmvsmt.download import fetch
url, dest, lock = sys.argv[1:4]
t = time.perf_counter()
fetch(url, dest, lockfile=lock, key="benchmark.url", retries=10, backoff=0.01, progress=False)
# VmHWM belongs to this image; ru_maxrss would include the parent's memory before exec.
hwm = int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"seconds": time.perf_counter() - t, "peak_rss_mib": hwm / 1024}))
"""


def timed_fetch(url: str, dest: Path, lock: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, url, str(dest), str(lock)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=64, help="size of the smaller file; the larger one is twice that")
    args = parser.parse_args()
    server = FixtureServer().start()
    print("size_mib\tcase\tMiB_per_s\tpeak_rss_mib")
    try:
        for mib in (args.mib, 2 * args.mib):
            size = mib << 20
            data = os.urandom(size)
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                lock = tmp / "lock.tsv"
                source = tmp / "source.bin"
                source.write_bytes(data)
                cases = [
                    ("http", server.serve("/plain", data), tmp / "plain"),
                    ("http, 4 drops + resume", server.serve("/drops", data, drop_after=size // 5, drops=4),
                     tmp / "drops"),
                    ("file://", source.as_uri(), tmp / "copy"),
                ]
                cases.append(("reuse (verify sha256)", cases[0][1], cases[0][2]))
                for name, url, dest in cases:
                    r = timed_fetch(url, dest, lock)
                    print(f"{mib}\t{name}\t{mib / r['seconds']:.0f}\t{r['peak_rss_mib']:.0f}", flush=True)
            del data
    finally:
        server.stop()


if __name__ == "__main__":
    main()
