"""Figures for the paper DAG: dry-run wall time and the number of evaluation result
files (one per objective x task x language x seed x mode).

    .venv/bin/python benchmarks/dag.py [--configfile config/paper.yaml]
"""
import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
RESULT = re.compile(r"eval/(probe|finetune)/[^/]+/[^/]+/[^/]+/seed\d+\.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default="config/paper.yaml")
    args = parser.parse_args()
    base = [SNAKEMAKE, "--configfile", args.configfile, "--forceall"]

    started = time.perf_counter()
    dry = subprocess.run([*base, "-n", "--quiet", "rules"], cwd=ROOT, capture_output=True, text=True)
    dry_s = time.perf_counter() - started
    if dry.returncode:
        sys.exit(dry.stderr)
    summary = subprocess.run([*base, "--summary"], cwd=ROOT, capture_output=True, text=True)
    if summary.returncode:
        sys.exit(summary.stderr)
    results = {m.group(0) for m in RESULT.finditer(summary.stdout)}
    print(f"dry run of {args.configfile}: {dry_s:.2f} s (target <= 10 s)")
    print(f"evaluation result files in the DAG (snakemake --summary): {len(results)}")
    print(dry.stdout.strip())


if __name__ == "__main__":
    main()
