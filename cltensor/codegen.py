"""Render kernels_cl/*.cl.mako, build programs, and cache them.

Programs are cached in memory by source hash, and on disk by pyopencl's binary cache (keyed by
source, options and device), which we point at a cltensor folder so that it can be emptied on
its own. Kernel objects are cached per (template, parameters) key on the backend, so a launch
is a dictionary lookup plus an enqueue.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyopencl as cl
from mako.lookup import TemplateLookup

_lookup = None
_programs: dict = {}  # (backend id, source hash) -> cl.Program
CACHE_DIR = os.environ.get("CLTENSOR_CACHE_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cltensor")
stats = {"renders": 0, "builds": 0}


def _template_dir() -> str:
    try:
        from importlib.resources import files
        return str(files("cltensor.kernels_cl"))
    except ModuleNotFoundError:  # running from a source checkout that was not installed
        return str(Path(__file__).resolve().parent.parent / "kernels_cl")


def lookup() -> TemplateLookup:
    global _lookup
    if _lookup is None:
        _lookup = TemplateLookup(directories=[_template_dir()], strict_undefined=True)
    return _lookup


class C:
    """Per-dtype C snippets the templates use: loads, stores and conversions.

    half is stored as half and computed in float through vload_half/vstore_half (core OpenCL),
    so float16 works on devices without cl_khr_fp16; bool is stored as uchar, always 0 or 1.
    """

    @staticmethod
    def load(d, ptr, idx):
        return f"vload_half({idx}, {ptr})" if d.name == "float16" else f"{ptr}[{idx}]"

    @staticmethod
    def store(d, ptr, idx, value):
        if d.name == "float16":
            return f"vstore_half_rte((float)({value}), {idx}, {ptr})"
        if d.name == "bool":
            return f"{ptr}[{idx}] = (uchar)(({value}) != 0)"
        return f"{ptr}[{idx}] = ({d.c})({value})"

    @staticmethod
    def convert(dst, value):
        if dst.name == "bool":
            return f"(uchar)(({value}) != 0)"
        return f"({dst.compute_c})({value})"

    @staticmethod
    def vtype(d, n):
        """The vector type vload(d, n, ...) yields: half loads as float, bool as uchar."""
        return f"{'float' if d.name == 'float16' else d.c}{n}"

    @staticmethod
    def vload(d, n, ptr):
        return f"vload_half{n}(0, {ptr})" if d.name == "float16" else f"vload{n}(0, {ptr})"

    @staticmethod
    def vstore(d, n, value, ptr):
        return f"vstore_half{n}_rte({value}, 0, {ptr})" if d.name == "float16" else f"vstore{n}({value}, 0, {ptr})"

    @staticmethod
    def vstore_component(d, value):
        """A value converted for one component of a vtype(d, n) vector that vstore writes."""
        if d.name == "bool":
            return f"(uchar)(({value}) != 0)"
        return f"({'float' if d.name == 'float16' else d.c})({value})"

    @staticmethod
    def preamble(dtypes):
        return "#pragma OPENCL EXTENSION cl_khr_fp64 : enable" if any(d.name == "float64" for d in dtypes) else ""


def render(template: str, **params) -> str:
    stats["renders"] += 1
    return lookup().get_template(template).render(c=C, **params)


class KernelBuildError(RuntimeError):
    pass


def build(backend, source: str, template: str = "?", key=None) -> cl.Program:
    digest = hashlib.sha1(source.encode()).hexdigest()
    cache_key = (id(backend), digest)
    prog = _programs.get(cache_key)
    if prog is None:
        stats["builds"] += 1
        os.makedirs(CACHE_DIR, exist_ok=True)
        try:
            prog = cl.Program(backend.context, source).build(options=backend.build_options, cache_dir=CACHE_DIR)
        except cl.RuntimeError as err:
            raise KernelBuildError(
                f"OpenCL build of template {template!r} for key {key!r} failed on {backend.name}:\n{err}") from None
        _programs[cache_key] = prog
    return prog


def kernel(backend, key, template: str, kname: str, **params) -> cl.Kernel:
    """The cached kernel for key; renders and builds the template on first use."""
    k = backend.kernels.get(key)
    if k is None:
        with backend.lock:
            k = backend.kernels.get(key)
            if k is None:
                source = render(template, kname=kname, **params)
                k = cl.Kernel(build(backend, source, template, key), kname)
                backend.kernels[key] = k
    return k
