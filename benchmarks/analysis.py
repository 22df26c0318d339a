"""What the companion paper's analyses add to a run, from the Snakemake benchmark files
of a results directory (after `make demo`, or a run with --config results_dir=...).

Prints, per analysis rule (rules/analysis.smk), its jobs' wall and CPU seconds, and
the probing and fine-tuning jobs' totals (they also score every language's test set
for the transfer analysis). With --baseline, a results directory of the same
configuration run without the analyses, their differences are printed too.
Target: the analyses add at most 60 s to `make demo` on an idle 2-core machine; as
jobs run two at a time, the added wall time is about half the added CPU seconds.

    .venv/bin/python benchmarks/analysis.py --results results [--baseline other/results]
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

ANALYSIS_RULES = ("transfer_table", "cka_sentences", "cka_states", "cka", "cka_plot", "spectra", "spectra_table")
# Evaluation rules whose jobs also score every language's test set for the transfer analysis.
SCORING_RULES = ("probe", "finetune")


def rule_times(results: Path, rule: str) -> tuple[int, float, float]:
    """(jobs, wall seconds, CPU seconds) summed over a rule's benchmark files."""
    jobs, wall, cpu = 0, 0.0, 0.0
    for path in sorted((results / "benchmarks" / rule).rglob("*.tsv")):
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                jobs += 1
                wall += float(row["s"])
                cpu += float(row["cpu_time"])
    return jobs, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results", type=Path)
    parser.add_argument("--baseline", type=Path, help="results of the same configuration without the analyses")
    args = parser.parse_args()
    total_wall = total_cpu = 0.0
    print(f"{'rule':<16} {'jobs':>4} {'wall s':>8} {'CPU s':>8}")
    for rule in ANALYSIS_RULES:
        jobs, wall, cpu = rule_times(args.results, rule)
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        print(f"{rule:<16} {jobs:>4} {wall:>8.1f} {cpu:>8.1f}")
    print(f"{'analyses':<16} {'':>4} {total_wall:>8.1f} {total_cpu:>8.1f}")
    added = total_cpu
    for rule in SCORING_RULES:
        jobs, wall, cpu = rule_times(args.results, rule)
        print(f"{rule:<16} {jobs:>4} {wall:>8.1f} {cpu:>8.1f}   (with transfer scoring)")
        if args.baseline:
            _, base_wall, base_cpu = rule_times(args.baseline, rule)
            print(f"{rule + ' before':<16} {jobs:>4} {base_wall:>8.1f} {base_cpu:>8.1f}   "
                  f"(difference {cpu - base_cpu:+.1f} CPU s)")
            added += cpu - base_cpu
    print(f"added CPU seconds: {added:.1f}; on 2 cores about {added / 2:.0f} s of wall time (target <= 60 s)")


if __name__ == "__main__":
    main()
