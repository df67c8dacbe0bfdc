#!/usr/bin/env bash
# Run on a machine with PyPI access: downloads the wheels a bare GPU machine (Python 3.12,
# x86-64, no package registry) needs to run cltensor into the ignored folder .whl/.
# The GPU image already has numpy, pytest, hypothesis, scikit-learn and PyTorch.
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=${PYVER:-3.12}
mkdir -p .whl
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux_2_24_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
  "${platforms[@]}" -d .whl pyopencl mako pytools platformdirs siphash24 markupsafe typing-extensions
ls -1 .whl
