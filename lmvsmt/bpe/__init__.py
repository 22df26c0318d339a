"""The shared subword model and the per-objective binarized data (rules/bpe.smk).

subword   the SentencePiece BPE model all languages and objectives share, and normalisation
inputs    the corpus text files the stage reads (paths: lmvsmt.layout): checks, streaming reads
training  the sample, SentencePiece training and the fairseq dictionary
encoder   parallel encoding in job order
binarize  per-objective data encoded and binarized by fairseq-preprocess
"""
