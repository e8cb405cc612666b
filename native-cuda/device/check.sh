#!/usr/bin/env bash
# The device check, run on the GPU machine from a copy of the repository that carries
# native-cuda/device/dist/promptgrad-device.tar.gz (made by prepare.sh; the machine has no Java and no network):
#   1. the CUDA backend's tests with the packed Java runtime: the contract suite against the reference backend,
#      the GPU-only backend tests, the GPT-2 golden fixture on CUDA and the cpu|cuda|auto selection;
#   2. our prompt-tuning step (DeviceStepBenchmark: the step `promptgrad train` runs, with float32 weights, and
#      with bfloat16 weights on the first shape) and PyTorch + PEFT's (torch_step.py) on GPT-2-small and
#      GPT-2-medium shapes, batch 8, 512 tokens, 20 virtual tokens, fp32 and TF32;
#   3. NVIDIA's compute-sanitizer (memcheck, then racecheck) over the contract suite, each with a time limit, for
#      out-of-bounds accesses and shared-memory races the CPU emulator cannot see;
#   4. one Markdown table of ms/step, tokens/s and peak device memory, then our step's time per kernel on
#      GPT-2-small (every kernel waited for) and the sanitizer's findings, written to $OUT/results.md and printed last.
# Logs go to $OUT (default native-cuda/device/out). Exits 1 if any stage failed; later stages still run. At the end
# every log is packed into $OUT/logs.tar.gz and only results.md, results.jsonl, tests.txt, profile.md and
# environment.txt stay beside it (the device tool brings back at most 8 files; KEEP_LOGS=1 keeps them all loose).
# STAGES picks stages for a rerun (default "tests promptgrad torch baseline bf16 profile sanitize report"; baseline
# runs only when prepare.sh was given BASELINE=COMMIT, and times that commit's native-cuda on the first shape); STAGE_SECONDS limits
# each (120), SANITIZE_SECONDS each sanitizer tool (60), and CHECK_SECONDS the whole check (0: no limit), so that a
# stage near the end gets only the time left and the report is still written inside the device call's limit. COMPUTE_SANITIZER names the sanitizer (default: on PATH or
# in /usr/local/cuda*/bin); under CUDA_EMULATOR the stage runs only when it is given (a stand-in, for a rehearsal).
# BENCH_MODELS, BENCH_BATCH and BENCH_TOKENS change the benchmark's shapes (default gpt2-small,gpt2-medium, 8, 512).
# CUDA_EMULATOR=DIR rehearses the whole check on a machine without a GPU, with native-cuda's CPU emulator of the
# CUDA libraries (built by src/test/emulator/build.sh into DIR) in place of the system's; use small BENCH_* then.
# PyTorch's step then runs on the CPU (TORCH_DEVICE, default cuda, or cpu under CUDA_EMULATOR) with whatever
# python3 comes first on PATH that has torch, transformers and peft.
# The packed Java runtime was built on Debian 12 and needs glibc 2.34 or newer.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-$PWD/native-cuda/device/out}"
mkdir -p "$OUT"
ARCHIVE=native-cuda/device/dist/promptgrad-device.tar.gz
STAGE_SECONDS="${STAGE_SECONDS:-120}"   # each stage's limit, so the whole check fits one device call
STAGES=" ${STAGES:-tests promptgrad torch baseline bf16 profile sanitize report} "
SANITIZE_SECONDS="${SANITIZE_SECONDS:-60}"
CHECK_SECONDS="${CHECK_SECONDS:-0}"
REPORT_RESERVE=20   # seconds kept back, under CHECK_SECONDS, for the report and the packing of the logs
wants() { [[ "$STAGES" == *" $1 "* ]]; }
# forget_rows FRAMEWORK: drops a framework's rows an earlier run left in results.jsonl, before a stage reruns it
forget_rows() {
  [ -f "$OUT/results.jsonl" ] || return 0
  grep -v "\"framework\": \"$1\"" "$OUT/results.jsonl" > "$OUT/results.kept"
  mv -f "$OUT/results.kept" "$OUT/results.jsonl"
}
# limit [SECONDS]: the time the next step may take, SECONDS (default STAGE_SECONDS) or less when the whole check's
# end is nearer; prints 0 when fewer than 10 s are left, and the step is then skipped
limit() {
  local want="${1:-$STAGE_SECONDS}" left
  [ "$CHECK_SECONDS" -gt 0 ] || { echo "$want"; return; }
  left=$((CHECK_SECONDS - SECONDS - REPORT_RESERVE))
  [ "$left" -lt "$want" ] && want=$left
  [ "$want" -lt 10 ] && want=0
  echo "$want"
}
# timed LOG COMMAND...: runs COMMAND under the time limit, its output written to LOG; a step with no time left
# is skipped and says so in LOG
timed() {
  local log="$1" seconds
  shift
  seconds=$(limit)
  if [ "$seconds" -eq 0 ]; then
    echo "skipped: the check's ${CHECK_SECONDS} s are spent" > "$log"
    return 1
  fi
  timeout --kill-after=10 "$seconds" "$@" > "$log" 2>&1
}
status=0

if [ ! -f "$ARCHIVE" ]; then
  echo "check.sh: $ARCHIVE is missing; run native-cuda/device/prepare.sh first and carry native-cuda/device/dist" >&2
  exit 1
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
tar -xzf "$ARCHIVE" -C "$WORK"
JAVA="$WORK/jre/bin/java"
CP="$WORK/lib/*"
if ! "$JAVA" -version > "$OUT/java.txt" 2>&1; then
  echo "check.sh: the packed Java runtime does not start here ($(ldd --version 2>&1 | head -1)); it needs glibc 2.34+" >&2
  cat "$OUT/java.txt" >&2
  exit 1
fi

# The driver, the CUDA 13 runtime, cuBLAS and NVRTC come from the system: add the folders holding them (the
# driver's, e.g. a container's /usr/local/nvidia; the toolkit's; or the nvidia-* pip wheels PyTorch brings) unless
# the dynamic linker already knows them.
library_folders() {
  local roots=(/usr/local/nvidia /usr/local/cuda /usr/local/cuda-13* /usr/lib/x86_64-linux-gnu /usr/lib64)
  local site
  site=$(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) && roots+=($site)
  local lib folder known path="${LD_LIBRARY_PATH:-}"
  for lib in libcuda.so.1 libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnvrtc.so.13; do
    ldconfig -p 2>/dev/null | grep -q "$lib" && continue
    for known in ${path//:/ }; do [ -e "$known/$lib" ] && continue 2; done
    folder=$(find "${roots[@]}" -maxdepth 7 -name "$lib" -print -quit 2>/dev/null)
    [ -n "$folder" ] && dirname "$folder"
  done | sort -u | paste -sd: -
}
JAVA_OPTS=(-Xmx4g -Dorg.bytedeco.javacpp.cachedir="$WORK/javacpp")
TORCH_DEVICE="${TORCH_DEVICE:-cuda}"
if [ -n "${CUDA_EMULATOR:-}" ]; then
  TORCH_DEVICE=cpu
  CUDA_EMULATOR=$(cd "$CUDA_EMULATOR" && pwd)
  export LD_LIBRARY_PATH="$CUDA_EMULATOR"
  JAVA_OPTS+=(-Dorg.bytedeco.javacpp.platform.linkpath="$CUDA_EMULATOR")
else
  EXTRA=$(library_folders)
  [ -n "$EXTRA" ] && export LD_LIBRARY_PATH="$EXTRA${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
MODELS="${BENCH_MODELS:-gpt2-small,gpt2-medium}"
OUR_BENCH=("$JAVA" "${JAVA_OPTS[@]}" -cp "$CP" dev.promptgrad.train.DeviceStepBenchmark --device cuda)
BENCH_SHAPE=(--models "$MODELS" --precisions fp32,tf32 --batch "${BENCH_BATCH:-8}"
  --tokens "${BENCH_TOKENS:-512}" --virtual 20 --warmup 3 --steps 10)

{
  echo "date: $(date -u +%FT%TZ)"
  cat "$WORK/MANIFEST.txt"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  echo "LD_LIBRARY_PATH: ${LD_LIBRARY_PATH:-}"
  python3 -c 'import torch, transformers, peft; print("torch", torch.__version__, "cuda", torch.version.cuda, "| transformers", transformers.__version__, "| peft", peft.__version__)' 2>&1
} > "$OUT/environment.txt"
cat "$OUT/environment.txt"

if wants tests; then
echo "== 1/4 CUDA backend tests (contract suite, GPU tests, golden fixtures, model tests on cuda)"
# from $WORK, where the archive's shared/ (stories260K) is found; fixtures come from this repository copy, as files
REPO=$PWD
(cd "$WORK" && timed "$OUT/tests.txt" "$JAVA" "${JAVA_OPTS[@]}" -Dpromptgrad.requireCuda=true \
  -Dpromptgrad.test.backends=cuda -Dpromptgrad.fixtures="$REPO/models/src/test/resources/fixtures" \
  -cp "$REPO/models/src/test/resources:$CP" dev.promptgrad.cuda.DeviceCheck) || status=1
tail -n 40 "$OUT/tests.txt"
fi

if wants promptgrad; then
echo "== 2/4 step benchmark: promptgrad on CUDA"
forget_rows "promptgrad"
timed "$OUT/bench-promptgrad.txt" "${OUR_BENCH[@]}" "${BENCH_SHAPE[@]}" --out "$OUT/results.jsonl" || status=1
tail -n 20 "$OUT/bench-promptgrad.txt"
fi

if wants torch; then
echo "== 2/4 step benchmark: PyTorch + PEFT"
forget_rows "pytorch+peft"
timed "$OUT/bench-torch.txt" python3 native-cuda/device/torch_step.py "${BENCH_SHAPE[@]}" --device "$TORCH_DEVICE" \
  --out "$OUT/results.jsonl" || status=1
tail -n 20 "$OUT/bench-torch.txt"
fi

BASELINE_DIR=native-cuda/device/dist/baseline
REPORT_BASELINE=()
[ -f "$BASELINE_DIR/COMMIT" ] && REPORT_BASELINE=(--baseline "$(cut -c1-7 "$BASELINE_DIR/COMMIT")")
if wants baseline && [ -f "$BASELINE_DIR/COMMIT" ]; then
echo "== 2/4 step benchmark: promptgrad's baseline build ($(cut -c1-7 "$BASELINE_DIR/COMMIT")'s native-cuda), first shape"
forget_rows "promptgrad baseline"
rm -f "$OUT/baseline.jsonl"
# the same classes but the baseline's native-cuda jar (CudaBackend and its kernels) in place of this build's
BASE_CP="$PWD/$BASELINE_DIR/promptgrad-native-cuda-baseline.jar:$(ls "$WORK"/lib/*.jar | grep -v 'promptgrad-native-cuda-[0-9.]*-SNAPSHOT.jar$' | paste -sd: -)"
timed "$OUT/bench-baseline.txt" "$JAVA" "${JAVA_OPTS[@]}" -cp "$BASE_CP" dev.promptgrad.train.DeviceStepBenchmark \
  --device cuda "${BENCH_SHAPE[@]}" --models "${MODELS%%,*}" --out "$OUT/baseline.jsonl" || status=1
sed 's/"framework": "promptgrad"/"framework": "promptgrad baseline"/' "$OUT/baseline.jsonl" >> "$OUT/results.jsonl" 2>/dev/null
tail -n 5 "$OUT/bench-baseline.txt"
fi

if wants bf16; then
echo "== 2/4 step benchmark: promptgrad on CUDA with bfloat16 weights (the first shape only; device time is short)"
forget_rows "promptgrad bf16 weights"
timed "$OUT/bench-bf16.txt" "${OUR_BENCH[@]}" "${BENCH_SHAPE[@]}" --models "${MODELS%%,*}" --weights bf16 \
  --out "$OUT/results.jsonl" || status=1
tail -n 5 "$OUT/bench-bf16.txt"
fi

if wants profile; then
echo "== 2/4 where our step's time goes (GPT-2-small shape, every kernel waited for)"
rm -f "$OUT/profile.md"
timed "$OUT/bench-profile.txt" "${OUR_BENCH[@]}" "${BENCH_SHAPE[@]}" --models "${MODELS%%,*}" --warmup 1 --steps 2 \
  --profile "$OUT/profile.md" || status=1
tail -n 5 "$OUT/bench-profile.txt"
fi

if wants sanitize; then
echo "== 3/4 compute-sanitizer over the contract suite (memcheck, racecheck; ${SANITIZE_SECONDS} s each)"
SANITIZER="${COMPUTE_SANITIZER:-}"
if [ -z "$SANITIZER" ] && [ -z "${CUDA_EMULATOR:-}" ]; then
  SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
fi
for tool in memcheck racecheck; do
  log="$OUT/sanitize-$tool.txt"
  if [ -z "$SANITIZER" ]; then
    echo "compute-sanitizer: not run (${CUDA_EMULATOR:+the CUDA emulator stands in for the GPU}${CUDA_EMULATOR:-not found})" > "$log"
    cat "$log"
    continue
  fi
  seconds=$(limit "$SANITIZE_SECONDS")
  if [ "$seconds" -eq 0 ]; then
    echo "compute-sanitizer: not run (the check's ${CHECK_SECONDS} s are spent)" > "$log"
    cat "$log"
    continue
  fi
  # the suite with every kernel waited for, so that a finding comes with the test that made it; a run cut by the
  # limit keeps what it found so far (the report counts the findings, and says the run was cut)
  (cd "$WORK" && timeout --kill-after=10 "$seconds" "$SANITIZER" --tool "$tool" --print-limit 20 \
    "$JAVA" "${JAVA_OPTS[@]}" -Dpromptgrad.requireCuda=true -cp "$CP" dev.promptgrad.cuda.DeviceCheck \
    'dev.promptgrad.cuda.CudaBackendContractTest$CheckingEveryKernel') > "$log" 2>&1
  code=$?
  pkill -f 'DeviceCheck dev.promptgrad.cuda.CudaBackendContractTest' 2>/dev/null   # a test JVM the cut orphaned
  [ $code -eq 124 ] || [ $code -eq 137 ] && echo "sanitize: cut at ${seconds} s" >> "$log"
  grep -Eq "(ERROR|RACECHECK) SUMMARY: [1-9]" "$log" && status=1
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|device check:|sanitize: cut" "$log" | tail -n 3
done
fi

if wants report; then
echo "== 4/4 results"
python3 native-cuda/device/report.py --results "$OUT/results.jsonl" --tests "$OUT/tests.txt" \
  --environment "$OUT/environment.txt" --models "$MODELS" --sanitizer "$OUT/sanitize-memcheck.txt" \
  --sanitizer "$OUT/sanitize-racecheck.txt" --profile "$OUT/profile.md" "${REPORT_BASELINE[@]}" \
  > "$OUT/results.md" || status=1
cat "$OUT/results.md"
fi

# every log in one archive, and only the main files loose beside it (the device tool brings back at most 8 files)
LOGS=$(cd "$OUT" && ls | grep -vx logs.tar.gz)
[ -n "$LOGS" ] && tar -czf "$OUT/logs.tar.gz" -C "$OUT" $LOGS
if [ -z "${KEEP_LOGS:-}" ]; then
  for log in $LOGS; do
    case "$log" in results.md|results.jsonl|tests.txt|profile.md|environment.txt) ;; *) rm -f "$OUT/$log" ;; esac
  done
fi
exit $status
