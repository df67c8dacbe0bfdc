#!/usr/bin/env bash
# The prepared first run on a bare GPU machine (the device tool's nvidia-h100-x1), within 8 minutes:
#   1. installs pyopencl, mako and their needs from the wheels in .whl/ (tools/gpu_fetch_wheels.sh)
#   2. registers NVIDIA's OpenCL driver when no ICD is registered
#   3. prints the OpenCL devices and their properties                      -> $OUT/props.log
#   4. python -m cltensor.selftest: every kernel family on small odd cases  -> $OUT/selftest.log
#   5. the GEMM tile search, float32 and float16, bounded                  -> $OUT/tuning.log, gemm_tuning.json
#   6. a test subset covering every kernel family (no -x: every failure)    -> $OUT/tests.log
#   7. benchmarks/run.py: the GPU targets against PyTorch on the same GPU  -> $OUT/bench.log, RESULTS.md
# then a summary (the end of the output, which the device tool returns) -> $OUT/summary.txt.
# Each step runs under `timeout`; a step that fails or runs out of time does not stop the next.
#
# On the device tool (wheels fetched here first with tools/gpu_fetch_wheels.sh):
#   run(command="bash tools/gpu_run.sh", carry=[".whl"], timeout_s=560)
# Rehearsal on PoCL (the GPU kernel variants forced; pyopencl is there, so nothing is installed):
#   OUT=/tmp/gpu-rehearsal CLTENSOR_DEVICE=cl:0 CLTENSOR_TUNING=gpu bash tools/gpu_run.sh
# GPU_RUN_SCALE multiplies every step's time limit (the rehearsal on a 2-core machine: 3).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/cltensor-gpu}
mkdir -p "$OUT"
export CLTENSOR_DEVICE=${CLTENSOR_DEVICE:-gpu}
export CLTENSOR_CACHE_DIR=${CLTENSOR_CACHE_DIR:-/tmp/cltensor-gpu-cache}
export PYTHONUNBUFFERED=1
export COLUMNS=200  # pytest's failure list: the error messages, not their first words
SCALE=${GPU_RUN_SCALE:-1}
STARTED=$SECONDS
SUMMARY=()

# The subset: the families' own test files, the GPU variants' plans, then whole programs.
TESTS=(tests/test_portability.py tests/test_gemm_plans.py tests/test_reduce.py tests/test_elementwise.py
       tests/test_index.py tests/test_memory_safety.py tests/test_fused_softmax.py tests/test_fused_loss.py
       tests/test_gemm_epilogue.py tests/test_sampling.py tests/test_fft.py tests/test_linalg.py
       tests/test_window.py tests/test_conv.py tests/test_autograd.py tests/test_host_memory.py
       tests/test_compile.py tests/test_threads.py tests/test_examples.py)

step() {  # step NAME LIMIT_S LOG COMMAND...: run, log, note the outcome in the summary
  local name=$1 limit=$(( $2 * SCALE )) log=$3 begun=$SECONDS rc
  shift 3
  echo "== $name (at most ${limit} s) -> $log"
  timeout -k 10 "$limit" "$@" > >(tee "$log") 2>&1
  rc=$?
  local took=$(( SECONDS - begun ))
  case $rc in
    0) SUMMARY+=("$name: ok (${took} s)") ;;
    124|137) SUMMARY+=("$name: TIMED OUT after ${took} s (limit ${limit} s)") ;;
    *) SUMMARY+=("$name: exit $rc (${took} s)") ;;
  esac
}

if [ -d .whl ] && ! python3 -c "import pyopencl, mako" 2>/dev/null; then  # (a rehearsal has them)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "gpu_run: installing the wheels failed"; exit 1; }
  export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi

register_nvidia_icd() {
  ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1 && return 0
  local lib
  lib=$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl\.so\.1/ {print $NF; exit}')
  if [ -z "$lib" ]; then
    lib=$(find /usr/local/nvidia /usr/lib /usr/lib64 /usr/local/lib -name 'libnvidia-opencl.so.1' 2>/dev/null | head -n 1)
  fi
  if [ -z "$lib" ]; then
    echo "gpu_run: no OpenCL ICD registered and libnvidia-opencl.so.1 not found"; return 1
  fi
  mkdir -p /etc/OpenCL/vendors
  echo "$lib" > /etc/OpenCL/vendors/nvidia.icd
  echo "gpu_run: registered $lib in /etc/OpenCL/vendors/nvidia.icd"
}
register_nvidia_icd || exit 1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv

step "device properties" 30 "$OUT/props.log" python3 tools/gpu_props.py
step "selftest" 50 "$OUT/selftest.log" python3 -m cltensor.selftest --device "$CLTENSOR_DEVICE"
step "GEMM tuning" 70 "$OUT/tuning.log" python3 -m cltensor.launch.gemm_search 2048 --device "$CLTENSOR_DEVICE" \
  --dtype float32 --dtype float16 --seconds 25 --out "$OUT/gemm_tuning.json"

parallel=()  # several test processes where pytest-xdist is there: the driver's compiler is the slow part
python3 -c "import xdist" 2>/dev/null && parallel=(-n "${GPU_TEST_WORKERS:-8}" --dist loadfile)
python3 -c "import pytest_timeout" 2>/dev/null && parallel+=(--timeout 60)  # a hung kernel costs one test
step "tests" 180 "$OUT/tests.log" python3 -m pytest -v -p no:cacheprovider -rfE "${parallel[@]}" "${TESTS[@]}"

cp benchmarks/RESULTS.md "$OUT/RESULTS.md"  # run.py writes the GPU section into this copy
step "benchmarks" 100 "$OUT/bench.log" python3 benchmarks/run.py --device "$CLTENSOR_DEVICE" --repeat 5 \
  --only device,digits,matmul,elementwise,reduce,latency --results "$OUT/RESULTS.md"

{
  echo "== summary ($(( SECONDS - STARTED )) s in all)"
  printf '%s\n' "${SUMMARY[@]}"
  grep -E "^(platform|  device):" "$OUT/props.log" 2>/dev/null
  grep -E "PASS|FAIL|passed|failed" "$OUT/selftest.log" 2>/dev/null | tail -n 20
  grep -E "GFLOP/s" "$OUT/tuning.log" 2>/dev/null | grep -v "^  {" 
  # failures: pytest's closing list, or (a run cut short) the progress lines; per file, then the first 40
  failures=$(grep -E "^(FAILED|ERROR) " "$OUT/tests.log" 2>/dev/null || grep -E " (FAILED|ERROR) " "$OUT/tests.log")
  if [ -n "$failures" ]; then
    echo "$failures" | grep -oE "tests/[a-z_0-9]+\.py" | sort | uniq -c
    echo "$failures" | head -n 40
  fi
  grep -E "(passed|failed|error).* in [0-9.]+s" "$OUT/tests.log" 2>/dev/null | tail -n 1
  sed -n '/^targets:/,$p' "$OUT/bench.log" 2>/dev/null | grep -v " n/a *n/a$"
} | tee "$OUT/summary.txt"
