#!/usr/bin/env bash
# Every pretraining measurement for one short session on a GPU machine, as one script
# (such a machine is rarely available for long; ../shared/gpu/README.md sets one up).
# Run from the repository root, after `source .whl/on-gpu.sh` on a bare GPU machine:
#   OUT=/some/dir bash benchmarks/gpu_check.sh
# Files under $OUT:
#   env.txt          GPU, driver, torch, CPUs
#   defaults.jsonl   benchmarks/pretrain.py at paper size with the pipeline's defaults, 5 objectives
#   committed.jsonl  the same with the settings as committed before (--as-committed)
#   one.jsonl        one setting at a time changed from the defaults (CLM; attention for MLM and 2-MT)
#   throughput.json  the defaults' tokens/s per objective (copy to benchmarks/pretrain_throughput.json)
#   pytest.txt       the CUDA tests: plugin attention vs fairseq's, flash kernel, batch_size auto in a job
#   log.txt          what the steps printed, the measurements and errors only
#   raw-tail.txt     the last 300 lines of all they printed (but fairseq's INFO lines)
# Every step has its own time cap (seconds); one that overruns is stopped and the next runs.
# Try it on a CPU with tiny sizes: SIZES=demo UPDATES=3 CAP=120 bash benchmarks/gpu_check.sh
set -u
OUT=${OUT:-/tmp/gpu-check}
WORK=${WORK:-/tmp/gpu-check-work}
SIZES=${SIZES:-paper}
UPDATES=${UPDATES:-30}
DATA=${DATA:-10e6,10e6,4000}
CAP=${CAP:-45}
mkdir -p "$OUT" "$WORK"
BENCH=(python3 benchmarks/pretrain.py --sizes "$SIZES" --updates "$UPDATES" --paper-data "$DATA"
       --workdir "$WORK" --time-cap "$CAP" --results /nonexistent)

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
  step 30 bash -c 'nvidia-smi; python3 -c "import torch, os; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else \"no GPU\", os.cpu_count(), \"CPUs\")"' > "$OUT/env.txt" 2>&1
  step 200 "${BENCH[@]}" --out "$OUT/defaults.jsonl" --save "$OUT/throughput.json"
  step 110 "${BENCH[@]}" --as-committed --out "$OUT/committed.jsonl"
  step 120 python3 -m pytest -q -p no:cacheprovider -k cuda tests/test_fairseq_plugin.py tests/test_autotune.py \
    > "$OUT/pytest.txt" 2>&1
  tail -3 "$OUT/pytest.txt"
  step 130 "${BENCH[@]}" --objectives CLM --one-at-a-time --batch-from "$OUT/defaults.jsonl" --out "$OUT/one.jsonl"
  step 70 "${BENCH[@]}" --objectives 2-MT MLM --attention fairseq --label "fairseq attention" \
    --batch-from "$OUT/defaults.jsonl" --out "$OUT/one.jsonl"
} 2>&1 | tee "$WORK/raw.txt" | quiet | tee "$OUT/log.txt"
# the end of everything printed, for what the filtered log leaves out (fairseq's INFO lines dropped)
grep -v -E '^(INFO|DEBUG):' "$WORK/raw.txt" | tail -300 > "$OUT/raw-tail.txt"
