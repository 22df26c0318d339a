"""The companion paper's analyses on small known inputs: linear CKA, weight spectra,
the parallel sentence sample, and zero-shot transfer through the probing and
fine-tuning code paths (a transfer cell trained and tested on one language is the
ordinary result)."""
import json
import math

from pathlib import Path

import pytest
import torch
import yaml

from lmvsmt import config as lmvsmt_config
from lmvsmt.tables import cells, render, specs
from lmvsmt.evaluate import finetune, jobs, probe, results
from lmvsmt.analysis import outputs, sentences, similarity, spectra, transfer
from test_evaluation import HEAD, OPTIM, WORDS, ToyEncoder, ToySubwords, dictionary_for, write_pos, write_sa

ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------- CKA


def test_cka_of_a_representation_with_itself_is_one():
    x = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    assert similarity.linear_cka(x, x) == pytest.approx(1.0)
    wide = torch.randn(5, 30, generator=torch.Generator().manual_seed(1))  # fewer items than features
    assert similarity.linear_cka(wide, wide) == pytest.approx(1.0)


def test_cka_is_invariant_to_orthogonal_rotation_and_isotropic_scaling():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(40, 6, generator=gen, dtype=torch.float64)
    y = torch.randn(40, 5, generator=gen, dtype=torch.float64)
    y = y + x[:, :5]  # related, so the value is far from 0 and 1
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=gen, dtype=torch.float64))
    base = similarity.linear_cka(x, y)
    assert 0.2 < base < 0.95
    assert similarity.linear_cka(x @ q, y) == pytest.approx(base, abs=1e-9)
    assert similarity.linear_cka(3.7 * x, 0.2 * y) == pytest.approx(base, abs=1e-9)
    assert similarity.linear_cka(x + 5.0, y) == pytest.approx(base, abs=1e-9)  # centring: shifts do not count


def test_cka_matches_hand_computed_values():
    # One feature each: CKA is the squared correlation. x - mean = (-1, 0, 1), y - mean = (0, -1, 1):
    # (x.y)^2 / (|x|^2 |y|^2) = 1 / (2 * 2).
    assert similarity.linear_cka(torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[1.0], [0.0], [2.0]])) == \
        pytest.approx(0.25)
    # Centred already: Y'X = (2, 0) -> 4; |X'X|_F = |diag(2, 2)| = sqrt(8); |Y'Y|_F = 2 -> 4 / (2 sqrt 8).
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    y = torch.tensor([[1.0], [-1.0], [0.0], [0.0]])
    assert similarity.linear_cka(x, y) == pytest.approx(1 / math.sqrt(2))


def test_cka_matrix_agrees_with_pairwise_cka_and_undefined_is_nan():
    gen = torch.Generator().manual_seed(3)
    reps = [torch.randn(30, d, generator=gen) for d in (4, 7, 3)]
    matrix = similarity.cka_matrix(reps)
    for i in range(3):
        for j in range(3):
            assert matrix[i, j].item() == pytest.approx(similarity.linear_cka(reps[i], reps[j]), abs=1e-9)
    assert math.isnan(similarity.linear_cka(torch.ones(10, 3), reps[0][:10]))


# --------------------------------------------------------------------------- spectra


def test_spectra_of_a_known_matrix():
    gen = torch.Generator().manual_seed(4)
    u, _ = torch.linalg.qr(torch.randn(6, 6, generator=gen, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(4, 4, generator=gen, dtype=torch.float64))
    sigma = torch.tensor([5.0, 3.0, 2.0, 0.5], dtype=torch.float64)
    matrix = u[:, :4] @ torch.diag(sigma) @ v.T  # 6 x 4 with singular values 5, 3, 2, 0.5
    values = spectra.singular_values(matrix.float())
    assert values == pytest.approx([5.0, 3.0, 2.0, 0.5], abs=1e-5)
    spectrum = spectra.Spectrum("CLM", "decoder", "self", 1, "k", (6, 4), values)
    assert spectrum.norm == pytest.approx(math.sqrt(25 + 9 + 4 + 0.25), abs=1e-5)
    assert spectrum.norm == pytest.approx(matrix.norm().item(), abs=1e-5)  # = the Frobenius norm


def test_fairseq_parameter_names_are_classified():
    assert spectra.classify("encoder.layers.0.self_attn.k_proj.weight") == ("encoder", "self", 1, "k")
    assert spectra.classify("decoder.layers.2.encoder_attn.out_proj.weight") == ("decoder", "cross", 3, "o")
    assert spectra.classify("decoder.layers.1.fc1.weight") == ("decoder", "self", 2, "up")
    assert spectra.classify("encoder.sentence_encoder.layers.0.fc2.weight") == ("encoder", "self", 1, "down")
    assert spectra.classify("encoder.layers.0.self_attn.k_proj.bias") is None
    assert spectra.classify("decoder.embed_tokens.weight") is None


def test_two_models_are_compared_layer_by_layer_where_shapes_match():
    def model(objective, stack, scale, ffn):
        return spectra.model_spectra(objective, [
            (f"{stack}.layers.0.self_attn.q_proj.weight", scale * torch.eye(3)),
            (f"{stack}.layers.0.fc1.weight", scale * torch.ones(ffn, 3)),
        ])

    clm, mlm = model("CLM", "decoder", 2.0, 4), model("MLM", "encoder", 1.0, 5)
    rows = spectra.compare(clm, mlm, same_stack=False)
    assert [(r["matrix"], r["layer"]) for r in rows] == [("q", 1)]  # FFN shapes differ: not compared
    assert rows[0]["norm_difference"] == pytest.approx(2 * math.sqrt(3) - math.sqrt(3))
    assert rows[0]["spectral_distance"] == pytest.approx(math.sqrt(3))  # (2-1) on each of 3 singular values
    assert spectra.compare(clm, mlm, same_stack=True) == []  # decoder vs encoder
    table = spectra.build_table(clm + mlm, rows, [("CLM", "MLM")])
    text = render.render_markdown(table)
    assert "| CLM vs MLM | CLM decoder | – | 3.46 | – | – | 6.93 | – |" in text
    assert "|  | CLM - MLM | – | 1.73 | – | – | – | – |" in text  # FFN up: shapes differ


def test_spectra_files_round_trip(tmp_path):
    spectrum = spectra.Spectrum("2-LM", "encoder", "self", 1, "v", (2, 2), (2.0, 1.0))
    spectra.write_spectra(tmp_path / "s.csv", [spectrum])
    assert spectra.read_spectra(tmp_path / "s.csv") == [spectrum]
    (tmp_path / "bad.csv").write_text("objective,stack\nCLM,decoder\n")
    with pytest.raises(spectra.SpectraError, match=r"bad.csv: line 1: header"):
        spectra.read_spectra(tmp_path / "bad.csv")


# --------------------------------------------------------------------------- sentences


def write_bitext(directory, l1, l2, lines1, lines2):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"bitext.{l1}-{l2}.{l1}").write_text("".join(f"{s}\n" for s in lines1))
    (directory / f"bitext.{l1}-{l2}.{l2}").write_text("".join(f"{s}\n" for s in lines2))


def test_sentences_are_aligned_seeded_and_shared_by_languages(tmp_path):
    langs = ["en", "fr", "zh"]
    for l1, l2 in (("en", "fr"), ("en", "zh"), ("fr", "zh")):
        write_bitext(tmp_path, l1, l2, [f"{l1} {i} {l2}" for i in range(30)], [f"{l2} {i} {l1}" for i in range(30)])
    files = sentences.bitext_files([str(tmp_path)], ".", langs)
    a = sentences.sample_sentences(files, 10, seed=1)
    assert a == sentences.sample_sentences(files, 10, seed=1)
    assert a.pairs != sentences.sample_sentences(files, 10, seed=2).pairs
    for pair, sides in a.pairs.items():
        l1, l2 = pair.split("-")
        assert len(sides[l1]) == 10 and [s.split()[1] for s in sides[l1]] == [s.split()[1] for s in sides[l2]]
    assert sorted(a.languages) == langs and all(len(v) == 10 for v in a.languages.values())
    assert sentences.sample_sentences(files, 100, seed=1).pairs["en-fr"]["en"][29] == "en 29 fr"  # all when fewer
    a.save(tmp_path / "s.json")
    assert sentences.Sentences.load(tmp_path / "s.json") == a


def test_missing_bitext_and_switched_off_analysis_say_so_in_one_line(tmp_path):
    write_bitext(tmp_path, "en", "fr", ["a"], ["b"])
    files = sentences.bitext_files([str(tmp_path)], ".", ["en", "fr", "ru"])
    with pytest.raises(sentences.SimilarityError, match=r"bitext.en-ru.en: missing bitext file"):
        sentences.sample_sentences(files, 5, seed=1)
    config = lmvsmt_config.validate({"analysis": {"similarity": {"source": "none"}}})
    with pytest.raises(lmvsmt_config.ConfigError, match=r"switched off \(analysis.similarity.source: none\)"):
        outputs.sentence_files(config)
    assert not any("similarity" in t or "cka" in t for t in outputs.stage_targets(config))
    config = lmvsmt_config.validate({"analysis": {"similarity": {"source": "files"}}})
    with pytest.raises(lmvsmt_config.ConfigError, match=r"analysis.similarity.files must name a directory"):
        outputs.check(config)
    config["analysis"]["similarity"]["files"] = str(tmp_path / "nowhere")
    with pytest.raises(lmvsmt_config.ConfigError, match=r"analysis.similarity.files: .*nowhere: no such directory"):
        outputs.check(config)
    config["analysis"]["similarity"]["files"] = str(tmp_path)
    outputs.check(config)
    assert str(tmp_path / "bitext.en-fr.en") in outputs.sentence_files(config)


def test_cka_is_left_out_with_a_note_when_no_model_is_pretrained_here():
    released = yaml.safe_load((ROOT / "config" / "released.yaml").read_text())
    assert released["analysis"]["similarity"]["source"] == "none"  # as shipped: said in the config
    del released["analysis"]
    config = lmvsmt_config.validate(released)
    notice = outputs.similarity_notice(config)
    assert notice.startswith("note: analysis.similarity.source is 'pretraining' but this configuration pretrains "
                             "no model") and "analysis.similarity.source: files" in notice
    targets = outputs.stage_targets(config)
    assert not any("similarity" in t or "cka" in t for t in targets) and any("spectra" in t for t in targets)
    with pytest.raises(lmvsmt_config.ConfigError, match="builds no corpus: CKA is left out"):
        outputs.sentence_files(config)
    assert outputs.similarity_notice(lmvsmt_config.validate({})) is None  # the demo's models are pretrained here


def test_transfer_sources_must_be_configured_languages():
    with pytest.raises(lmvsmt_config.ConfigError, match=r"analysis.transfer.sources\[0\]: 'de' is not allowed"):
        lmvsmt_config.validate({"analysis": {"transfer": {"sources": ["de"]}}})
    config = lmvsmt_config.validate({"languages": ["en", "fr"], "analysis": {"transfer": {"sources": ["ru"]}}})
    with pytest.raises(lmvsmt_config.ConfigError, match=r"analysis.transfer.sources: 'ru' not among the configured"):
        outputs.check(config)
    config = lmvsmt_config.validate({"corpus": {"corpora": ["unpc"]},
                                     "analysis": {"similarity": {"corpora": ["opensubtitles"]}}})
    with pytest.raises(lmvsmt_config.ConfigError, match=r"corpora: 'opensubtitles' not among the pretraining corpora"):
        outputs.check(config)


# --------------------------------------------------------------------------- transfer


def test_relabel_maps_to_the_source_ids_and_refuses_unknown_labels():
    ids = torch.tensor([0, 1, 1, 2])
    assert transfer.relabel(ids, ["a", "b", "c"], ["c", "b", "a", "d"]).tolist() == [2, 1, 1, 0]
    with pytest.raises(transfer.LabelMismatch, match=r"x.pt: test label\(s\) 'c' unknown to the source's head"):
        transfer.relabel(ids, ["a", "b", "c"], ["a", "b"], "x.pt")


@pytest.fixture
def pos_features(tmp_path):
    """Cached POS features of one toy encoder for three 'languages' (different data
    seeds), the third with a tag the others lack."""
    sub = ToySubwords()
    d = dictionary_for(sub, [" ".join(w for ws in WORDS.values() for w in ws)])
    torch.manual_seed(0)
    model = ToyEncoder(d)
    paths = {}
    for i, lang in enumerate(["en", "fr", "zh"]):
        data = tmp_path / "data" / lang
        data.mkdir(parents=True)
        write_pos(data, seed=i)
        if lang == "zh":
            with open(data / "test.conll", "a") as fh:
                fh.write("cat\tPROPN\n\n")
            (data / "meta.json").write_text(json.dumps({"labels_observed": ["ADJ", "DET", "NOUN", "PROPN", "VERB"]}))
        labels, encoded = probe.load_task(data, "POS", lang, sub, d, max_length=64)
        paths[lang] = tmp_path / "features" / lang / "features.pt"
        probe.extract_features(model, labels, encoded, lang, "POS", "sum", 32, paths[lang])
    return paths


def test_probing_job_writes_transfer_cells_the_in_language_one_being_its_result_file(pos_features, tmp_path):
    probe_optim = {k: v for k, v in OPTIM.items() if k != "amp"}
    config = lmvsmt_config.validate({"results_dir": str(tmp_path), "evaluation": {"head": HEAD, "probe": probe_optim}})
    seeds = (1, 2)
    unit = jobs.Unit(
        "POS", "en", str(tmp_path), str(pos_features["en"]), {s: str(tmp_path / f"eval/seed{s}.json") for s in seeds},
        {test: {"features": str(path), "data_dir": "", "results": {s: str(tmp_path / f"t/{test}/seed{s}.json")
                                                                   for s in seeds}}
         for test, path in pos_features.items()})
    jobs.probe_job("CLM", [unit], config)
    for seed in seeds:
        ordinary = results.read_result(unit.results[seed])
        cell = results.read_result(unit.transfer["en"]["results"][seed])
        assert (cell["train_language"], cell["test_language"], cell["language"]) == ("en", "en", "en")
        assert {k: v for k, v in cell.items() if k not in ("train_language", "test_language")} == ordinary
        # ... and the ordinary result is what probing without transfer gives
        alone = probe.probe(pos_features["en"], seed, config["evaluation"]["head"], config["evaluation"]["probe"])
        assert {k: v for k, v in alone.items() if k != "wall_time_s"} == \
            {k: ordinary[k] for k in alone if k != "wall_time_s"}
        fr = results.read_result(unit.transfer["fr"]["results"][seed])
        assert fr["train_language"] == "en" and fr["test_language"] == "fr" and 0.5 < fr["accuracy"] <= 1.0
        assert fr["n_test"] == len(torch.load(pos_features["fr"], weights_only=True)["test"]["y"])
        zh = results.read_result(unit.transfer["zh"]["results"][seed])
        assert zh["accuracy"] is None and "'PROPN' unknown to the source's head" in zh["skipped"]


def test_finetuning_transfer_scores_other_languages_without_changing_the_run(tmp_path):
    sub = ToySubwords()
    d = dictionary_for(sub, ["the is good great bad awful " + " ".join(WORDS["NOUN"])])
    for i, lang in enumerate(["en", "fr"]):
        (tmp_path / lang).mkdir()
        write_sa(tmp_path / lang, seed=i)
    labels, encoded = probe.load_task(tmp_path / "en", "SA", "en", sub, d, max_length=32)
    tests, skipped = transfer.finetune_tests("en", "SA", {"en": str(tmp_path / "en"), "fr": str(tmp_path / "fr")},
                                             sub, d, labels, 32)
    assert list(tests) == ["fr"] and skipped == {}
    torch.manual_seed(0)
    model = ToyEncoder(d)
    plain = dict(finetune.finetune_seeds(model, labels, encoded, "en", "SA", [1], HEAD, OPTIM))[1]
    with_tests = dict(finetune.finetune_seeds(model, labels, encoded, "en", "SA", [1], HEAD, OPTIM,
                                              transfer_tests=tests))[1]
    scored = with_tests.pop("transfer")
    for m in (plain, with_tests):
        m.pop("wall_time_s")
    assert with_tests == plain  # scoring further test sets changes nothing of the run
    assert scored["fr"]["n_test"] == 60 and scored["fr"]["accuracy"] > 0.9
    # The same test set scored as a transfer test gives the ordinary test metrics.
    same = {"again": ("en", encoded["test"])}
    again = dict(finetune.finetune_seeds(model, labels, encoded, "en", "SA", [1], HEAD, OPTIM,
                                         transfer_tests=same))[1]["transfer"]["again"]
    again.pop("wall_time_s")
    assert again == plain


def transfer_record(mode, objective, task, train, test, seed, accuracy):
    path = outputs.transfer_result("R", mode, objective, task, train, test, seed)
    return path, {"mode": mode, "objective": objective, "task": task, "language": test, "seed": seed,
                  "accuracy": accuracy, "macro_f1": accuracy, "train_language": train, "test_language": test,
                  "provenance": {}}


def test_transfer_table_shows_zero_shot_scores_and_the_gap(tmp_path):
    langs, seeds = ["en", "fr", "zh"], [1, 2]
    transfer_paths, ordinary = [], []
    for objective in ("2-LM", "CLM"):
        for test in langs:
            for seed in seeds:
                zero_shot = {"en": 0.80, "fr": 0.50, "zh": 0.30}[test] + (0.1 if objective == "CLM" else 0.0)
                path, rec = transfer_record("probe", objective, "SA", "en", test, seed, zero_shot + seed / 100)
                if test == "zh" and objective == "2-LM":
                    rec.update(accuracy=None, macro_f1=None, skipped="labels differ")
                path = tmp_path / path
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(rec))
                transfer_paths.append(path)
                ordinary.append({"mode": "probe", "objective": objective, "task": "SA", "language": test,
                                 "seed": seed, "accuracy": 0.7 + seed / 100, "macro_f1": 0.7})
    records = cells.load_results(transfer_paths, outputs.TRANSFER_PATH_KEYS)
    table = transfer.build_table(records, ordinary, mode="probe", source="en", objectives=["2-LM", "CLM"],
                                 tasks=["SA"], languages=langs, seeds=seeds)
    text = render.render_markdown(table)
    # 2-LM: fr 51.5 vs in-language 71.5 -> gap -20.00 (zh not scored: a dash, left out of the gap)
    assert "| SA | 2-LM | 81.50 ± 0.71 | 51.50 ± 0.71 | – | -20.00 |" in text
    # CLM: fr 61.5 - 71.5 = -10, zh 41.5 - 71.5 = -30 -> -20; no bold across architectures ...
    assert "|  | CLM | 91.50 ± 0.71 | 61.50 ± 0.71 | 41.50 ± 0.71 | -20.00 |" in text
    # ... unless asked for (a column with one score has no bold)
    merged = transfer.build_table(records, ordinary, mode="probe", source="en", objectives=["2-LM", "CLM"],
                                  tasks=["SA"], languages=langs, seeds=seeds, bold_scope="table")
    assert "|  | CLM | **91.50 ± 0.71** | **61.50 ± 0.71** | 41.50 ± 0.71 | -20.00 |" in \
        render.render_markdown(merged)
    assert "labels the source's head does not know" in table.caption
    # CSV: per test language the zero-shot mean and s.d., the in-language mean and the gap
    assert "transfer_probe_en,accuracy,probe,en,SA,CLM,zh,2,41.500000,0.707107,0,71.500000,-30.000000" in \
        render.render_csv(table)
    # A transfer file under the wrong directories is refused, naming it.
    bad = tmp_path / outputs.transfer_result("R", "probe", "CLM", "SA", "fr", "en", 1)
    bad.parent.mkdir(parents=True)
    bad.write_text(transfer_paths[-1].read_text())
    with pytest.raises(specs.TableError, match=r"key train_language = 'en' does not match its path \('fr'\)"):
        cells.load_results([bad], outputs.TRANSFER_PATH_KEYS)
