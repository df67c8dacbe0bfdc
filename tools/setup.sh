#!/usr/bin/env bash
# Installs everything cltensor needs on a fresh Debian/Ubuntu machine:
# an OpenCL CPU driver (PoCL) when none is registered, then cltensor with its test and example extras.
set -euo pipefail
cd "$(dirname "$0")/.."

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

# PIP_BREAK_SYSTEM_PACKAGES: Debian's own python3 refuses pip installs without it (PEP 668)
PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --disable-pip-version-check -e ".[test,examples]"
