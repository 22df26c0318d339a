# Models trained elsewhere (pretrain.external; logic: lmvsmt/pretrain/external.py, lmvsmt/pretrain/models.py):
# their files are downloaded (verified, resumable) or read from a local path, archive
# members taken out, and each model checked and imported into {RESULTS}/pretrain/<objective>/,
# where evaluation reads it as it reads a model trained here.
import json

EXTERNAL_DOWNLOADS = lmvsmt_external.downloads(config)
EXTERNAL_ARCHIVES = lmvsmt_external.downloads(config, archives=True)
EXTERNAL_UNPACKS = lmvsmt_external.unpacks(config)
EXTERNAL_MODEL = layout.fill(layout.MODEL, results=RESULTS)
EXTERNAL_DOWNLOAD = layout.fill(layout.EXTERNAL_DOWNLOAD, results=RESULTS)


rule external_download:
    output:
        f"{EXTERNAL_DOWNLOAD}/{{file}}",
    wildcard_constraints:
        file=one_of(set(EXTERNAL_DOWNLOADS) - set(EXTERNAL_ARCHIVES)),
    params:
        # the whole entry (URL, pins), so that editing it downloads again
        entry=lambda wc: EXTERNAL_DOWNLOADS[wc.file],
        lockfile=DOWNLOADS_LOCK,
    log:
        logpath("external_download", "{file}"),
    benchmark:
        benchpath("external_download", "{file}")
    conda:
        ENV
    script:
        "../workflow/scripts/external_download.py"


# An archive of which only members are used (the authors' whole data release holds
# their SentencePiece model) is deleted once they are taken out.
use rule external_download as external_archive with:
    output:
        temp(f"{EXTERNAL_DOWNLOAD}/{{file}}"),
    wildcard_constraints:
        file=one_of(EXTERNAL_ARCHIVES),
    log:
        logpath("external_archive", "{file}"),
    benchmark:
        benchpath("external_archive", "{file}")


rule external_unpack:
    input:
        lambda wc: lmvsmt_external.archive_path(RESULTS, EXTERNAL_UNPACKS[wc.file]["spec"]),
    output:
        f"{layout.fill(layout.EXTERNAL_UNPACKED, results=RESULTS)}/{{file}}",
    wildcard_constraints:
        file=one_of(EXTERNAL_UNPACKS),
    params:
        entry=lambda wc: EXTERNAL_UNPACKS[wc.file],
    log:
        logpath("external_unpack", "{file}"),
    benchmark:
        benchpath("external_unpack", "{file}")
    conda:
        ENV
    script:
        "../workflow/scripts/external_unpack.py"


rule external_model:
    input:
        unpack(lambda wc: lmvsmt_external.import_inputs(RESULTS, config, wc.objective)),
    output:
        # the names of lmvsmt.pretrain.external.IMPORTED, in the directory evaluation reads
        model=f"{EXTERNAL_MODEL}/{layout.MODEL_CHECKPOINT}",
        dict=f"{EXTERNAL_MODEL}/{layout.MODEL_DICT}",
        spm=f"{EXTERNAL_MODEL}/{layout.MODEL_SPM}",
        source=f"{EXTERNAL_MODEL}/{layout.MODEL_SOURCE}",
    wildcard_constraints:
        objective=one_of(EXTERNAL),
    params:
        entry=lambda wc: json.dumps(EXTERNAL[wc.objective], sort_keys=True),
        languages=LANGUAGES,
    log:
        logpath("external_model", "{objective}"),
    benchmark:
        benchpath("external_model", "{objective}")
    conda:
        ENV
    script:
        "../workflow/scripts/external_model.py"


FINAL_TARGETS.append(
    lambda: expand(
        f"{EXTERNAL_MODEL}/{{name}}",
        objective=list(EXTERNAL),
        name=lmvsmt_external.IMPORTED,
    )
)
