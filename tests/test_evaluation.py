"""Probing and fine-tuning logic on a toy encoder: data formats, first-sub-word
labelling, the feature cache, the authors' protocol (early stopping, head
initialisation, words beyond the input window scored as errors), model selection,
seeds and determinism."""
import json
import random
from pathlib import Path

import pytest
import torch
from fairseq.data import Dictionary
from torch import nn

from lmvsmt import config as lmvsmt_config
from lmvsmt.evaluate import taskdata
from lmvsmt.downstream.common import DataError, TextExample, TokenExample, read_split
from lmvsmt.evaluate import finetune, probe, results
from lmvsmt.evaluate.head import HEAD_INITS, Head, fit, pool, scores
from lmvsmt.vocabulary import SPLITS

ROOT = Path(__file__).resolve().parent.parent
WORDS = {"NOUN": ["cat", "dog", "tree", "house", "river"], "VERB": ["runs", "sees", "eats", "likes"],
         "ADJ": ["red", "big", "old"], "DET": ["the", "a"]}


class ToySubwords:
    """Splits words into two-character pieces, so words have several sub-words."""

    def encode_words(self, words):
        return [[w[i:i + 2] for i in range(0, len(w), 2)] for w in words]

    def encode(self, text):
        return [p for ps in self.encode_words(text.split()) for p in ps]

    def align_words(self, words, joiner):
        pieces, firsts = [], []
        for word_pieces in self.encode_words(words):
            firsts.append(len(pieces))
            pieces.extend(word_pieces)
        return pieces, firsts


class ToyEncoder(nn.Module):
    def __init__(self, dictionary, dim=16):
        super().__init__()
        self.dictionary, self.hidden_size = dictionary, dim
        self.emb = nn.Embedding(len(dictionary), dim, padding_idx=dictionary.pad())
        self.mix = nn.Linear(dim, dim)

    def encode(self, tokens, lang):
        return torch.tanh(self.mix(self.emb(tokens)))


def _pos_sentence(rng):
    tags = ["DET", "ADJ", "NOUN", "VERB", "DET", "NOUN"][: rng.randint(3, 6)]
    return [(rng.choice(WORDS[t]), t) for t in tags]


def write_pos(dir_, n=(200, 40, 60), seed=0, repeat=1):
    """POS splits; `repeat` > 1 makes each sentence its words `repeat` times over."""
    rng = random.Random(seed)
    for split, size in zip(SPLITS, n):
        with open(dir_ / f"{split}.conll", "w") as fh:
            for _ in range(size):
                fh.write("".join(f"{w}\t{t}\n" for w, t in _pos_sentence(rng) * repeat) + "\n")


def write_sa(dir_, n=(200, 40, 60), seed=0):
    rng = random.Random(seed)
    for split, size in zip(SPLITS, n):
        with open(dir_ / f"{split}.tsv", "w") as fh:
            for _ in range(size):
                label = rng.choice(["positive", "negative"])
                word = rng.choice(["good", "great"] if label == "positive" else ["bad", "awful"])
                fh.write(f"the {rng.choice(WORDS['NOUN'])} is {word}\t{label}\n")


def dictionary_for(subwords, texts):
    d = Dictionary()
    for t in texts:
        for p in subwords.encode(t):
            d.add_symbol(p)
    return d


@pytest.fixture
def pos_task(tmp_path):
    write_pos(tmp_path)
    sub = ToySubwords()
    vocab = " ".join(w for ws in WORDS.values() for w in ws)
    d = dictionary_for(sub, [vocab])
    torch.manual_seed(0)
    model = ToyEncoder(d)
    labels, encoded = probe.load_task(tmp_path, "POS", "en", sub, d, max_length=64)
    return model, labels, encoded


HEAD = {"hidden": 32, "dropout": 0.1, "pooling": "sum", "init": "xavier_uniform"}
OPTIM = {"epochs": 6, "patience": 3, "lr": 0.01, "batch_size": 16, "weight_decay": 0.0, "amp": False}


def test_token_task_is_labelled_on_first_subword():
    d = Dictionary()
    sub = ToySubwords()
    for p in sub.encode("house cat a"):
        d.add_symbol(p)
    ex = [TokenExample(("house", "cat", "a"), ("NOUN", "NOUN", "DET"))]
    enc = taskdata.encode(ex, "POS", "en", sub, d, ["DET", "NOUN"], max_length=64)
    assert enc.firsts == [[0, 3, 5]]  # ho|us|e, ca|t, a
    assert enc.labels == [[1, 1, 0]]
    cut = taskdata.encode(ex, "POS", "en", sub, d, ["DET", "NOUN"], max_length=4)
    assert cut.firsts == [[0, 3]] and cut.labels == [[1, 1]] and cut.truncated_words == 1


def test_bad_task_files_name_file_and_line(tmp_path):
    (tmp_path / "train.tsv").write_text("a b\tpositive\nonly one column\n")
    with pytest.raises(DataError, match=r"train.tsv:2: expected 2 tab-separated columns, found 1"):
        read_split(tmp_path / "train.tsv", "SA")
    (tmp_path / "train.conll").write_text("cat\tNOUN\nruns\tVERB\textra\n")
    with pytest.raises(DataError, match=r"train.conll:2: expected 'token<TAB>label'"):
        read_split(tmp_path / "train.conll", "POS")
    (tmp_path / "valid.tsv").write_text("")
    with pytest.raises(DataError, match=r"valid.tsv: empty split"):
        read_split(tmp_path / "valid.tsv", "SA")
    (tmp_path / "valid.tsv").write_text("\n")  # a blank line is no example either
    with pytest.raises(DataError, match=r"valid.tsv:1: expected 2 tab-separated columns, found 1"):
        read_split(tmp_path / "valid.tsv", "SA")
    ex = [TextExample(("x",), "neutral")]
    with pytest.raises(DataError, match=r"test.tsv: example 1: unknown label 'neutral'"):
        taskdata.encode(ex, "SA", "en", ToySubwords(), Dictionary(), ["negative", "positive"], 64, where="test.tsv")


def test_label_inventory_comes_from_meta_json_when_present(tmp_path):
    train = [TokenExample(("a",), ("DET",))]
    assert taskdata.label_set(train, tmp_path) == ["DET"]
    (tmp_path / "meta.json").write_text(json.dumps({"labels_observed": ["NOUN", "DET", "X"]}))
    assert taskdata.label_set(train, tmp_path) == ["DET", "NOUN", "X"]


def test_scores_match_scikit_learn():
    from sklearn.metrics import f1_score

    rng = random.Random(0)
    for _ in range(50):
        golds = [rng.randrange(5) for _ in range(40)]
        preds = [g if rng.random() < 0.6 else rng.randrange(6) for g in golds]
        got = scores(preds, golds)
        assert got["macro_f1"] == pytest.approx(f1_score(golds, preds, average="macro", zero_division=0))
        assert got["micro_f1"] == pytest.approx(f1_score(golds, preds, average="micro", zero_division=0))
        assert got["accuracy"] == pytest.approx(sum(p == g for p, g in zip(preds, golds)) / 40)


def test_sum_pooling_ignores_padding():
    states = torch.ones(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    assert pool(states, mask, "sum")[:, 0].tolist() == [2.0, 1.0]
    assert pool(states, mask, "mean")[:, 0].tolist() == [1.0, 1.0]


def test_probe_learns_pos_from_cached_features_and_beats_majority(pos_task, tmp_path):
    model, labels, encoded = pos_task
    cache = tmp_path / "features.pt"
    probe.extract_features(model, labels, encoded, "en", "POS", "sum", 32, cache)
    stored = torch.load(cache, weights_only=True)
    assert stored["train"]["x"].dtype == torch.float16
    assert stored["train"]["x"].shape[0] == sum(len(l) for l in encoded["train"].labels)
    metrics = probe.probe(cache, seed=1, head_cfg=HEAD, optim=OPTIM)
    assert metrics["accuracy"] > probe.majority_baseline(cache) + 0.3
    assert 1 <= metrics["best_epoch"] <= metrics["epochs_run"] <= OPTIM["epochs"]
    assert len(metrics["valid_losses"]) == metrics["epochs_run"]


def test_probe_is_deterministic_per_seed(pos_task, tmp_path):
    model, labels, encoded = pos_task
    cache = tmp_path / "features.pt"
    probe.extract_features(model, labels, encoded, "en", "POS", "sum", 32, cache)
    a, b, c = (probe.probe(cache, seed=s, head_cfg=HEAD, optim=OPTIM) for s in (3, 3, 4))
    for m in (a, b, c):
        m.pop("wall_time_s")
    assert a == b
    assert a["valid_losses"] != c["valid_losses"]


def test_finetune_trains_the_encoder_and_every_seed_starts_from_pretrained(tmp_path):
    write_sa(tmp_path)
    sub = ToySubwords()
    d = dictionary_for(sub, ["the is good great bad awful " + " ".join(WORDS["NOUN"])])
    torch.manual_seed(0)
    model = ToyEncoder(d)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    labels, encoded = probe.load_task(tmp_path, "SA", "en", sub, d, max_length=32)
    trained = []
    for seed, metrics in finetune.finetune_seeds(model, labels, encoded, "en", "SA", [1, 2], HEAD, OPTIM):
        trained.append(any(not torch.equal(before[k], v) for k, v in model.state_dict().items()))
    assert trained == [True, True]  # each seed trained the encoder ...
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # ... which is then restored
    both = dict(finetune.finetune_seeds(model, labels, encoded, "en", "SA", [1, 2], HEAD, OPTIM))
    alone = dict(finetune.finetune_seeds(model, labels, encoded, "en", "SA", [2], HEAD, OPTIM))
    for m in (both[2], alone[2]):
        m.pop("wall_time_s")
    assert both[2] == alone[2]
    assert both[2]["accuracy"] > 0.9


def scripted_fit(valid_losses, **options):
    """fit() on a one-weight model whose validation losses are `valid_losses`, in
    order; returns the result and the weights after each epoch."""
    layer = nn.Linear(1, 2)
    losses = iter(valid_losses)
    seen = []

    def batches(split, rng):
        yield split

    def step(split):
        out = layer(torch.ones(1, 1))
        if split == "valid":
            seen.append({k: v.clone() for k, v in layer.state_dict().items()})
            return torch.tensor(next(losses)), 1, out, torch.tensor([0])
        return nn.functional.cross_entropy(out, torch.tensor([0]), reduction="sum"), 1, out, torch.tensor([0])

    options = {"epochs": len(valid_losses), "lr": 0.1, "weight_decay": 0.0, "seed": 0, **options}
    return fit(layer, layer.parameters(), batches, step, **options), seen, layer


def test_fit_keeps_the_epoch_with_lowest_validation_loss():
    result, seen, layer = scripted_fit([3.0, 1.0, 2.0])
    assert result.best_epoch == 2 and result.valid_losses == [3.0, 1.0, 2.0]
    assert all(torch.equal(seen[1][k], v) for k, v in layer.state_dict().items())


def test_early_stopping_ends_patience_epochs_after_the_best_and_restores_it():
    # The authors' rule: stop once the epoch number exceeds best epoch + patience, i.e.
    # after patience + 1 epochs without a lower validation loss.
    result, seen, layer = scripted_fit([3.0, 1.0, 2.0, 1.5, 1.2, 1.1, 0.5, 0.4, 0.3, 0.2], patience=3)
    assert result.best_epoch == 2 and result.epochs_run == 6
    assert result.valid_losses == pytest.approx([3.0, 1.0, 2.0, 1.5, 1.2, 1.1])
    assert all(torch.equal(seen[1][k], v) for k, v in layer.state_dict().items())
    # an improvement within the patience restarts the count
    result, _, _ = scripted_fit([3.0, 2.0, 2.5, 2.5, 2.5, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0], patience=3)
    assert (result.best_epoch, result.epochs_run) == (6, 10)
    result, _, _ = scripted_fit([3.0, 2.0, 2.5, 2.5], patience=0)
    assert (result.best_epoch, result.epochs_run) == (2, 3)
    # no patience: every epoch runs, the best one is still restored
    result, seen, layer = scripted_fit([3.0, 1.0, 2.0, 1.5, 1.2, 1.1, 1.3], patience=None)
    assert (result.best_epoch, result.epochs_run) == (2, 7)
    assert all(torch.equal(seen[1][k], v) for k, v in layer.state_dict().items())


def test_head_init_is_xavier_uniform_with_zero_biases():
    head = Head(64, 3, hidden=256, init="xavier_uniform")
    first, second = head.net[1], head.net[3]
    assert not first.bias.any() and not second.bias.any()
    for layer in (first, second):
        fan_out, fan_in = layer.weight.shape
        bound = (6 / (fan_in + fan_out)) ** 0.5
        assert layer.weight.abs().max() <= bound
    # torch's own init would keep the 256 -> 3 weights within 1/sqrt(256); Xavier's bound is wider
    assert second.weight.abs().max() > 1 / 256 ** 0.5
    default = Head(64, 3, hidden=256, init="pytorch")
    assert default.net[1].bias.any() and default.net[3].weight.abs().max() <= 1 / 256 ** 0.5
    with pytest.raises(ValueError, match="unknown head init 'normal'"):
        Head(4, 2, init="normal")


def test_evaluation_defaults_are_the_authors_values():
    # eval-monolingual/*.py of the authors: batch 128, AdamW weight decay 0, 10 epochs,
    # patience 3, lr 1e-4; head dropout 0.1, hidden 256, Xavier-uniform / zero biases;
    # inputs cut at 128 sub-words. The official splits are used as released.
    schema = lmvsmt_config.load_schema()["properties"]["evaluation"]["properties"]
    assert tuple(schema["head"]["properties"]["init"]["enum"]) == HEAD_INITS
    for config in (lmvsmt_config.validate({}), lmvsmt_config.load(ROOT / "config" / "paper.yaml")):
        ev = config["evaluation"]
        for mode in ("probe", "finetune"):
            assert {k: ev[mode][k] for k in ("epochs", "patience", "lr", "batch_size", "weight_decay")} == \
                {"epochs": 10, "patience": 3, "lr": 0.0001, "batch_size": 128, "weight_decay": 0.0}, mode
        assert ev["head"] == {"dropout": 0.1, "hidden": 256, "pooling": "sum", "init": "xavier_uniform"}
        assert ev["max_length"] == 128
        assert config["downstream"]["dedupe_across_splits"] is False


def test_truncated_words_count_as_errors_in_accuracy_not_in_f1():
    # two words predicted (one right), two beyond the window
    got = scores([1, 0], [1, 1], unscored=2)
    assert got["accuracy"] == 0.25 and got["micro_f1"] == 0.5
    assert got["macro_f1"] == scores([1, 0], [1, 1])["macro_f1"]


@pytest.fixture
def long_pos_task(tmp_path):
    """POS data whose sentences (6 to 12 words of 1 to 3 pieces) often run past a
    12-sub-word window."""
    write_pos(tmp_path, repeat=2)
    sub = ToySubwords()
    d = dictionary_for(sub, [" ".join(w for ws in WORDS.values() for w in ws)])
    torch.manual_seed(0)
    model = ToyEncoder(d)
    labels, encoded = probe.load_task(tmp_path, "POS", "en", sub, d, max_length=12)
    words = sum(len(ex.tokens) for ex in read_split(tmp_path / "test.conll", "POS"))
    return model, labels, encoded, words


def check_truncation(metrics, encoded, words):
    cut = encoded["test"].truncated_words
    assert 0 < cut < words
    assert metrics["n_truncated"] == cut and metrics["n_test"] == words
    # accuracy over all words = accuracy over the words inside the window x their share
    assert metrics["accuracy"] == pytest.approx(metrics["micro_f1"] * (words - cut) / words)
    assert metrics["accuracy"] < metrics["micro_f1"]


def test_probing_scores_words_beyond_the_window_as_errors(long_pos_task, tmp_path):
    model, labels, encoded, words = long_pos_task
    cache = tmp_path / "features.pt"
    probe.extract_features(model, labels, encoded, "en", "POS", "sum", 32, cache)
    metrics = probe.probe(cache, seed=1, head_cfg=HEAD, optim=OPTIM)
    check_truncation(metrics, encoded, words)
    stored = torch.load(cache, weights_only=True)
    assert stored["test"]["truncated_words"] == encoded["test"].truncated_words
    majority = torch.bincount(stored["train"]["y"]).argmax()
    assert probe.majority_baseline(cache) == pytest.approx(int((stored["test"]["y"] == majority).sum()) / words)


def test_finetuning_scores_words_beyond_the_window_as_errors(long_pos_task):
    model, labels, encoded, words = long_pos_task
    (_, metrics), = finetune.finetune_seeds(model, labels, encoded, "en", "POS", [1], HEAD, OPTIM)
    check_truncation(metrics, encoded, words)


def test_result_file_is_atomic_json_with_provenance(tmp_path):
    record = {"mode": "probe", "accuracy": 0.5, "provenance": results.provenance({"evaluation": {"seeds": [1]}})}
    path = tmp_path / "eval" / "seed1.json"
    results.write_result(path, record)
    loaded = json.loads(path.read_text())
    assert loaded == record
    assert set(loaded["provenance"]) == {"config_hash", "git_commit", "versions"}
    assert [p.name for p in path.parent.iterdir()] == ["seed1.json"]
