"""Train the shared SentencePiece BPE model and derive the fairseq dictionary."""
from lmvsmt.bpe import training
from lmvsmt.io import rule_log

p = snakemake.params
out = snakemake.output
with rule_log(snakemake.log[0]):
    training.train(
        snakemake.input[0],
        out.model,
        out.vocab,
        out.dict,
        vocab_size=p.vocab_size,
        languages=p.languages,
        character_coverage=p.character_coverage,
        input_sentence_size=p.input_sentence_size,
        seed=p.seed,
        threads=snakemake.threads,
        normalization=p.normalization,
        max_sentence_length=p.max_sentence_length,
    )
