"""Evaluation (rules/evaluate.smk): the jobs of the probe, finetune and features rules
(jobs), the classification head and its training loop (head), probing on frozen
features (probe), fine-tuning (finetune) and the result files (results)."""
