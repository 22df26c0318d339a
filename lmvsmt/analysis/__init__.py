"""The companion paper's analyses (Ji et al., LREC-COLING 2024), run on the models
and data of the main study:

- `transfer`: zero-shot cross-lingual transfer: a head (probing) or a whole model
  (fine-tuning) trained on one language and scored on the test sets of every language;
- `similarity`: linear CKA between mean-pooled sentence representations, per layer,
  between the languages of a parallel text and between models;
- `spectra`: singular values of the attention and feed-forward weight matrices per
  layer, their norm and the difference between two models of one architecture.
"""
