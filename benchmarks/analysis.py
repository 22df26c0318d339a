"""What the companion paper's analyses add to a run, from the Snakemake benchmark files
of a results directory (after `make demo`, or a run with --config results_dir=...).

Prints, per analysis rule (rules/analysis.smk), its jobs' wall and CPU seconds, and
the probing and fine-tuning jobs' totals (they also score every language's test set
for the transfer analysis). With --baseline, a results directory of the same
configuration run without the analyses, their differences are printed too. With
--measure OBJECTIVE [...], the transfer scoring is measured directly: one seed of the
objective's probing and fine-tuning per task (source language en) is run twice on one
thread, with and without the other languages' test sets (after one warm-up run, the
least CPU time of three runs of each). The CPU seconds the scoring adds to one seed of
one source language are multiplied by the seeds, those of reading the other
languages' test sets (once per job) added, and the sum multiplied by the source
languages of the configuration, for each objective (objectives not measured count as the mean of the
measured ones): only runs trained on a source language score other test sets.
Target: the analyses add at most 60 s to `make demo` on an idle 2-core machine; as
jobs run two at a time, the added wall time is about half the added CPU seconds.

    .venv/bin/python benchmarks/analysis.py --results results [--baseline other/results]
"""
from __future__ import annotations

import argparse
import copy
import csv
import time
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


def least_cpu(run, repeats: int = 3) -> float:
    """The least CPU time of `repeats` calls of `run`."""
    times = []
    for _ in range(repeats):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return min(times)


def scoring_cpu(results: Path, cfg: dict, objective: str, source: str = "en") -> dict[str, list[float]]:
    """Per mode, CPU seconds of one seed per task without and with transfer scoring, and
    of reading the other languages' test sets (once per job, not per seed)."""
    import torch

    from lmvsmt import layout
    from lmvsmt.analysis import transfer
    from lmvsmt.evaluate import finetune, jobs, probe

    torch.set_num_threads(1)
    ev, languages = cfg["evaluation"], cfg["languages"]
    model, subwords = jobs.load_pretrained(objective, layout.model_dir(results, objective),
                                           layout.fill(layout.SPM_MODEL, results=results))
    cpu = {"probe": [0.0, 0.0, 0.0], "finetune": [0.0, 0.0, 0.0]}
    for task in cfg["tasks"]:
        features = {lang: layout.fill(layout.FEATURES, results=results, objective=objective, task=task, lang=lang)
                    for lang in languages}
        tests, _ = transfer.probe_tests(source, features[source], features)
        cpu["probe"][2] += least_cpu(lambda: transfer.probe_tests(source, features[source], features))
        probe.probe(features[source], 1, ev["head"], ev["probe"], transfer_tests=tests)  # warm-up
        for i, extra in enumerate((None, tests)):
            cpu["probe"][i] += least_cpu(lambda: probe.probe(features[source], 1, ev["head"], ev["probe"],
                                                             transfer_tests=extra))
        data = layout.downstream_dir(results, task, source)
        labels, encoded = probe.load_task(data, task, source, subwords, model.dictionary, ev["max_length"])
        dirs = {lang: layout.downstream_dir(results, task, lang) for lang in languages}
        tests, _ = transfer.finetune_tests(source, task, dirs, subwords, model.dictionary, labels, ev["max_length"])
        cpu["finetune"][2] += least_cpu(lambda: transfer.finetune_tests(source, task, dirs, subwords, model.dictionary,
                                                                        labels, ev["max_length"]))
        for i, extra in enumerate((None, tests)):
            cpu["finetune"][i] += least_cpu(lambda: finetune.finetune(
                copy.deepcopy(model), labels, encoded, source, task, 1, ev["head"], ev["finetune"],
                transfer_tests=extra))
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results", type=Path)
    parser.add_argument("--baseline", type=Path, help="results of the same configuration without the analyses")
    parser.add_argument("--measure", metavar="OBJECTIVE", nargs="+", default=[],
                        help="measure the transfer scoring of these objectives directly")
    parser.add_argument("--configfile", type=Path, default=Path("config/config.yaml"))
    args = parser.parse_args()
    total_wall = total_cpu = 0.0
    print(f"{'rule':<16} {'jobs':>4} {'wall s':>8} {'CPU s':>8}")
    for rule in ANALYSIS_RULES:
        jobs, wall, cpu = rule_times(args.results, rule)
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        print(f"{rule:<16} {jobs:>4} {wall:>8.1f} {cpu:>8.1f}")
    print(f"{'analyses':<16} {'':>4} {total_wall:>8.1f} {total_cpu:>8.1f}")
    added = total_cpu
    scoring = {}
    if args.measure:
        from lmvsmt import config as lmvsmt_config

        cfg = lmvsmt_config.load(args.configfile)
        seeds, sources = len(cfg["evaluation"]["seeds"]), len(cfg["analysis"]["transfer"]["sources"])
        measured = {objective: scoring_cpu(args.results, cfg, objective) for objective in args.measure}
        for objective, modes in measured.items():
            print(f"measured on {objective}, one seed per task: " + ", ".join(
                f"{mode} CPU s without/with {without:.1f}/{with_:.1f} (+{setup:.1f} reading test sets)"
                for mode, (without, with_, setup) in modes.items()))
        for mode in SCORING_RULES:
            per_source = [seeds * (with_ - without) + setup for without, with_, setup in
                          (measured[o][mode] for o in args.measure)]
            mean = sum(per_source) / len(per_source)
            scoring[mode] = sources * (sum(per_source) + mean * (len(cfg["objectives"]) - len(per_source)))
    for rule in SCORING_RULES:
        jobs, wall, cpu = rule_times(args.results, rule)
        print(f"{rule:<16} {jobs:>4} {wall:>8.1f} {cpu:>8.1f}   (with transfer scoring)")
        if args.baseline:
            _, base_wall, base_cpu = rule_times(args.baseline, rule)
            print(f"{rule + ' before':<16} {jobs:>4} {base_wall:>8.1f} {base_cpu:>8.1f}   "
                  f"(difference {cpu - base_cpu:+.1f} CPU s)")
            added += cpu - base_cpu
        elif rule in scoring:
            print(f"{'':<16} {'':>4} {'':>8} {scoring[rule]:>8.1f}   "
                  f"(of which transfer scoring, from the measurement: {100 * scoring[rule] / cpu:.1f} %)")
            added += scoring[rule]
    print(f"added CPU seconds: {added:.1f}; on 2 cores about {added / 2:.0f} s of wall time (target <= 60 s)")


if __name__ == "__main__":
    main()
