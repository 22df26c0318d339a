"""Paper tables, plots and the tables stage of the workflow, on hand-made result files."""
import functools
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from lmvsmt import vocabulary
from lmvsmt.tables import cells, document, render, specs
from lmvsmt.tables.__main__ import main as tables_main
from lmvsmt.tables import plots
from lmvsmt.config import validate

ROOT = Path(__file__).resolve().parent.parent
PDFLATEX_MISSING = ("pdflatex is not installed: `make sysdeps` (as root) installs Debian's "
                    "texlive-latex-base and texlive-latex-recommended")

# Hand-made accuracies (fractions) for table 1 (probing, double-stack): SA x {en, fr}, seeds 1-3.
#   SA en 2-LM: 0.40 0.42 0.44 -> 42.00 ± 2.00 ; 2-MT: 0.50 0.51 0.52 -> 51.00 ± 1.00 (bold)
#   SA fr 2-LM: 0.60 0.70 0.80 -> 70.00 ± 10.00 ; 2-MT: missing entirely -> dash, so no bold (nothing compared)
#   NER en 2-LM: 0.90 0.92 (seed 3 missing) -> 91.00 ± 1.41, fewer seeds; 2-MT 0.80 x3 -> 80.00 ± 0.00
ACC = {
    ("SA", "2-LM", "en"): [0.40, 0.42, 0.44],
    ("SA", "2-MT", "en"): [0.50, 0.51, 0.52],
    ("SA", "2-LM", "fr"): [0.60, 0.70, 0.80],
    ("NER", "2-LM", "en"): [0.90, 0.92],
    ("NER", "2-MT", "en"): [0.80, 0.80, 0.80],
    ("NER", "2-LM", "fr"): [0.10, 0.10, 0.10],
    ("NER", "2-MT", "fr"): [0.20, 0.20, 0.20],
}


def result_record(mode, objective, task, lang, seed, accuracy, macro_f1=None):
    return {"mode": mode, "objective": objective, "task": task, "language": lang, "seed": seed,
            "accuracy": accuracy, "macro_f1": accuracy / 2 if macro_f1 is None else macro_f1, "micro_f1": accuracy,
            "test_loss": 1.0, "best_epoch": 1, "epochs_run": 2, "wall_time_s": 0.1, "n_test": 10,
            "provenance": {"config_hash": "abc", "git_commit": "x", "versions": {}}}


def write_results(results_dir, grid, mode="probe"):
    paths = []
    for (task, objective, lang), values in grid.items():
        for seed, value in enumerate(values, start=1):
            path = Path(results_dir) / "eval" / mode / objective / task / lang / f"seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result_record(mode, objective, task, lang, seed, value)))
            paths.append(path)
    return paths


def table1(tmp_path, **kwargs):
    records = cells.load_results(write_results(tmp_path, ACC))
    args = dict(objectives=["2-LM", "2-MT", "CLM"], tasks=["SA", "NER"], languages=["en", "fr"], seeds=[1, 2, 3])
    args.update(kwargs)
    return cells.build_result_table("table1", records, **args)


def body_lines(tex):
    return [ln for ln in tex.splitlines() if ln.endswith("\\\\")]


# --------------------------------------------------------------------------- result tables


def test_table1_means_sds_bold_and_dashes(tmp_path):
    tex = render.render_latex(table1(tmp_path))
    rows = body_lines(tex)
    assert rows[0] == "Task & Model & EN & FR \\\\"
    assert rows[1] == "SA & 2-LM & $42.00 \\pm 2.00$ & $70.00 \\pm 10.00$ \\\\"
    assert rows[2] == " & 2-MT & {\\boldmath$51.00 \\pm 1.00$} & -- \\\\"
    assert rows[3] == "NER & 2-LM & {\\boldmath$91.00 \\pm 1.41^{\\dagger}$} & $10.00 \\pm 0.00$ \\\\"
    assert rows[4] == " & 2-MT & $80.00 \\pm 0.00$ & {\\boldmath$20.00 \\pm 0.00$} \\\\"
    assert len(rows) == 5  # CLM is not a double-stack model: not in table 1
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "over 3 seeds (1, 2, 3)" in tex
    assert "$^\\dagger$ marks a mean over fewer seeds" in tex
    assert "A dash marks a missing result" in tex


def test_table1_markdown_and_csv(tmp_path):
    table = table1(tmp_path)
    md = render.render_markdown(table)
    assert "| SA | 2-LM | 42.00 ± 2.00 | 70.00 ± 10.00 |" in md
    assert "|  | 2-MT | **51.00 ± 1.00** | – |" in md
    assert "| NER | 2-LM | **91.00 ± 1.41**† | 10.00 ± 0.00 |" in md
    assert md.startswith("**Table 1.** Accuracy (×100)")
    rows = list(__import__("csv").DictReader(render.render_csv(table).splitlines()))
    assert len(rows) == 2 * 2 * 2  # tasks x objectives x languages: missing cells are rows too
    missing = next(r for r in rows if (r["task"], r["objective"], r["language"]) == ("SA", "2-MT", "fr"))
    assert missing["n_seeds"] == "0" and missing["mean"] == "" and missing["best"] == "0"
    short = next(r for r in rows if (r["task"], r["objective"], r["language"]) == ("NER", "2-LM", "en"))
    assert short["n_seeds"] == "2" and float(short["mean"]) == pytest.approx(91.0)
    assert float(short["sd"]) == pytest.approx(2 ** 0.5)


def test_population_sd_and_decimals(tmp_path):
    tex = render.render_latex(table1(tmp_path, ddof=0, decimals=1))
    # 40, 42, 44: population s.d. = sqrt(8/3) = 1.63
    assert "$42.0 \\pm 1.6$" in tex
    assert "population standard deviation" in tex


def test_single_seed_shows_mean_only(tmp_path):
    records = cells.load_results(write_results(tmp_path, {("SA", "2-LM", "en"): [0.5], ("SA", "2-MT", "en"): [0.25]}))
    tex = render.render_latex(cells.build_result_table(
        "table1", records, objectives=["2-LM", "2-MT"], tasks=["SA"], languages=["en"], seeds=[1]))
    assert "{\\boldmath$50.00$} \\\\" in tex and "$25.00$ \\\\" in tex
    assert "over 1 seed (1)" in tex and "no standard deviation" in tex


def test_ties_bold_every_best_and_lone_model_not_bold(tmp_path):
    grid = {("SA", "2-LM", "en"): [0.5, 0.5], ("SA", "2-MT", "en"): [0.5, 0.5], ("SA", "2-LM", "fr"): [0.3, 0.3]}
    records = cells.load_results(write_results(tmp_path, grid))
    table = cells.build_result_table("table1", records, objectives=["2-LM", "2-MT"], tasks=["SA"],
                                      languages=["en", "fr"], seeds=[1, 2])
    en = [row.entries[0] for row in table.blocks[0].rows]
    fr = [row.entries[1] for row in table.blocks[0].rows]
    assert [e.bold for e in en] == [True, True]
    assert [e.bold for e in fr] == [False, False]  # nothing to compare with


def test_table8_bold_within_architecture_or_table(tmp_path):
    grid = {("SA", o, "en"): [v, v] for o, v in zip(vocabulary.OBJECTIVES, [0.3, 0.4, 0.9, 0.5, 0.6])}
    records = cells.load_results(write_results(tmp_path, grid))
    kw = dict(objectives=list(vocabulary.OBJECTIVES), tasks=["SA"], languages=["en"], seeds=[1, 2])
    arch = cells.build_result_table("table8", records, **kw)
    assert {r.label: r.entries[0].bold for r in arch.blocks[0].rows} == \
        {"2-LM": False, "2-MT": True, "CLM": True, "MLM": False, "TLM": False}
    assert "\\cmidrule(l){2-3}" in render.render_latex(arch)
    assert "Macro-F1" in arch.caption and "within each architecture" in arch.caption
    whole = cells.build_result_table("table8", records, bold_scope="table", **kw)
    assert [r.entries[0].bold for r in whole.blocks[0].rows] == [False, False, True, False, False]
    assert "\\cmidrule" not in render.render_latex(whole)
    first = whole.blocks[0].rows[0].entries[0]
    assert first.mean == pytest.approx(15.0)  # macro-F1 (accuracy / 2 in these records), not accuracy


def test_only_configured_tables_modes_and_objectives():
    cfg = validate({"objectives": ["CLM", "MLM"], "evaluation": {"modes": ["probe"]}})
    assert specs.result_tables_for(cfg) == ["table3", "table8"]
    assert specs.tables_for(cfg) == ["table3", "table6", "table7", "table8"]
    assert specs.tables_for(validate({})) == [f"table{n}" for n in (1, 2, 3, 4, 6, 7, 8, 9)]
    with pytest.raises(specs.TableError, match=r"table2 reports evaluation mode 'finetune'.*evaluation.modes"):
        specs.check_result_table("table2", cfg)
    with pytest.raises(specs.TableError, match=r"table1 shows objectives 2-LM, 2-MT.*config key objectives"):
        specs.check_result_table("table1", cfg)
    spec = specs.check_result_table("table8", cfg)
    assert specs.table_groups(spec, cfg["objectives"]) == [["CLM", "MLM"]]


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.pop("accuracy"), "missing key\\(s\\) accuracy"),
    (lambda r: r.update(accuracy=42.0), "accuracy = 42.0 is not a fraction"),
    (lambda r: r.update(macro_f1="0.5"), "macro_f1 = '0.5' is not a fraction"),
    (lambda r: r.update(objective="MLM"), "objective = 'MLM' does not match its path \\('CLM'\\)"),
    (lambda r: r.update(seed=2), "seed = 2 does not match its path \\(1\\)"),
])
def test_bad_result_file_one_clear_error(tmp_path, edit, message):
    path = tmp_path / "eval" / "probe" / "CLM" / "SA" / "en" / "seed1.json"
    path.parent.mkdir(parents=True)
    record = result_record("probe", "CLM", "SA", "en", 1, 0.5)
    edit(record)
    path.write_text(json.dumps(record))
    with pytest.raises(specs.TableError, match=f"^{path}: .*{message}"):
        cells.load_result(path)


def test_truncated_result_file_names_file_and_line(tmp_path):
    path = tmp_path / "seed1.json"
    path.write_text('{"mode": "probe",\n')
    with pytest.raises(specs.TableError, match=f"^{path}: line 2: not valid JSON"):
        cells.load_result(path)


def test_null_score_is_a_dash(tmp_path):
    paths = write_results(tmp_path, {("SA", "2-LM", "en"): [0.5]})
    record = json.loads(paths[0].read_text())
    record["accuracy"] = None
    paths[0].write_text(json.dumps(record))
    table = cells.build_result_table("table1", cells.load_results(paths), objectives=["2-LM"], tasks=["SA"],
                                      languages=["en"], seeds=[1])
    assert body_lines(render.render_latex(table))[1] == "SA & 2-LM & -- \\\\"


def test_find_result_files_only_configured(tmp_path):
    write_results(tmp_path, ACC)
    write_results(tmp_path, {("SA", "2-LM", "es"): [0.5]})
    cfg = validate({"languages": ["en", "fr"], "objectives": ["2-LM"], "evaluation": {"seeds": [1, 2]}})
    found = cells.find_result_files(tmp_path, cfg)
    assert len(found) == 3 * 2 + 2  # 2-LM: SA en/fr, NER en/fr with seeds 1, 2
    assert all("/es/" not in str(p) and "2-MT" not in str(p) for p in found)


# --------------------------------------------------------------------------- statistics tables

TABLE6 = "corpus\ttrain\tvalid\ttest\ttotal\nunpc\t1200000\t300\t500\t1200800\n"
TABLE7 = ("task\tlanguage\tdataset\ttrain\tvalid\ttest\ttotal\tvalid_in_train\ttest_in_train\ttest_in_valid\n"
          "SA\ten\tamazon_reviews_multi\t200000\t5000\t5000\t210000\t2\t1\t0\n"
          "SA\tfr\tamazon_reviews_multi\t200000\t5000\t5000\t210000\t0\t0\t0\n"
          "NER\ten\twikiann & co\t20000\t10000\t10000\t40000\t0\t3\t0\n")


def test_table6_and_table7(tmp_path):
    (tmp_path / "t6.tsv").write_text(TABLE6)
    (tmp_path / "t7.tsv").write_text(TABLE7)
    t6 = render.render_latex(cells.build_table6(tmp_path / "t6.tsv", ["unpc", "opensubtitles"]))
    assert body_lines(t6)[1:] == ["UNPC & 1,200,000 & 300 & 500 & 1,200,800 \\\\",
                                  "OpenSubtitles & -- & -- & -- & -- \\\\"]
    t7 = cells.build_table7(tmp_path / "t7.tsv", ["SA", "NER"], ["en", "fr"])
    lines = body_lines(render.render_latex(t7))
    assert lines[1] == "SA & EN & amazon\\_reviews\\_multi & 200,000 & 5,000 & 5,000 & 210,000 \\\\"
    assert lines[3] == "NER & EN & wikiann \\& co & 20,000 & 10,000 & 10,000 & 40,000 \\\\"
    assert lines[4] == " & FR & -- & -- & -- & -- & -- \\\\"
    assert "| NER | EN | wikiann & co | 20,000 | 10,000 | 10,000 | 40,000 |" in render.render_markdown(t7)
    csv_text = render.render_csv(t7)
    assert "NER,fr,,,,,,,," in csv_text
    # The inputs that splits share are data for the reader, not columns of the paper's table.
    assert "SA,en,amazon_reviews_multi,200000,5000,5000,210000,2,1,0" in csv_text


@pytest.mark.parametrize("text, message", [
    ("corpus\ttrain\tvalid\ttest\n", "line 1: header"),
    (TABLE6 + "os\t1\t2\n", "line 3: 3 fields, expected 5"),
    (TABLE6 + "os\t1\t2\tx\t3\n", "line 3: test = 'x' is not a non-negative integer"),
    (TABLE6 + "os\t1\t2\t3\t7\n", "line 3: total 7 != train \\+ valid \\+ test \\(6\\)"),
])
def test_bad_statistics_file_one_clear_error(tmp_path, text, message):
    path = tmp_path / "table6.tsv"
    path.write_text(text)
    with pytest.raises(specs.TableError, match=f"^{path}: {message}"):
        cells.build_table6(path)


# --------------------------------------------------------------------------- document and PDF


def make_document(tmp_path):
    t1 = table1(tmp_path)
    (tmp_path / "t6.tsv").write_text(TABLE6)
    (tmp_path / "t7.tsv").write_text(TABLE7)
    out = tmp_path / "tables"
    built = [t1, cells.build_table6(tmp_path / "t6.tsv"), cells.build_table7(tmp_path / "t7.tsv", ["SA"], ["en"])]
    for t in built:
        render.write_table(t, out / f"{t.name}.tex", out / f"{t.name}.csv", out / f"{t.name}.md")
    tex = [out / f"{t.name}.tex" for t in built]
    document.write_document(tex, [p.with_suffix(".md") for p in tex], out / "tables.tex", out / "tables.md")
    return out, tex


def test_document_inputs_every_table(tmp_path):
    out, _ = make_document(tmp_path)
    doc = (out / "tables.tex").read_text()
    assert "\\usepackage{booktabs}" in doc
    assert [ln for ln in doc.splitlines() if ln.startswith("\\input")] == \
        ["\\input{table1}", "\\input{table6}", "\\input{table7}"]
    # Numbered as in the paper, not 1, 2, 3.
    assert "\\setcounter{table}{5}\n\\input{table6}" in doc
    md = (out / "tables.md").read_text()
    assert md.index("**Table 1.**") < md.index("**Table 6.**") < md.index("**Table 7.**")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason=PDFLATEX_MISSING)
def test_tables_compile_with_pdflatex(tmp_path):
    out, tex = make_document(tmp_path)
    pdf = tmp_path / "tables.pdf"
    document.compile_pdf(out / "tables.tex", pdf, tex)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 1000
    # Pinned dates: the same document compiles to the same bytes.
    document.compile_pdf(out / "tables.tex", tmp_path / "again.pdf", tex)
    assert (tmp_path / "again.pdf").read_bytes() == data


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason=PDFLATEX_MISSING)
def test_latex_error_is_one_line_and_keeps_old_pdf(tmp_path):
    bad = tmp_path / "bad.tex"
    bad.write_text("\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}\n")
    pdf = tmp_path / "bad.pdf"
    pdf.write_bytes(b"old")
    with pytest.raises(specs.TableError, match=r"bad.tex: pdflatex failed: ! Undefined control sequence"):
        document.compile_pdf(bad, pdf)
    assert pdf.read_bytes() == b"old"


def test_missing_pdflatex_says_what_to_install(tmp_path):
    with pytest.raises(specs.TableError, match="no-such-latex not found: install it with `apt-get install"):
        document.compile_pdf(tmp_path / "x.tex", tmp_path / "x.pdf", pdflatex="no-such-latex")


# --------------------------------------------------------------------------- plots


def test_task_plot_and_loss_curves(tmp_path):
    records = cells.load_results(write_results(tmp_path, ACC))
    png = tmp_path / "plots" / "SA.png"
    plots.plot_task(records, png, mode="probe", task="SA", objectives=["2-LM", "2-MT"], languages=["en", "fr"],
                    seeds=[1, 2, 3], dpi=50)
    assert png.read_bytes().startswith(b"\x89PNG")
    logs = {}
    for objective in ("2-LM", "CLM"):
        log = tmp_path / f"{objective}.jsonl"
        log.write_text("".join(json.dumps({"update": u, "train_loss": 5 - u / 100}) + "\n" for u in range(0, 300, 50))
                       + json.dumps({"update": 250, "valid_loss": 3.5}) + "\n")
        logs[objective] = log
    plots.plot_loss_curves(logs, tmp_path / "loss.png", dpi=50)
    assert (tmp_path / "loss.png").read_bytes().startswith(b"\x89PNG")
    entries = plots.read_train_log(logs["CLM"])
    assert plots._curve(entries, "valid_loss") == ([250], [3.5])


def test_bad_train_log_names_file_and_line(tmp_path):
    log = tmp_path / "train_log.jsonl"
    log.write_text('{"update": 1, "train_loss": 2}\n{"train_loss": 2}\n')
    with pytest.raises(specs.TableError, match=f"^{log}: line 2: expected an object with a numeric 'update'"):
        plots.read_train_log(log)


# --------------------------------------------------------------------------- workflow


def planned_jobs(output):
    """Rule names in the "Job stats" table of a dry run."""
    return {m.group(1) for m in re.finditer(r"^(\w+) +\d+$", output, re.M)} - {"total"}


def test_workflow_builds_tables_alone_and_only_what_changed(tmp_path, snakemake):
    # The demo config (valid for every stage) on a smaller grid.
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg.update(results_dir="results", languages=["en", "fr"], objectives=["2-LM", "2-MT"], tasks=["SA", "NER"])
    cfg["corpus"]["corpora"] = ["unpc", "opensubtitles"]
    cfg["evaluation"].update(modes=["probe"], seeds=[1, 2, 3])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    results = tmp_path / "results"
    in_tmp = functools.partial(snakemake, "-d", tmp_path, configfile=tmp_path / "config.yaml", cores=1, timeout=300)
    full = {k: (v + [v[-1]])[:3] for k, v in ACC.items()}  # every configured file must exist
    full[("SA", "2-MT", "fr")] = [0.1, 0.1, 0.1]
    paths = write_results(results, full)

    proc = in_tmp("results/tables/table1.tex")
    assert proc.returncode == 0, proc.stderr
    tex = (results / "tables" / "table1.tex").read_text()
    assert "SA & 2-LM & $42.00 \\pm 2.00$ & {\\boldmath$70.00 \\pm 10.00$} \\\\" in tex
    assert not (results / "tables" / "table8.tex").exists()  # asked for one table only

    proc = in_tmp("results/tables/table1.tex")
    assert proc.returncode == 0 and "Nothing to be done" in proc.stderr, proc.stderr

    proc = in_tmp("results/tables/table2.tex")  # fine-tuning is not configured
    assert proc.returncode != 0
    assert "table2 reports evaluation mode 'finetune', which config key evaluation.modes" in proc.stderr

    # Everything of the stage, then the HTML report that collects it.
    (results / "stats").mkdir()
    (results / "stats" / "table6.tsv").write_text(TABLE6)
    (results / "stats" / "table7.tsv").write_text(TABLE7)
    for objective in cfg["objectives"]:
        log = results / "pretrain" / objective / "train_log.jsonl"
        log.parent.mkdir(parents=True)
        log.write_text(json.dumps({"update": 10, "train_loss": 3.0, "valid_loss": 3.2}) + "\n")
    targets = ["results/tables/tables.md", "results/plots/probe/SA.png", "results/plots/probe/NER.png",
               "results/plots/pretraining_loss.png"] + [f"results/tables/table{n}.csv" for n in (1, 6, 7, 8)]
    if shutil.which("pdflatex"):
        targets.append("results/tables/tables.pdf")
    proc = in_tmp(*targets)
    assert proc.returncode == 0, proc.stderr
    doc = (results / "tables" / "tables.tex").read_text()
    assert [ln for ln in doc.splitlines() if ln.startswith("\\input")] == \
        ["\\input{table1}", "\\input{table6}", "\\input{table7}", "\\input{table8}"]

    # A changed table setting reruns the tables that use it (params trigger), not the plots.
    pdf = {"tables_pdf"} if shutil.which("pdflatex") else set()
    decimals = cfg.setdefault("tables", {}).get("decimals", 2)
    cfg["tables"]["decimals"] = decimals + 1
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = in_tmp("-n", *targets, "--quiet", "rules")
    assert proc.returncode == 0, proc.stderr
    assert planned_jobs(proc.stdout + proc.stderr) == {"result_table", "tables_document"} | pdf
    cfg["tables"]["decimals"] = decimals
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))

    # A changed result file rebuilds the tables and plots that read it, nothing else.
    paths[0].write_text(json.dumps(result_record("probe", "2-LM", "SA", "en", 1, 0.46)))
    proc = in_tmp("-n", *targets, "--quiet", "rules")
    assert proc.returncode == 0, proc.stderr
    # Not the statistics tables, not the loss curves.
    assert planned_jobs(proc.stdout + proc.stderr) == {"result_table", "task_plot", "tables_document"} | pdf

    proc = in_tmp("--report", str(tmp_path / "report.html"), *targets)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "report.html").stat().st_size > 10000


def test_render_available_partial_results(tmp_path):
    """A run in progress: the command line renders what exists, dashes for the rest."""
    results = tmp_path / "results"
    write_results(results, {("SA", "2-LM", "en"): [0.5, 0.6]})
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"results_dir": str(results), "languages": ["en", "fr"], "tasks": ["SA"],
                                   "objectives": ["2-LM", "2-MT"], "evaluation": {"seeds": [1, 2, 3]}}))
    out = tmp_path / "partial"
    tables_main(["--configfile", str(cfg), "--out", str(out), "--no-pdf"])
    assert sorted(p.name for p in out.glob("table[0-9].tex")) == \
        ["table1.tex", "table2.tex", "table8.tex", "table9.tex"]
    lines = body_lines((out / "table1.tex").read_text())
    assert lines[1:] == ["SA & 2-LM & $55.00 \\pm 7.07^{\\dagger}$ & -- \\\\", " & 2-MT & -- & -- \\\\"]
    assert body_lines((out / "table2.tex").read_text())[1:] == ["SA & 2-LM & -- & -- \\\\", " & 2-MT & -- & -- \\\\"]
    assert "\\input{table9}" in (out / "tables.tex").read_text()
