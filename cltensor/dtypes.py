"""Dtypes as data: names, C types, numpy mapping, categories and PyTorch's promotion rules."""
from __future__ import annotations

import numpy as np

BOOL, INT, FLOAT, COMPLEX = 0, 1, 2, 3  # categories, ordered as PyTorch orders them


class dtype:
    """A cltensor dtype, printed as ``torch.<name>`` like PyTorch's."""

    __slots__ = ("name", "itemsize", "np", "c", "category", "signed", "rank", "torch_name")

    def __init__(self, name, np_dtype, c_type, category, signed, rank, torch_name):
        self.name = name
        self.torch_name = torch_name  # PyTorch's ScalarType name, as its error messages print it: 'Float', 'Long'
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.c = c_type
        self.category = category
        self.signed = signed
        self.rank = rank  # position in the promotion lattice within its category

    @property
    def is_floating_point(self):
        return self.category == FLOAT

    @property
    def is_signed(self):
        return self.signed

    @property
    def is_complex(self):
        return self.category == COMPLEX

    @property
    def is_differentiable(self):
        """Floating point or complex: the dtypes that may require gradients."""
        return self.category >= FLOAT

    @property
    def compute_c(self):
        """The C type arithmetic runs in: half (PoCL has no cl_khr_fp16) and bfloat16 load to float;
        complex as float2/double2 (re, im) pairs."""
        return "float" if self.name in _FLOAT_COMPUTED else self.c

    def to_real(self):
        """The dtype of a complex dtype's parts (complex64 -> float32); other dtypes unchanged."""
        return _REAL_OF.get(self.name, self)

    def to_complex(self):
        """The complex dtype with this floating dtype's parts. NOTE: float16 and bfloat16 give complex64
        (PyTorch's complex32 is not provided)."""
        if self.category == COMPLEX:
            return self
        return complex128 if self.name == "float64" else complex64

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_by_name, (self.name,))


bool_ = dtype("bool", np.bool_, "uchar", BOOL, False, 0, "Bool")
uint8 = dtype("uint8", np.uint8, "uchar", INT, False, 1, "Byte")
int8 = dtype("int8", np.int8, "char", INT, True, 1, "Char")
int16 = dtype("int16", np.int16, "short", INT, True, 2, "Short")
int32 = dtype("int32", np.int32, "int", INT, True, 3, "Int")
int64 = dtype("int64", np.int64, "long", INT, True, 4, "Long")
float16 = dtype("float16", np.float16, "half", FLOAT, True, 1, "Half")
float32 = dtype("float32", np.float32, "float", FLOAT, True, 2, "Float")
float64 = dtype("float64", np.float64, "double", FLOAT, True, 3, "Double")
# bfloat16: the high half of a float32, stored as ushort; the host holds its bits as uint16 arrays
# (numpy has no bfloat16), converted only by to_storage/from_storage below
bfloat16 = dtype("bfloat16", np.uint16, "ushort", FLOAT, True, 1, "BFloat16")
_FLOAT_COMPUTED = ("float16", "bfloat16")
# complex: interleaved (re, im) pairs, float2/double2 in kernels; rank as their parts'
complex64 = dtype("complex64", np.complex64, "float2", COMPLEX, True, 2, "ComplexFloat")
complex128 = dtype("complex128", np.complex128, "double2", COMPLEX, True, 3, "ComplexDouble")
_REAL_OF = {"complex64": float32, "complex128": float64}

ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, complex64, complex128)
COMPLEX_TYPES = (complex64, complex128)
INTEGRAL = (uint8, int8, int16, int32, int64)
FLOATING = (float16, bfloat16, float32, float64)

_NAMES = {d.name: d for d in ALL}
_NAMES.update({"bool": bool_, "float": float32, "double": float64, "half": float16,
               "long": int64, "int": int32, "short": int16, "char": int8, "byte": uint8,
               "cfloat": complex64, "cdouble": complex128})
_FROM_NP = {d.np: d for d in ALL if d is not bfloat16}

_default_float = float32


def _by_name(name: str) -> dtype:
    return _NAMES[name]


def get_default_dtype() -> dtype:
    return _default_float


def set_default_dtype(d: dtype) -> None:
    global _default_float
    if not isinstance(d, dtype) or d.category != FLOAT:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def from_numpy_dtype(npd) -> dtype:
    try:
        return _FROM_NP[np.dtype(npd)]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type {np.dtype(npd)}. The only supported types are: "
            "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint8, and bool.") from None


def as_dtype(d) -> dtype:
    """Accept a cltensor dtype, a numpy dtype, or Python's float/int/bool types."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    if d is complex:
        return complex128
    if isinstance(d, str):
        name = d[6:] if d.startswith("torch.") else d
        if name in _NAMES:
            return _NAMES[name]
        raise TypeError(f"invalid dtype string: {d!r}")
    try:
        return from_numpy_dtype(d)
    except TypeError:
        raise TypeError(f"dtype must be a cltensor dtype, got {d!r} of type {type(d).__name__}") from None


def param_dtype(ctype: str, compute: dtype):
    """The dtype of an op's scalar parameter declared as 'T' (the compute dtype) or 'real' (the compute
    dtype when it is floating, else float32, as PyTorch computes integer tolerances); None for a C type."""
    if ctype == "T":
        return compute
    if ctype == "real":
        return compute.to_real() if compute.category >= FLOAT else float32
    return None


def param_c(ctype: str, compute: dtype) -> str:
    """The C type of such a parameter in a kernel signature."""
    d = param_dtype(ctype, compute)
    return ctype if d is None else d.compute_c


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both a and b convert to safely."""
    if a is b:
        return a
    if a.category == COMPLEX or b.category == COMPLEX:
        # the parts' precision is the wider of the two floating parts: float64 + complex64 -> complex128
        ranks = [d.rank for d in (a, b) if d.category >= FLOAT]
        return complex128 if max(ranks) >= complex128.rank else complex64
    if {a.name, b.name} == {"float16", "bfloat16"}:
        return float32  # neither holds the other's range or precision
    if a.category != b.category:
        return a if a.category > b.category else b
    if a.category == FLOAT or a.signed == b.signed:
        return a if a.rank >= b.rank else b
    unsigned, signed = (a, b) if not a.signed else (b, a)
    # uint8 with a signed integer: the signed type if wider than 8 bits, else int16
    return signed if signed.rank > unsigned.rank else int16


def _combine_categories(higher, lower):
    """PyTorch's rule for mixing dimensioned, 0-d and wrapped-number participants."""
    if higher is None:
        return lower
    if higher.category == COMPLEX:
        return higher
    if lower is not None and lower.category == COMPLEX:
        # a complex 0-d tensor or scalar keeps a floating tensor's precision: float64 + 1j -> complex128
        return higher.to_complex() if higher.category == FLOAT else lower
    if lower is None or higher.category == FLOAT:
        return higher
    if higher is bool_ or lower.category == FLOAT:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(value) -> dtype:
    """The dtype a Python number wraps to when it meets a tensor."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return _default_float
    if isinstance(value, (complex, np.complexfloating)):
        return _default_float.to_complex()
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


def result_type(*operands) -> dtype:
    """torch.result_type over tensors and Python scalars (see c10 ResultTypeState)."""
    dim = zero = wrapped = None
    for x in operands:
        if x is None:
            continue
        d = getattr(x, "dtype", None)
        if d is None or not isinstance(d, dtype):
            s = scalar_dtype(x)
            wrapped = s if wrapped is None else promote_types(wrapped, s)
        elif x.dim() == 0:
            zero = d if zero is None else promote_types(zero, d)
        else:
            dim = d if dim is None else promote_types(dim, d)
    return _combine_categories(dim, _combine_categories(zero, wrapped))


def can_cast(src: dtype, dst: dtype) -> bool:
    """torch.can_cast: whether an in-place op may write a src-typed result into dst."""
    return src.category <= dst.category


def iinfo_bounds(d: dtype):
    info = np.iinfo(d.np)
    return int(info.min), int(info.max)


def to_storage(values, d: dtype) -> np.ndarray:
    """values (array-like numbers) as the numpy array d's memory holds: for bfloat16 the uint16 bits,
    rounded to nearest even through float32 as PyTorch converts (any NaN becomes 0x7FC0)."""
    if d is not bfloat16:
        return np.asarray(values).astype(d.np)
    with np.errstate(over="ignore"):  # beyond float32: inf, as PyTorch converts
        f = np.array(values, dtype=np.float32, order="C")
    u = f.view(np.uint32)
    bits = ((u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16).astype(np.uint16)
    return np.where(np.isnan(f), np.uint16(0x7FC0), bits).astype(np.uint16)


def from_storage(array: np.ndarray, d: dtype) -> np.ndarray:
    """The values of d-typed memory held in array: bfloat16 bits widen exactly to float32."""
    if d is not bfloat16:
        return array
    return (np.asarray(array, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


class _Bfloat16Info:
    bits, eps, max, min = 16, 0.0078125, 3.3895313892515355e+38, -3.3895313892515355e+38
    tiny, resolution = 1.1754943508222875e-38, 0.01


class finfo:
    def __init__(self, d=None):
        d = (as_dtype(d) if d is not None else _default_float).to_real()  # complex: its parts', as PyTorch
        info = _Bfloat16Info if d is bfloat16 else np.finfo(d.np)
        self.bits, self.eps, self.max, self.min = info.bits, float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.tiny)
        self.resolution = float(info.resolution)
        self.dtype = d.name


class iinfo:
    def __init__(self, d):
        d = as_dtype(d)
        info = np.iinfo(d.np)
        self.bits, self.max, self.min, self.dtype = info.bits, int(info.max), int(info.min), d.name
