#!/usr/bin/env bash
# Every pretraining measurement for one short session on a GPU machine, as one script
# (such a machine is rarely available for long; ../shared/gpu/README.md sets one up).
# Run from the repository root, after `source .whl/on-gpu.sh` on a bare GPU machine:
#   OUT=/some/dir bash benchmarks/gpu_check.sh
# Files under $OUT:
#   env.txt          GPU, driver, torch, CPUs
#   defaults.jsonl   benchmarks/pretrain.py at paper size with the pipeline's defaults
#   committed.jsonl  the same with the settings as committed before (--as-committed)
#   one.jsonl        one setting at a time changed from the defaults (CLM; attention for MLM and 2-MT)
#   throughput.json  the defaults' tokens/s per objective (copy to benchmarks/pretrain_throughput.json)
#   pytest.txt       the CUDA tests: plugin attention vs fairseq's, flash kernel, batch_size auto in a job
#   profile.txt      where the time of a CLM run goes (Python functions, GPU kernels, GPU busy share)
#   log.txt          what the steps printed, the measurements and errors only
# Every step has its own time cap (seconds); one that overruns is stopped and the next runs.
# STEPS picks steps (default: all, in this order), OBJECTIVES the defaults' objectives,
# BATCH_FROM the file the one-at-a-time steps take the defaults' batches from, ONE the
# settings they change (default: all of benchmarks/pretrain.py's ONE_AT_A_TIME).
# Try it on a CPU with tiny sizes: SIZES=demo UPDATES=3 CAP=120 bash benchmarks/gpu_check.sh
set -u
OUT=${OUT:-/tmp/gpu-check}
WORK=${WORK:-/tmp/gpu-check-work}
SIZES=${SIZES:-paper}
UPDATES=${UPDATES:-30}
DATA=${DATA:-10e6,10e6,4000}
CAP=${CAP:-45}
STEPS=${STEPS:-env defaults committed pytest one attention profile}
OBJECTIVES=${OBJECTIVES:-2-LM 2-MT CLM MLM TLM}
BATCH_FROM=${BATCH_FROM:-$OUT/defaults.jsonl}
PYTEST_K=${PYTEST_K:-cuda}
PYTEST_CAP=${PYTEST_CAP:-120}
ONE=${ONE:-}
mkdir -p "$OUT" "$WORK"
BENCH=(python3 benchmarks/pretrain.py --sizes "$SIZES" --paper-data "$DATA" --workdir "$WORK" --time-cap "$CAP"
       --results /nonexistent)

has() { [[ " $STEPS " == *" $1 "* ]]; }

step() {  # step SECONDS command...: run it within its cap, say how it ended
  local cap=$1
  shift
  echo "## $(date +%T) step (cap ${cap} s): $*"
  timeout --kill-after=10 "$cap" "$@"
  echo "## $(date +%T) exit $?"
}

quiet() {  # fairseq and hydra print models, configs and deprecations: keep what tells the story
  grep --line-buffered -E '^(##|# |\{|size |demo |paper |wrote |lmvsmt: |[A-Za-z.]*(Error|Exception)|FAILED|ERROR)|[0-9]+ (passed|failed|skipped)' |
    grep --line-buffered -v '^lmvsmt: no checkpoint in'
}

{
  has env && step 30 bash -c 'nvidia-smi; python3 -c "import torch, os; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else \"no GPU\", os.cpu_count(), \"CPUs\")"' > "$OUT/env.txt" 2>&1
  # shellcheck disable=SC2086  # OBJECTIVES is a list
  has defaults && step 200 "${BENCH[@]}" --updates "$UPDATES" --objectives $OBJECTIVES --out "$OUT/defaults.jsonl" \
    --save "$OUT/throughput.json"
  has committed && step 110 "${BENCH[@]}" --updates "$UPDATES" --as-committed --out "$OUT/committed.jsonl"
  has pytest && step "$PYTEST_CAP" python3 -m pytest -q -p no:cacheprovider -k "$PYTEST_K" tests/test_fairseq_plugin.py \
    tests/test_autotune.py > "$OUT/pytest.txt" 2>&1
  has pytest && tail -3 "$OUT/pytest.txt"
  # shellcheck disable=SC2086  # ONE is a list
  has one && step 130 "${BENCH[@]}" --updates "$UPDATES" --objectives CLM --one-at-a-time $ONE \
    --batch-from "$BATCH_FROM" --out "$OUT/one.jsonl"
  has attention && step 70 "${BENCH[@]}" --updates "$UPDATES" --objectives 2-MT MLM --attention fairseq \
    --label "fairseq attention" --batch-from "$BATCH_FROM" --out "$OUT/one.jsonl"
  has profile && step 60 "${BENCH[@]}" --updates 6 --objectives CLM --label profile --batch-from "$BATCH_FROM" \
    --profile "$OUT/profile.txt"
} 2>&1 | quiet | tee "$OUT/log.txt"
