"""Importing a model trained elsewhere at the authors' size: time, peak memory and disk of
`lmvsmt.pretrain.models.import_model` on a CLM checkpoint made by fairseq-train with the
authors' flags (12 layers, hidden 512, a ~100k-entry dictionary; one update on the CPU,
batch size 1, so the file holds the weights and Adam's state as theirs do), and of
taking one member out of a large tar.gz (`lmvsmt.download.extract`).

    .venv/bin/python benchmarks/external.py [--archive-mib 1024] [--workdir DIR]

Each measured step runs in a fresh interpreter, so that its peak RSS is its own. The
SentencePiece check of the import is left out: the dictionary's entries here are made
up, and a 100k-piece SentencePiece model needs a large corpus (the check itself reads
the dictionary once).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import external_toymodels  # noqa: E402

ENTRIES = 99_968  # the authors' CLM dictionary: 99,968 pieces (+ 4 madeupword entries)

MAKE = r"""
import sys
sys.path.insert(0, sys.argv[1])
import external_toymodels as t
from pathlib import Path
from lmvsmt import fairseq_compat
fairseq_compat.prepare()
text, data, save = map(Path, sys.argv[2:5])
t._run(["fairseq-preprocess", "--only-source", "--workers", "1", "--trainpref", str(text / "train.txt"),
        "--validpref", str(text / "valid.txt"), "--destdir", str(data)])
argv = t.tiny_argv("clm", data, save, changes={"--batch-size": "1"})
t._run(argv + ["--no-epoch-checkpoints", "--no-last-checkpoints", "--max-update", "1"])
"""

IMPORT = r"""
import json, re, sys, time
from pathlib import Path
from lmvsmt.pretrain import models
models.check_subwords = lambda *args, **kwargs: None  # see the module docstring
checkpoint, dictionary, spm, out = sys.argv[1:5]
out = Path(out)
names = dict(zip(("model", "dict", "spm", "source"), ("checkpoint_best.pt", "dict.txt", "spm.model", "source.json")))
t = time.perf_counter()
record = models.import_model("CLM", checkpoint, dictionary, spm, {k: out / n for k, n in names.items()},
                                 languages=["en"])
seconds = time.perf_counter() - t
hwm = int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"seconds": seconds, "peak_rss_mib": hwm / 1024, "parameters": record["parameters"],
                  "imported_mib": (out / "checkpoint_best.pt").stat().st_size / 2**20}))
"""

EXTRACT = r"""
import json, re, sys, time
from lmvsmt.download import extract
t = time.perf_counter()
extract(sys.argv[1], "mt-vs-lm.spm.model", sys.argv[2], name="spm.model")
hwm = int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"seconds": time.perf_counter() - t, "peak_rss_mib": hwm / 1024}))
"""


def child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def paper_size_checkpoint(tmp: Path) -> tuple[Path, Path]:
    """A CLM checkpoint at the authors' size, and its dictionary."""
    rng = random.Random(1)
    pieces = [f"▁w{i}" for i in range(ENTRIES)]
    text = tmp / "text"
    text.mkdir()
    rng.shuffle(pieces)
    lines = [" ".join(pieces[i:i + 50]) for i in range(0, len(pieces), 50)]
    (text / "train.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (text / "valid.txt").write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-c", MAKE, str(ROOT / "tests"), str(text), str(tmp / "data"), str(tmp / "save")],
                   check=True, capture_output=True, text=True)
    return tmp / "save" / "checkpoint_best.pt", tmp / "data" / "dict.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive-mib", type=int, default=1024, help="size of the archive the member is taken from")
    parser.add_argument("--workdir", help="scratch directory (default: a temporary one; needs about 4 GB)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        checkpoint, dictionary = paper_size_checkpoint(tmp)
        spm = tmp / "spm.model"
        spm.write_bytes(b"")  # not read: see the module docstring
        r = child(IMPORT, str(checkpoint), str(dictionary), str(spm), str(tmp / "imported"))
        print("step\tfile_mib\tseconds\tpeak_rss_mib\tnote")
        print(f"import CLM\t{checkpoint.stat().st_size / 2**20:.0f}\t{r['seconds']:.1f}\t{r['peak_rss_mib']:.0f}\t"
              f"{r['parameters'] / 1e6:.1f}M parameters; imported {r['imported_mib']:.0f} MiB", flush=True)

        archive = tmp / "lm-vs-mt_data.tar.gz"
        with tarfile.open(archive, "w:gz", compresslevel=1) as tf:
            block = os.urandom(64 << 20)
            for i in range(max(1, args.archive_mib // 64)):
                info = tarfile.TarInfo(f"lm-vs-mt_data/processed/data-bin/part{i}.bin")
                info.size = len(block)
                tf.addfile(info, io.BytesIO(block))
            member = os.urandom(2 << 20)
            info = tarfile.TarInfo("lm-vs-mt_data/processed/spm/mt-vs-lm.spm.model")
            info.size = len(member)
            tf.addfile(info, io.BytesIO(member))
        r = child(EXTRACT, str(archive), str(tmp / "unpacked"))
        print(f"extract member\t{archive.stat().st_size / 2**20:.0f}\t{r['seconds']:.1f}\t{r['peak_rss_mib']:.0f}\t"
              "2 MiB member at the end of a tar.gz")


if __name__ == "__main__":
    main()
