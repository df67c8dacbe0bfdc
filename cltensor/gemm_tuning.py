"""GEMM tile parameters per device, and a small tuner that records the best per device name.

Lookup order for a device and accumulation dtype: the user's tuning file
(``<cache dir>/gemm_tuning.json``, written by :func:`tune`), then the table shipped below
(measured on the named devices). A device in neither is tuned on its first GEMM: a search of a
few seconds over the candidate tilings (:func:`autotune`, one line on stderr says so) whose winner
is recorded in the tuning file, so it runs once per device and cache directory.
``CLTENSOR_AUTOTUNE=0`` turns that off; then the defaults by device type apply: the
register-blocked vector variant on CPUs, the local-memory tiled variant on GPUs.

    python -m cltensor.launch.gemm_search      # a longer search on the default device, saved
"""
from __future__ import annotations

import contextlib
import json
import os
import threading

from . import codegen

TUNING_FILE = os.path.join(codegen.CACHE_DIR, "gemm_tuning.json")

# Parameters a variant takes. 'vec': MR rows x NR columns per work-item (NR = NV vectors of width VW)
# for the 'nn' mode, its k loop unrolled KU times, tiles walked in bands of GROUP_M row blocks (0: down
# whole columns), B packed into column panels first where it outgrows the caches (PACK); DOT_MR x
# DOT_NR dot products for the 'dot' mode. 'tiled': a BM x BN
# tile per work-group, BK deep, WM x WN outputs per work-item, VL-wide vector loads.
DEFAULT_VEC = {"variant": "vec", "MR": 8, "NV": 2, "DOT_MR": 4, "DOT_NR": 4, "GROUP_M": 16, "PACK": True, "KU": 1}
DEFAULT_TILED = {"variant": "tiled", "BM": 64, "BN": 64, "BK": 16, "WM": 4, "WN": 4, "VL": 4}

# Measured with `python -m cltensor.gemm_tuning` on the devices named (keys: device name, dtype name).
SHIPPED = {
    "pthread-skylake-avx512-AMD EPYC": {
        "float32": {"variant": "vec", "MR": 8, "NV": 2, "DOT_MR": 4, "DOT_NR": 4},
    },
    "pthread-haswell-AMD EPYC": {  # 6 x 16: 12 accumulators + 2 B vectors + 1 A broadcast of 16 ymm registers
        "float32": {"variant": "vec", "MR": 6, "NV": 2, "DOT_MR": 4, "DOT_NR": 4, "GROUP_M": 16, "PACK": True,
                    "KU": 4},
    },
}
AUTOTUNE_SIZE = 512  # the M = N = K of the timed product: big enough to show register and cache blocking
AUTOTUNE_SECONDS = 6.0  # the search stops trying candidates after this long (the best so far wins)

_user_table = None
_resolved: dict = {}
_forced_variant = None
_tuning_lock = threading.Lock()  # one search per process, whichever thread meets the device first


@contextlib.contextmanager
def forced_variant(variant):
    """Run every GEMM in the block with `variant` ('vec' | 'tiled') whatever the device is, e.g. to
    test the GPU kernel on a CPU driver."""
    global _forced_variant
    if variant not in ("vec", "tiled", None):
        raise ValueError(f"unknown GEMM variant {variant!r}; expected 'vec' or 'tiled'")
    previous, _forced_variant = _forced_variant, variant
    try:
        yield
    finally:
        _forced_variant = previous


def vector_bytes(backend) -> int:
    """The device's preferred SIMD width in bytes (64 for AVX-512 under PoCL)."""
    width = getattr(backend.cl_device, "preferred_vector_width_float", 4) or 4
    return max(16, min(64, 4 * width))


def vector_width(backend, acc) -> int:
    """Lanes of the accumulation type per vector: 16 floats, 8 doubles on AVX-512."""
    item = 4 if acc.compute_c == "float" else acc.itemsize  # 16-bit floats accumulate in float
    return max(2, min(16, vector_bytes(backend) // item))


def _load_user_table() -> dict:
    global _user_table
    if _user_table is None:
        try:
            with open(TUNING_FILE) as f:
                _user_table = json.load(f)
        except (OSError, ValueError):
            _user_table = {}
    return _user_table


def params_for(backend, dtype, variant=None) -> dict:
    """Tile parameters for a GEMM accumulating in `dtype` on backend's device (cached: do not modify)."""
    variant = variant or _forced_variant
    key = (id(backend), dtype, variant)
    found = _resolved.get(key)
    if found is None:
        with _tuning_lock:
            found = _resolved.get(key)
            if found is None:
                found = _resolved[key] = _resolve(backend, dtype, variant)
    return found


def _resolve(backend, dtype, variant):
    want = variant or ("vec" if backend.cpu_tuned else "tiled")
    entry = _recorded(backend.name)
    p = entry.get(dtype.name) or entry.get("float32")
    if p and p.get("variant") == want:
        return complete(backend, dtype, p)
    if not entry and variant is None and want == _natural_variant(backend) and autotune_enabled() and autotune:
        return complete(backend, dtype, autotune(backend))
    return complete(backend, dtype, DEFAULT_VEC if want == "vec" else DEFAULT_TILED)


def _recorded(device_name) -> dict:
    """The device's entries: the user's over the shipped ones, key by key where both name the same
    variant (so an entry recorded before a parameter existed takes the shipped value of it)."""
    user, shipped = _load_user_table().get(device_name) or {}, SHIPPED.get(device_name) or {}
    merged = dict(shipped)
    for dtype_name, p in user.items():
        base = shipped.get(dtype_name, {})
        merged[dtype_name] = {**base, **p} if base.get("variant") == p.get("variant") else p
    return merged


def _natural_variant(backend) -> str:
    """The variant the device's type calls for (CLTENSOR_TUNING may force the other one, untuned)."""
    return "vec" if backend.is_cpu else "tiled"


# the bounded first-use search, autotune(backend) -> params: it times GEMMs, so it lives with the
# launcher (launch/gemm_search.py), which sets this when imported
autotune = None


def autotune_enabled() -> bool:
    return os.environ.get("CLTENSOR_AUTOTUNE", "1").strip() not in ("0", "false", "no", "off")


def complete(backend, dtype, p):
    base = DEFAULT_VEC if p["variant"] == "vec" else DEFAULT_TILED
    p = {**base, **p}
    if p["variant"] == "vec":
        p["VW"] = vector_width(backend, dtype)
    else:
        p = _fit_tiled(backend, dtype, p)
    # what, besides the mode's own tile sizes, tells kernels apart in the launcher's cache
    p["key"] = "vec" if p["variant"] == "vec" else tuple(p[k] for k in ("BM", "BN", "BK", "WM", "WN", "VL"))
    return p


def _fit_tiled(backend, dtype, p):
    """Shrink the tiled variant's tile until its work-group and local memory fit the device."""
    item = 4 if dtype.compute_c == "float" else dtype.itemsize
    while True:
        threads = (p["BM"] // p["WM"]) * (p["BN"] // p["WN"])
        local = p["BK"] * (p["BM"] + p["BN"] + 2) * item
        if threads <= backend.max_work_group_size and local <= backend.local_mem_size // 2:
            return p
        if p["BK"] > 4:
            p["BK"] //= 2
        elif p["BM"] > p["WM"]:
            p["BM"] //= 2
            p["BN"] //= 2
        else:
            return p


def record(device_name, dtype_name, params, path=None):
    """Store params as the best for (device, dtype) in the user's tuning file."""
    path = path or TUNING_FILE
    table = {}
    try:
        with open(path) as f:
            table = json.load(f)
    except (OSError, ValueError):
        pass
    table.setdefault(device_name, {})[dtype_name] = {k: v for k, v in params.items() if k not in ("key", "VW")}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(table, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
    global _user_table
    _user_table = None
    _resolved.clear()


def candidates(variant):
    if variant == "vec":  # register tiles for 16 (AVX2) and 32 (AVX-512) vector registers first
        return [{**DEFAULT_VEC, "MR": mr, "NV": nv, "KU": ku, "GROUP_M": group}
                for mr, nv in ((6, 2), (4, 3), (8, 2), (12, 2), (4, 2), (8, 1), (4, 4))
                for ku, group in ((4, 16), (1, 16), (4, 0))]  # KU 4: ~10x the compile time on llvmpipe
    return [{"variant": "tiled", "BM": bm, "BN": bn, "BK": bk, "WM": w, "WN": w, "VL": 4}
            for bm, bn, bk, w in ((32, 32, 16, 2), (64, 64, 8, 4), (64, 64, 16, 4), (128, 128, 8, 8),
                                  (128, 64, 16, 8))]

