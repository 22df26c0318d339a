"""Benchmark of the corpus stage: parse + allocate + write on a UNPC-format corpus.

Builds a synthetic corpus in the UNPC v1.0 TEI layout (per-language documents
whose paragraphs hold different numbers of sentences in different languages, so
sentence ids are language-specific; link files under links/{s}_{t}/ with the
toDoc ids first in xtargets; written with lmvsmt.corpus's writers) holding N
aligned sentence pairs, then runs
lmvsmt.corpus.build on it in a fresh subprocess (which checks every link group's
ids against its documents to choose the xtargets reading) and prints
sentences/s and that process's peak RSS, for N and 2N. Target: at least 100,000
aligned sentences/s on one core, and a peak RSS that does not grow with N.

How the release splits a pair directory into link files is not documented:
--link-files per-document (the default, what the demo writes: one small file per
document, the most files) or per-pair (one file per pair directory).

    .venv/bin/python benchmarks/corpus.py [--sentences 200000] [--link-files per-pair] [--workdir /tmp/...]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LANGS = ["ar", "en", "es", "fr", "ru", "zh"]
PAIRS = list(itertools.combinations(LANGS, 2))
SENTENCES_PER_DOCUMENT = (30, 90)  # UN documents are long
TARGET_RATE = 100_000


def generate(raw: Path, n_aligned: int, link_files: str = "per-document", seed: int = 1) -> int:
    """Write UNPC-format sources with at least n_aligned aligned sentence pairs
    (links with text on both sides). Most documents are bitexts of one pair
    (round robin over the 15 pairs), a fifth exist in three or four languages."""
    from lmvsmt.corpus.documents import paragraphs_of, write_tei_document
    from lmvsmt.corpus.formats import UNPC
    from lmvsmt.corpus.links import write_link_file
    from lmvsmt.corpus.synthetic import write_release_links

    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(5000)]
    groups: dict[tuple[str, str], list] = {p: [] for p in PAIRS}
    aligned, d = 0, 0
    while aligned < n_aligned:
        if rng.random() < 0.8:
            langs = list(PAIRS[d % len(PAIRS)])
        else:
            langs = sorted(rng.sample(LANGS, rng.choice([3, 4])))
        n = rng.randint(*SENTENCES_PER_DOCUMENT)
        words = [rng.choices(vocabulary, k=rng.randint(8, 30)) for _ in range(n)]
        refs, ids = {}, {}
        for lang in langs:
            ref, rel = UNPC.ref(lang, f"{1990 + d % 25}/a/{d // 1000}/{d}.xml")
            texts = [f"{lang} " + " ".join(w) for w in words]
            paragraphs = paragraphs_of(texts, [rng.randint(2, 8) for _ in range(n)])
            ids[lang] = write_tei_document(raw / UNPC.docs_dir / rel, lang, paragraphs,
                                           symbol=f"A/{d}", date="2000-01-01", title="benchmark")
            refs[lang] = ref
        for a, b in itertools.combinations(langs, 2):
            groups[(a, b)].append((refs[a], refs[b], [([x], [y]) for x, y in zip(ids[a], ids[b])]))
            aligned += n
        d += 1
    for (a, b), pair_groups in groups.items():
        # the pair's directory, some named out of alphabetical order; fromDoc in its second language
        directory = (b, a) if PAIRS.index((a, b)) % 2 else (a, b)
        if directory[1] != a:
            pair_groups = [(to_doc, from_doc, [(y, x) for x, y in links]) for from_doc, to_doc, links in pair_groups]
        if link_files == "per-pair":
            path = UNPC.link_file(raw, *directory, document="_".join(directory))
            write_link_file(path, pair_groups, style="tei", first=UNPC.xtargets_first)
        else:
            write_release_links(UNPC, raw, directory, pair_groups)
    return aligned


def peak_rss_mb() -> float:
    """Peak resident set of this process since it started. VmHWM (Linux) belongs to
    this process image alone; getrusage's ru_maxrss would also count the parent's
    memory inherited at fork, before exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(raw: str, out: str) -> None:
    """Run the build and report wall time, CPU time and peak RSS of this process."""
    import logging

    logging.disable(logging.WARNING)
    from lmvsmt.corpus import build

    start, cpu = time.perf_counter(), time.process_time()
    stats = build("unpc", Path(raw), Path(out), LANGS, use="uncapped")
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    counts = stats["counts"]
    print(json.dumps({
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak_rss_mb(),
        "bitext_written": sum(counts[("bitext_sentences", s)] for s in ("train", "valid", "test")),
        "doc_sentences_written": sum(counts[("doc_sentences", s)] for s in ("train", "valid", "test")),
    }))


def measure(workdir: Path, n: int, link_files: str) -> dict:
    raw, out = workdir / f"raw-{n}", workdir / f"out-{n}"
    t = time.perf_counter()
    # generated in a process of its own, so that the measured one starts clean
    gen = subprocess.run([sys.executable, __file__, "--generate", str(raw), str(n), link_files],
                         capture_output=True, text=True, check=True)
    aligned = int(gen.stdout.split()[-1])
    generated = time.perf_counter() - t
    proc = subprocess.run([sys.executable, __file__, "--child", str(raw), str(out)],
                          capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    sizes = [p.stat().st_size for p in raw.rglob("*") if p.is_file()]
    result.update(aligned=aligned, generate_s=generated, source_mb=sum(sizes) / 2**20,
                  versions=sum(1 for p in raw.rglob("*.xml")))
    shutil.rmtree(raw)
    shutil.rmtree(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=200_000, help="N: aligned sentence pairs of the smaller corpus")
    parser.add_argument("--link-files", choices=["per-document", "per-pair"], default="per-document",
                        help="UNPC link files: one per document (default) or one per pair directory")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", nargs=2, metavar=("RAW", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=3, metavar=("RAW", "N", "LINK_FILES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.generate:
        print(generate(Path(args.generate[0]), int(args.generate[1]), args.generate[2]))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lmvsmt-corpus-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"corpus benchmark: UNPC TEI format, link files {args.link_files}, parse + allocate + write "
          "(lmvsmt.corpus.build), one process")
    print(f"{'aligned':>9} {'wall s':>7} {'cpu s':>7} {'sent/s (wall)':>14} {'sent/s (cpu)':>13} "
          f"{'written/s':>10} {'peak RSS MB':>12}")
    results = []
    for n in (args.sentences, 2 * args.sentences):
        r = measure(workdir, n, args.link_files)
        results.append(r)
        print(f"{r['aligned']:>9,} {r['wall_s']:>7.2f} {r['cpu_s']:>7.2f} {r['aligned'] / r['wall_s']:>14,.0f} "
              f"{r['aligned'] / r['cpu_s']:>13,.0f} {r['bitext_written'] / r['wall_s']:>10,.0f} "
              f"{r['peak_rss_mb']:>12.1f}")
    small, large = results
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
          "(wall clock counts time lost to other processes; cpu = this process's own time)")
    wall_rate = min(r["aligned"] / r["wall_s"] for r in results)
    cpu_rate = min(r["aligned"] / r["cpu_s"] for r in results)
    growth = large["peak_rss_mb"] - small["peak_rss_mb"]
    source_growth = large["source_mb"] - small["source_mb"]
    print(f"aligned sentences/s on one core (slowest run): {cpu_rate:,.0f} by CPU time, {wall_rate:,.0f} by wall clock "
          f"(target >= {TARGET_RATE:,})")
    print(f"peak RSS at N: {small['peak_rss_mb']:.1f} MB, at 2N: {large['peak_rss_mb']:.1f} MB: +{growth:.1f} MB "
          f"({growth / small['peak_rss_mb']:.0%}) while the sources grew by {source_growth:.0f} MB; the text is "
          f"streamed, the growth is the per-document allocation metadata "
          f"({growth * 2**20 / max(1, large['versions'] - small['versions']):.0f} bytes per language version)")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
