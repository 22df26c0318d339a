"""Check a model trained elsewhere and import it for evaluation (rule `external_model`)."""
import json

from lmvsmt.pretrain import external
from lmvsmt.io import rule_log

with rule_log(snakemake.log[0]):
    from lmvsmt.pretrain.models import import_model  # torch and fairseq: imported inside the log

    objective = snakemake.wildcards.objective
    entry = json.loads(snakemake.params.entry)
    for role in external.FILES:
        if "path" in entry[role] and "member" not in entry[role]:
            external.verify_local(entry[role], external.key(objective, role))
    import_model(objective, snakemake.input.checkpoint, snakemake.input.dictionary, snakemake.input.spm,
                 dict(snakemake.output), languages=snakemake.params.languages,
                 trust_pickle=entry["trust_pickle"], source=external.source(snakemake.config, objective),
                 origins={role: external.origin(entry[role]) for role in external.FILES},
                 key=f"pretrain.external.{objective}")
