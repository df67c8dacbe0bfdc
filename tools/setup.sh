#!/usr/bin/env bash
# Installs everything cltensor needs on a fresh Debian/Ubuntu machine:
# an OpenCL CPU driver (PoCL) when none is registered, OpenMPI and mpi4py (cltensor.distributed),
# then cltensor with its test and example extras.
#   bash tools/setup.sh                  # what the README's two commands need
#   bash tools/setup.sh --test-devices   # also the implementations CI tests on: Mesa's OpenCL
#                                        # (rusticl; select it with tools/with_icd.sh rusticl ...)
#                                        # and the Oclgrind simulator (tools/oclgrind_check.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
test_devices=0
for arg in "$@"; do
  case "$arg" in
    --test-devices) test_devices=1 ;;
    *) echo "setup: unknown option $arg"; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

has_cpu_driver() {
  python3 - <<'PY' 2>/dev/null
import sys
try:
    import pyopencl as cl
    ok = any(d.type & cl.device_type.CPU for p in cl.get_platforms() for d in p.get_devices())
except Exception:
    ok = False
sys.exit(0 if ok else 1)
PY
}

if ! ls /etc/OpenCL/vendors/*pocl* >/dev/null 2>&1 && ! has_cpu_driver; then
  echo "setup: no OpenCL CPU driver found; installing PoCL (pocl-opencl-icd)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq pocl-opencl-icd ocl-icd-libopencl1 >/dev/null
fi

if [ "$test_devices" = 1 ] && ! { [ -f /etc/OpenCL/vendors/rusticl.icd ] && command -v oclgrind >/dev/null; }; then
  echo "setup: installing Mesa's OpenCL (mesa-opencl-icd) and Oclgrind"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-opencl-icd oclgrind >/dev/null
fi

# cltensor.distributed runs on MPI: OpenMPI from the distribution, mpi4py from PyPI (docs/distributed.md)
if ! command -v mpirun >/dev/null || ! command -v mpicc >/dev/null; then
  echo "setup: installing OpenMPI (openmpi-bin, libopenmpi-dev) for cltensor.distributed"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openmpi-bin libopenmpi-dev >/dev/null
fi

# PIP_BREAK_SYSTEM_PACKAGES: Debian's own python3 refuses pip installs without it (PEP 668)
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check -e ".[test,examples]"
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check mpi4py
