"""Pretraining (rules/pretrain.smk, rules/external.smk): the fairseq command of each
objective (objectives), the memory trial for `auto` settings (autotune), the launcher
(launch: local or Slurm through submitit), the training job itself with resume and
export (training), the GPU-hour estimate (cost), models trained elsewhere (external) and
loading a pretrained model for evaluation (models); fairseq_plugin is the --user-dir
plugin. fairseq's quirks are handled in lmvsmt.fairseq_compat, not here."""
