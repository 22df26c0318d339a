"""Benchmark of the tables stage on the paper's grid.

Writes synthetic result files for the full protocol (2 modes x 5 objectives x
4 tasks x 6 languages x 5 seeds = 1,200 files), pretraining logs of 600k updates
(one line per 100 updates) and the two statistics TSVs, then times each step
of the stage in this process: loading the results, rendering the six result
tables and the two statistics tables, the document, the pdflatex compile, the
eight per-task plots and the loss curves. With --snakemake it also times the
stage end to end through Snakemake (one job per table/plot, --cores 2).
Target: the whole stage within 60 s on one core (it must never be the slow part).
The numbers in the files are random: this measures speed only.

    .venv/bin/python benchmarks/tables.py [--snakemake] [--workdir /tmp/...]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from lmvsmt.tables import cells, document, render, specs
from lmvsmt.tables import plots
from lmvsmt.config import validate
from lmvsmt.downstream.common import TABLE7_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 60.0


def write_inputs(results: Path, config: dict, rng: random.Random) -> None:
    for mode in config["evaluation"]["modes"]:
        for objective in config["objectives"]:
            for task in config["tasks"]:
                for lang in config["languages"]:
                    for seed in config["evaluation"]["seeds"]:
                        path = results / "eval" / mode / objective / task / lang / f"seed{seed}.json"
                        path.parent.mkdir(parents=True, exist_ok=True)
                        acc = rng.uniform(0.3, 0.95)
                        path.write_text(json.dumps({
                            "mode": mode, "objective": objective, "task": task, "language": lang, "seed": seed,
                            "accuracy": acc, "macro_f1": acc * 0.9, "micro_f1": acc}))
    for objective in config["objectives"]:
        log = results / "pretrain" / objective / "train_log.jsonl"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as fh:
            for update in range(100, 600_001, 100):
                entry = {"update": update, "train_loss": 10 / (1 + update / 5e4)}
                if update % 5000 == 0:
                    entry["valid_loss"] = 10.5 / (1 + update / 5e4)
                fh.write(json.dumps(entry) + "\n")
    stats = results / "stats"
    stats.mkdir(parents=True, exist_ok=True)
    (stats / "table6.tsv").write_text("corpus\ttrain\tvalid\ttest\ttotal\n"
                                      "unpc\t60000000\t900000\t3000000\t63900000\n"
                                      "opensubtitles\t40000000\t600000\t2000000\t42600000\n")
    rows = [f"{t}\t{lang}\tdataset\t10000\t1000\t1000\t12000\t3\t2\t0" for t in config["tasks"]
            for lang in config["languages"]]
    (stats / "table7.tsv").write_text("\t".join(TABLE7_COLUMNS) + "\n" + "\n".join(rows) + "\n")


def timed(label: str, fn, timings: dict):
    start = time.perf_counter()
    out = fn()
    timings[label] = time.perf_counter() - start
    print(f"{label:<34} {timings[label]:7.2f} s", flush=True)
    return out


def run_library(results: Path, config: dict) -> dict:
    timings: dict[str, float] = {}
    out = results / "tables"
    paths = cells.find_result_files(results, config)
    records = timed(f"load {len(paths)} result files", lambda: cells.load_results(paths), timings)

    def result_tables():
        for name in specs.result_tables_for(config):
            t = cells.build_result_table(name, records, objectives=specs.table_objectives(name, config),
                                          tasks=config["tasks"], languages=config["languages"],
                                          seeds=config["evaluation"]["seeds"])
            render.write_table(t, out / f"{name}.tex", out / f"{name}.csv", out / f"{name}.md")
        for t in (cells.build_table6(results / "stats" / "table6.tsv"),
                  cells.build_table7(results / "stats" / "table7.tsv", config["tasks"], config["languages"])):
            render.write_table(t, out / f"{t.name}.tex", out / f"{t.name}.csv", out / f"{t.name}.md")

    timed("8 tables (tex, csv, md)", result_tables, timings)
    names = specs.tables_for(config)
    tex = [out / f"{n}.tex" for n in names]
    timed("document", lambda: document.write_document(tex, [p.with_suffix(".md") for p in tex], out / "tables.tex",
                                                    out / "tables.md"), timings)
    if shutil.which("pdflatex"):
        timed("pdflatex", lambda: document.compile_pdf(out / "tables.tex", out / "tables.pdf", tex), timings)
    else:
        print("pdflatex                           skipped (not installed)")

    def task_plots():
        for mode in config["evaluation"]["modes"]:
            for task in config["tasks"]:
                plots.plot_task(records, results / "plots" / mode / f"{task}.png", mode=mode, task=task,
                                objectives=config["objectives"], languages=config["languages"],
                                seeds=config["evaluation"]["seeds"])

    timed("8 task plots", task_plots, timings)
    logs = {o: results / "pretrain" / o / "train_log.jsonl" for o in config["objectives"]}
    timed("loss curves (5 x 6000 log lines)", lambda: plots.plot_loss_curves(logs, results / "plots" / "loss.png"),
          timings)
    return timings


def run_snakemake(workdir: Path, config: dict) -> float:
    cfg = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    cfg["results_dir"] = "results"
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    targets = [t for t in specs.stage_targets(config) if "tables.pdf" not in t or shutil.which("pdflatex")]
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).with_name("snakemake")), "-s", str(ROOT / "Snakefile"),
                           "-d", str(workdir), "--workflow-profile", "none", "--configfile",
                           str(workdir / "config.yaml"), "--cores", "2", *targets],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(proc.stderr[-3000:])
    print(f"{'snakemake, whole stage, --cores 2':<34} {elapsed:7.2f} s")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snakemake", action="store_true", help="also time the stage through Snakemake")
    parser.add_argument("--workdir", type=Path, help="keep the outputs here (default: a temporary directory)")
    args = parser.parse_args()
    config = validate({"results_dir": "results"})  # the paper's protocol: every default
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lmvsmt-bench-tables-"))
    results = workdir / "results"
    write_inputs(results, config, random.Random(1))
    timings = run_library(results, config)
    total = sum(timings.values())
    verdict = "met" if total <= TARGET_S else "MISSED"
    print(f"{'total (library)':<34} {total:7.2f} s   target <= {TARGET_S:.0f} s: {verdict}")
    if args.snakemake:
        shutil.rmtree(results / "tables")
        shutil.rmtree(results / "plots")
        run_snakemake(workdir, config)
    if not args.workdir:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
