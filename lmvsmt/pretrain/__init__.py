"""Pretraining (rules/pretrain.smk, rules/external.smk).

objectives      the fairseq command of each objective
plan            a run's files, fingerprint and input data; the command for an allocation
launch          the launcher: local or Slurm through submitit, requeues
autotune        the memory trial behind `auto` batch size and precision
job             what runs in each process of the job: fairseq-train with lmvsmt's hooks
checkpoints     resume point, roll-back after a divergence, the exported model
training        the rule's side: train or continue, then write the rule's outputs
cost            the GPU-hour estimate of a dry run
external        models trained elsewhere (downloads, checks)
models          a pretrained model loaded for evaluation
fairseq_plugin  the --user-dir plugin (faster attention and AdamW)

fairseq's quirks and the places lmvsmt hooks into fairseq-train are in
lmvsmt.fairseq_compat, not here."""
