"""Render kernels_cl/*.cl.mako, build programs, and cache them.

Three caches, so that a warm start neither imports Mako nor compiles OpenCL C from scratch:
- rendered sources on disk (CACHE_DIR/sources), keyed by the template parameters and a digest of
  every template and of this file: a warm process reads the text instead of rendering it (Mako's
  import and template compilation cost ~0.3-0.5 s, measured);
- programs in memory by source hash; on disk by pyopencl's binary cache in CACHE_DIR, except on
  PoCL, whose own kernel cache (~/.cache/pocl, or $POCL_CACHE_DIR) pyopencl relies on instead;
- kernel objects per (template, parameters) key on the backend, so that a launch is a dictionary
  lookup plus an enqueue.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import threading
import time
from pathlib import Path

import pyopencl as cl

from .dtypes import dtype, param_c

_lookup = None
_programs: dict = {}  # (backend id, source hash) -> cl.Program
_templates_digest = None
CACHE_DIR = os.environ.get("CLTENSOR_CACHE_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cltensor")
stats = {"renders": 0, "builds": 0, "source_hits": 0}


def _template_dir() -> str:
    """The templates next to the package when running from a source checkout (so a second checkout
    or git worktree uses its own, not those of the checkout installed in editable mode), else the
    installed package's copy."""
    checkout = Path(__file__).resolve().parent.parent / "kernels_cl"
    if (checkout / "elementwise.cl.mako").is_file():
        return str(checkout)
    from importlib.resources import files
    return str(files("cltensor.kernels_cl"))


def lookup():
    global _lookup
    if _lookup is None:
        from mako.lookup import TemplateLookup  # imported on the first render only
        _lookup = TemplateLookup(directories=[_template_dir()], strict_undefined=True)
    return _lookup


_FP64_PRAGMA = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable"


_BF16_HELPERS = """\
inline float bf16_load(const ushort b) { return as_float((uint)b << 16); }
inline ushort bf16_round(const float f)
{
    const uint u = as_uint(f);
    return isnan(f) ? (ushort)0x7FC0 : (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
""" + "".join(f"""\
inline float{n} bf16_load{n}(const ushort{n} b) {{ return as_float{n}(convert_uint{n}(b) << 16); }}
inline ushort{n} bf16_round{n}(const float{n} f)
{{
    const uint{n} u = as_uint{n}(f);
    const uint{n} r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return convert_ushort{n}(select(r, (uint{n})0x7FC0u, isnan(f)));
}}
""" for n in (2, 4, 8)) + """\
#define bf16_load16(b) ((float16)(bf16_load8((b).lo), bf16_load8((b).hi)))
#define bf16_round16(f) ((ushort16)(bf16_round8((f).lo), bf16_round8((f).hi)))
"""
# NOTE: 16-wide as two 8-wide halves: PoCL warns about the ABI of 16-wide vector function arguments


def _complex_helpers(fp64: bool) -> str:
    """to_float2(x) / to_double2(x): any scalar as (x, 0), a complex pair converted; overloaded, so that
    a load, a store or a cast into a complex type needs no knowledge of the value's type."""
    reals = ["char", "uchar", "short", "ushort", "int", "uint", "long", "ulong", "float"] + (["double"] if fp64 else [])
    pairs = ["float2"] + (["double2"] if fp64 else [])
    text = []
    for T, R in (("float2", "float"), ("double2", "double")):
        if T not in pairs:
            continue
        text += [f"inline {T} __attribute__((overloadable)) to_{T}({r} x) {{ return ({T})(({R})x, ({R})0); }}"
                 for r in reals]
        text += [f"inline {T} __attribute__((overloadable)) to_{T}({p} x) {{ return "
                 f"{'x' if p == T else f'convert_{T}(x)'}; }}" for p in pairs]
    return "\n".join(text) + "\n"


def _computed_in_float(d) -> bool:
    return d.name in ("float16", "bfloat16")


class C:
    """Per-dtype C snippets the templates use: loads, stores and conversions.

    half is stored as half and computed in float through vload_half/vstore_half (core OpenCL),
    so float16 works on devices without cl_khr_fp16; bfloat16 is stored as ushort (the high half
    of a float), loaded by a shift and stored rounded to nearest even (bf16_* in the preamble);
    bool is stored as uchar, always 0 or 1.
    """

    @staticmethod
    def load(d, ptr, idx):
        if d.name == "float16":
            return f"vload_half({idx}, {ptr})"
        if d.name == "bfloat16":
            return f"bf16_load({ptr}[{idx}])"
        return f"{ptr}[{idx}]"

    @staticmethod
    def store(d, ptr, idx, value):
        if d.name == "float16":
            return f"vstore_half_rte((float)({value}), {idx}, {ptr})"
        if d.name == "bfloat16":
            return f"{ptr}[{idx}] = bf16_round((float)({value}))"
        if d.name == "bool":
            return f"{ptr}[{idx}] = (uchar)(({value}) != 0)"
        if d.is_complex:
            return f"{ptr}[{idx}] = to_{d.c}({value})"
        return f"{ptr}[{idx}] = ({d.c})({value})"

    @staticmethod
    def convert(dst, value):
        if dst.name == "bool":
            return f"(uchar)(({value}) != 0)"
        if dst.is_complex:
            return f"to_{dst.c}({value})"
        return f"({dst.compute_c})({value})"

    @staticmethod
    def vtype(d, n):
        """The vector type vload(d, n, ...) yields: half and bfloat16 load as float, bool as uchar."""
        return f"{'float' if _computed_in_float(d) else d.c}{n}"

    @staticmethod
    def vload(d, n, ptr):
        if d.name == "float16":
            return f"vload_half{n}(0, {ptr})"
        if d.name == "bfloat16":
            return f"bf16_load{n}(vload{n}(0, {ptr}))"
        return f"vload{n}(0, {ptr})"

    @staticmethod
    def vstore(d, n, value, ptr):
        if d.name == "float16":
            return f"vstore_half{n}_rte({value}, 0, {ptr})"
        if d.name == "bfloat16":
            return f"vstore{n}(bf16_round{n}({value}), 0, {ptr})"
        return f"vstore{n}({value}, 0, {ptr})"

    @staticmethod
    def vstore_component(d, value):
        """A value converted for one component of a vtype(d, n) vector that vstore writes."""
        if d.name == "bool":
            return f"(uchar)(({value}) != 0)"
        return f"({'float' if _computed_in_float(d) else d.c})({value})"

    @staticmethod
    def param_c(ctype, compute):
        return param_c(ctype, compute)

    @staticmethod
    def preamble(dtypes):
        names = {d.name for d in dtypes if d is not None}
        fp64 = bool(names & {"float64", "complex128"})
        return "\n".join(([_FP64_PRAGMA] if fp64 else []) +
                         ([_BF16_HELPERS] if "bfloat16" in names else []) +
                         ([_complex_helpers(fp64)] if names & {"complex64", "complex128"} else []))


def render(template: str, **params) -> str:
    stats["renders"] += 1
    return lookup().get_template(template).render(c=C, **params)


class KernelBuildError(RuntimeError):
    pass


def build(backend, source: str, template: str = "?", key=None) -> cl.Program:
    if not backend.has_fp64 and _FP64_PRAGMA in source:
        # float64 operands that no allocation checked (a from_numpy array written in place or read, an out=):
        # the documented error, not a compiler error about 'double'
        raise RuntimeError(f"float64 is not supported on {backend.name}: the device lacks cl_khr_fp64; use float32")
    digest = hashlib.sha1(source.encode()).hexdigest()
    cache_key = (id(backend), digest)
    prog = _programs.get(cache_key)
    if prog is None:
        binary_path = _binary_path(backend, digest)
        prog = _from_binary(backend, binary_path) if binary_path else None
        if prog is None:
            stats["builds"] += 1
            os.makedirs(CACHE_DIR, exist_ok=True)
            try:
                prog = cl.Program(backend.context, source).build(options=backend.build_options, cache_dir=CACHE_DIR)
            except cl.RuntimeError as err:
                if "to_float2(" in source or "to_double2(" in source:
                    # a kernel family that has no complex form yet (scan, sort...): PyTorch's error type
                    raise NotImplementedError(f"{template!r} is not implemented for complex dtypes "
                                              f"(not implemented for 'ComplexFloat' / 'ComplexDouble')") from None
                raise KernelBuildError(
                    f"OpenCL build of template {template!r} for key {key!r} failed on {backend.name}:\n{err}") from None
            if binary_path:
                _unsaved_binaries.append((prog, binary_path))
        _programs[cache_key] = prog
    return prog


# ---- program binaries on disk (PoCL) -------------------------------------------------------------
# pyopencl leaves PoCL to its own kernel cache, but a source build that hits it still costs
# ~50-70 ms per program (front end + first-launch link), against ~2 ms for a build from the
# binary, measured. Fetching a binary right after a cold build costs ~0.2 s, so the binaries of
# this process's builds are written at exit, within a time budget.
_unsaved_binaries: list = []
_BINARY_SAVE_BUDGET_S = float(os.environ.get("CLTENSOR_BINARY_SAVE_BUDGET", "2.0"))


def _binary_path(backend, digest: str):
    dev = backend.cl_device
    if not backend.is_pocl or os.environ.get("CLTENSOR_NO_BINARY_CACHE"):
        return None
    ident = "\0".join([digest, backend.name, dev.driver_version, dev.platform.version, " ".join(backend.build_options)])
    name = hashlib.sha1(ident.encode()).hexdigest()
    return os.path.join(CACHE_DIR, "binaries", name[:2], name + ".bin")


def _from_binary(backend, path: str):
    try:
        with open(path, "rb") as f:
            binary = f.read()
    except OSError:
        return None
    try:
        prog = cl.Program(backend.context, [backend.cl_device], [binary]).build(options=backend.build_options)
    except cl.Error:
        return None  # stale or damaged: rebuilt from source and rewritten at exit
    stats["binary_hits"] = stats.get("binary_hits", 0) + 1
    return prog


def save_binaries(budget_s: float | None = None) -> int:
    """Write the binaries of programs built from source in this process (called at exit; the
    budget, $CLTENSOR_BINARY_SAVE_BUDGET seconds, bounds the exit delay after a cold run)."""
    deadline = time.perf_counter() + (_BINARY_SAVE_BUDGET_S if budget_s is None else budget_s)
    saved = 0
    while _unsaved_binaries and time.perf_counter() < deadline:
        prog, path = _unsaved_binaries.pop(0)
        try:
            binary = prog.get_info(cl.program_info.BINARIES)[0]
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(binary)
            os.replace(tmp, path)
            saved += 1
        except (cl.Error, OSError):
            pass
    _unsaved_binaries.clear()
    return saved


atexit.register(save_binaries)


# id(kernel) -> (kernel, template, its parameters, scalar argument dtypes) of every kernel built: what
# torch.compile's capture reads to fuse elementwise kernels and to preset a replay's arguments
BUILT: dict = {}


def built(k: cl.Kernel, template: str | None = None):
    """(template parameters, arg_dtypes) that codegen built k with (None if it did not build k, or
    built it from another template than the one asked for)."""
    entry = BUILT.get(id(k))
    if entry is None or entry[0] is not k or (template is not None and entry[1] != template):
        return None
    return entry[2], entry[3]


def kernel(backend, key, template: str, kname: str, signatures=None, arg_dtypes=None, **params) -> cl.Kernel:
    """The cached kernel for key; renders and builds the template on first use.

    signatures: {kernel name: launch.signature.Signature} for the kernels the template renders (or a
    function giving them, called only to build); the template reads their C parameter lists as
    sig[name], and kname's gives the arg_dtypes (for set_scalar_arg_dtypes). They are set before the
    kernel is cached: another thread that finds it in backend.kernels can launch it at once."""
    k = backend.kernels.get(key)
    if k is None:
        with backend.lock:
            k = backend.kernels.get(key)
            if k is None:
                if callable(signatures):
                    signatures = signatures()
                if signatures is not None:
                    params["sig"] = {name: s.c for name, s in signatures.items()}
                    arg_dtypes = signatures[kname].arg_dtypes
                source = cached_render(template, kname=kname, **params)
                k = cl.Kernel(build(backend, source, template, key), kname)
                if arg_dtypes is not None:
                    k.set_scalar_arg_dtypes(arg_dtypes)
                BUILT[id(k)] = (k, template, params, tuple(arg_dtypes) if arg_dtypes is not None else None)
                backend.kernels[key] = k
    return k


# ---- rendered sources on disk ------------------------------------------------------------------
class _NotPlain(Exception):
    pass


def _plain(value) -> str:
    """A text that identifies value, for values made of str/numbers/None/dtypes/tuples/lists/dicts;
    _NotPlain for anything else (whose repr might not capture what the template reads)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return repr(value)
    if isinstance(value, dtype):
        return "dtype:" + value.name
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_plain(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ",".join(_plain(k) + ":" + _plain(v) for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))) + "}"
    raise _NotPlain


def _digest_of_templates() -> str:
    global _templates_digest
    if _templates_digest is None:
        h = hashlib.sha1(Path(__file__).read_bytes())
        folder = Path(_template_dir())
        for path in sorted(folder.glob("*.mako")):
            h.update(path.name.encode() + b"\0" + path.read_bytes())
        _templates_digest = h.hexdigest()
    return _templates_digest


def _source_path(template: str, params: dict):
    try:
        text = template + "\0" + _plain(params)
    except _NotPlain:
        return None
    digest = hashlib.sha1((_digest_of_templates() + text).encode()).hexdigest()
    return os.path.join(CACHE_DIR, "sources", digest[:2], digest + ".cl")


def cached_render(template: str, **params) -> str:
    """render(), through the on-disk cache of rendered sources when the parameters are plain."""
    path = _source_path(template, params)
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
            stats["source_hits"] += 1
            return source
        except OSError:
            pass
    source = render(template, **params)
    if path is not None:
        _write_atomically(path, source)
    return source


def _write_atomically(path: str, text: str) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # per thread too: backends (devices) render under their own locks, so two threads may write one path
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache folder only costs the next process a render
