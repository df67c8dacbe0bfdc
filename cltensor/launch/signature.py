"""A kernel's arguments, described once.

A Signature lists a kernel's parameters in order; from it the template gets the C parameter list
(``sig.c``, passed to the template in ``sig[kname]``) and the launcher gets the numpy types for
``set_scalar_arg_dtypes`` (``sig.arg_dtypes``, None for a buffer), so the two cannot drift apart.
A Signature is made of parts, each a list of (C declaration, numpy type) pairs:

    Signature(sizes("int", "n"), dims("int", "size", 2), tensor("out", "float", "int", 2, const=False),
              scalar("alpha", dt.float32), buffer("table", "long"))

renders ``const int n, const int size0, const int size1, __global float *out, const int out_off,
const int out_st0, const int out_st1, const float alpha, __global const long *table``.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as dt

C_TO_NP = {"char": np.int8, "uchar": np.uint8, "short": np.int16, "ushort": np.uint16, "int": np.int32,
           "uint": np.uint32, "long": np.int64, "ulong": np.uint64, "float": np.float32, "double": np.float64}


def np_type(d):
    """The numpy type of a kernel argument of dtype d's compute type (half and bfloat16 are
    computed in float, bool passes as uchar)."""
    return np.float32 if d.compute_c == "float" else d.np.type if d is not dt.bool_ else np.uint8


class Signature:
    __slots__ = ("c", "arg_dtypes")

    def __init__(self, *parts):
        pairs = [pair for part in parts for pair in part]
        self.c = ", ".join(decl for decl, _ in pairs)
        self.arg_dtypes = [t for _, t in pairs]

    def __repr__(self):
        return f"Signature({self.c})"


def sizes(ctype, *names):
    """Integer (or other plain C) values passed by value."""
    return [(f"const {ctype} {name}", C_TO_NP[ctype]) for name in names]


def dims(ctype, prefix, ndim):
    """One value per dim: prefix0, prefix1, ..."""
    return sizes(ctype, *[f"{prefix}{d}" for d in range(ndim)])


def buffer(name, ctype, const=True, space="__global"):
    """A plain buffer (or __local scratch) of ctype elements."""
    return [(f"{space} {'const ' if const else ''}{ctype} *{name}", None)]


def tensor(name, ctype, idx, ndim, const=True, offset=None, strides=None):
    """A tensor operand: its buffer, its element offset and one stride per dim, the offset and
    strides of C type idx (named name_off and name_st0, name_st1 ... unless given)."""
    names = strides if strides is not None else [f"{name}_st{d}" for d in range(ndim)]
    return buffer(name, ctype, const) + sizes(idx, offset or f"{name}_off", *names)


def scalar(name, d):
    """A value of dtype d's compute type (a Python number converted by base.scalar_arg)."""
    return [(f"const {d.compute_c} {name}", np_type(d))]


def param(name, ctype, compute):
    """An op's extra scalar parameter: C type ctype, or the compute type when ctype names it
    (see dtypes.param_dtype)."""
    d = dt.param_dtype(ctype, compute)
    return [(f"const {dt.param_c(ctype, compute)} {name}", C_TO_NP[ctype] if d is None else np_type(d))]
