#!/usr/bin/env bash
# Run a command with exactly one OpenCL implementation visible, and a kernel cache of its own:
#   bash tools/with_icd.sh rusticl python3 -m pytest -q     # Mesa rusticl on llvmpipe
#   bash tools/with_icd.sh pocl python3 examples/digits_mlp.py
# NAME is the stem of an ICD file in /etc/OpenCL/vendors (pocl, rusticl, nvidia, ...). The ICD loader
# reads OCL_ICD_VENDORS as a folder of .icd files, so a folder holding only NAME.icd hides the others;
# rusticl also needs RUSTICL_ENABLE to expose llvmpipe (its CPU device).
set -euo pipefail
name=${1:?usage: with_icd.sh NAME COMMAND...}
shift
icd=/etc/OpenCL/vendors/$name.icd
if [ ! -f "$icd" ]; then
  echo "with_icd: no $icd (installed: $(ls /etc/OpenCL/vendors 2>/dev/null | tr '\n' ' '))" >&2
  exit 2
fi
vendors=$(mktemp -d "${TMPDIR:-/tmp}/cltensor-icd-$name.XXXXXX")
trap 'rm -rf "$vendors"' EXIT
cp "$icd" "$vendors/"
export OCL_ICD_VENDORS=$vendors
export CLTENSOR_CACHE_DIR=${CLTENSOR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cltensor}-$name
if [ "$name" = rusticl ]; then
  export RUSTICL_ENABLE=${RUSTICL_ENABLE:-llvmpipe}
fi
"$@"
