#!/usr/bin/env bash
# Prepare a bare GPU machine from this repository alone and run the test suite and the
# benchmarks on its GPU through the vendor's OpenCL driver.
#   1. installs pyopencl, mako and their needs from the wheels in .whl/ (tools/gpu_fetch_wheels.sh)
#   2. registers NVIDIA's OpenCL driver when no ICD is registered
#   3. prints the OpenCL devices and their properties
#   4. runs the tests with CLTENSOR_DEVICE=gpu, then the benchmarks
# Output goes to stdout and, when $OUT is set, to $OUT/gpu_tests.log and $OUT/gpu_bench.log.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/cltensor-gpu}
mkdir -p "$OUT"

if [ -d .whl ]; then
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

python3 - <<'PY'
import pyopencl as cl
for p in cl.get_platforms():
    print(f"platform: {p.name} | {p.version}")
    for d in p.get_devices():
        print(f"  device: {d.name} | type {cl.device_type.to_string(d.type)} | driver {d.driver_version} | {d.version}")
        print(f"    compute units {d.max_compute_units}, clock {d.max_clock_frequency} MHz, "
              f"global mem {d.global_mem_size >> 20} MiB, local mem {d.local_mem_size} B, "
              f"max work-group {d.max_work_group_size}, max alloc {d.max_mem_alloc_size >> 20} MiB")
        exts = d.extensions.split()
        print(f"    fp64 {'cl_khr_fp64' in exts}, fp16 {'cl_khr_fp16' in exts}, "
              f"int64 atomics {'cl_khr_int64_base_atomics' in exts}, "
              f"preferred float vector {d.preferred_vector_width_float}")
PY

export CLTENSOR_DEVICE=${CLTENSOR_DEVICE:-gpu}
export PYTHONUNBUFFERED=1
echo "== tests on $CLTENSOR_DEVICE"
python3 -m pytest -q -x -p no:cacheprovider ${PYTEST_ARGS:-} 2>&1 | tee "$OUT/gpu_tests.log"
echo "== benchmarks on $CLTENSOR_DEVICE"
python3 benchmarks/run.py --device "$CLTENSOR_DEVICE" ${BENCH_ARGS:-} 2>&1 | tee "$OUT/gpu_bench.log"
