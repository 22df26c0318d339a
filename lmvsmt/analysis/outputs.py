"""Where the analyses put their outputs, what each one reads, and which of them a
configuration asks for (used by rules/analysis.smk; no torch here, so planning a run
stays fast)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from lmvsmt.analysis import sentences
from lmvsmt.config import ConfigError
from lmvsmt.layout import ANALYSIS, PLOTS, TABLES, fill, transfer_result
from lmvsmt.tables.specs import eval_results

# The record keys a transfer result's directories name, last directory first.
TRANSFER_PATH_KEYS = ("mode", "objective", "task", "train_language", "test_language")


def transfer_table_name(mode: str, source: str) -> str:
    return f"transfer_{mode}_{source}"


@dataclass(frozen=True)
class Paths:
    """Output paths under a results directory (Snakemake patterns where they hold
    wildcards)."""

    results: str

    @property
    def analysis(self) -> str:
        return fill(ANALYSIS, results=self.results)

    @property
    def plots(self) -> str:
        return fill(PLOTS, results=self.results) + "/analysis"

    def transfer_table(self, ext: str, mode: str = "{mode}", lang: str = "{lang}") -> str:
        return fill(TABLES, results=self.results) + f"/{transfer_table_name(mode, lang)}.{ext}"

    @property
    def sentences(self) -> str:
        return f"{self.analysis}/similarity/sentences.json"

    @property
    def states(self) -> str:
        return f"{self.analysis}/similarity/states/{{objective}}.pt"

    @property
    def cka_languages(self) -> str:
        return f"{self.analysis}/similarity/cka_languages.csv"

    @property
    def cka_models(self) -> str:
        return f"{self.analysis}/similarity/cka_models.csv"

    def cka_plots(self, objectives: Sequence[str]) -> list[tuple[str, dict]]:
        """(path, report labels) of every CKA figure: between languages per model, its
        mean over language pairs by layer, between models (a panel per language)."""
        heatmap = {"figure": "heatmap"}
        return ([(f"{self.plots}/cka_languages_{o}.png", {**heatmap, "between": "languages", "model": o})
                 for o in objectives]
                + [(f"{self.plots}/cka_languages_by_layer.png",
                    {"figure": "mean by layer", "between": "languages", "model": "all"}),
                   (f"{self.plots}/cka_models.png", {**heatmap, "between": "models", "model": "all"})])

    @property
    def spectra(self) -> str:
        return f"{self.analysis}/spectra/spectra.csv"

    @property
    def spectra_differences(self) -> str:
        return f"{self.analysis}/spectra/differences.csv"

    def spectra_table(self, ext: str) -> str:
        return fill(TABLES, results=self.results) + f"/spectra.{ext}"

    @property
    def spectra_plot(self) -> str:
        return f"{self.plots}/spectra.png"


def check(config: dict) -> None:
    """What the schema cannot say: transfer sources must be configured languages, the
    CKA sentences come from configured corpora or, with `source: files`, an existing
    directory."""
    unknown = [lang for lang in config["analysis"]["transfer"]["sources"] if lang not in config["languages"]]
    if unknown:
        raise ConfigError(f"config error: analysis.transfer.sources: {', '.join(map(repr, unknown))} "
                          f"not among the configured languages ({', '.join(config['languages'])})")
    cfg = config["analysis"]["similarity"]
    extra = [c for c in cfg["corpora"] or [] if c not in config["corpus"]["corpora"]]
    if cfg["source"] == "pretraining" and extra:
        raise ConfigError(f"config error: analysis.similarity.corpora: {', '.join(map(repr, extra))} not among "
                          f"the pretraining corpora (corpus.corpora: {', '.join(config['corpus']['corpora'])})")
    if cfg["source"] == "files":
        try:
            directory = sentences.text_directories(config)[0][0]
        except sentences.SimilarityError as exc:
            raise ConfigError(f"config error: {exc}") from None
        if not Path(directory).is_dir():
            raise ConfigError(f"config error: analysis.similarity.files: {directory}: no such directory")


def similarity_enabled(config: dict) -> bool:
    """Whether the CKA analysis is among the targets: not with `source: none`, nor
    with `source: pretraining` when no model is pretrained here (no corpus exists)."""
    try:
        sentences.text_directories(config)
    except sentences.SimilarityError:
        return False
    return True


def similarity_notice(config: dict) -> str | None:
    """One line saying why CKA is left out when the config asks for sentences from a
    pretraining corpus it does not build."""
    if config["analysis"]["similarity"]["source"] != "pretraining":
        return None
    try:
        sentences.text_directories(config)
    except sentences.SimilarityError as exc:
        return f"note: {exc}"
    return None


def spectra_pairs(config: dict) -> list[list[str]]:
    """The configured comparisons (A, B) whose two objectives are both configured."""
    objectives = set(config["objectives"])
    return [[a, b] for a, b in config["analysis"]["spectra"]["pairs"] if a in objectives and b in objectives]


def transfer_inputs(config: dict, mode: str, lang: str) -> list[str]:
    """Every transfer result of `mode` trained on `lang`."""
    ev = config["evaluation"]
    return [transfer_result(config["results_dir"], mode, o, t, lang, test, seed)
            for o in config["objectives"] for t in config["tasks"] for test in config["languages"]
            for seed in ev["seeds"]]


def in_language_inputs(config: dict, mode: str) -> list[str]:
    """The ordinary results of `mode`: the in-language reference of the transfer gap."""
    return eval_results(config, mode, config["objectives"])


def sentence_files(config: dict) -> list[str]:
    """The bitext files the CKA sentences are sampled from (one line naming the
    config key when the analysis is off or misconfigured)."""
    try:
        directories, split = sentences.text_directories(config)
    except sentences.SimilarityError as exc:
        raise ConfigError(f"config error: {exc}") from None
    files = sentences.bitext_files(directories, split, config["languages"])
    return [path for pair in files.values() for sides in pair for path in sides]


def stage_targets(config: dict) -> list[str]:
    """Every final output of the analyses this configuration asks for."""
    out = Paths(config["results_dir"])
    modes = config["evaluation"]["modes"]
    targets = [out.transfer_table(ext, mode, lang) for mode in modes
               for lang in config["analysis"]["transfer"]["sources"] for ext in ("tex", "csv", "md")]
    if similarity_enabled(config):
        targets += [out.cka_languages, out.cka_models]
        targets += [path for path, _ in out.cka_plots(config["objectives"])]
    if config["analysis"]["spectra"]["enabled"]:
        targets += [out.spectra_table(ext) for ext in ("tex", "csv", "md")] + [out.spectra_plot]
    return targets


