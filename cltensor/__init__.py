"""cltensor: PyTorch-style tensors whose every computation runs as OpenCL kernels.

    import cltensor as torch
    x = torch.arange(12).reshape(3, 4)
    print(x * 2.5)
"""
import sys as _sys

from . import dtypes as _dt
from .device import (device, get_default_device, set_default_device, synchronize,
                     cl_namespace as cl)
from .dtypes import (dtype, get_default_dtype, set_default_dtype, promote_types, result_type as _result_type,
                     finfo, iinfo, can_cast)
from .tensor import Tensor, Size, is_tensor
from ._printing import set_printoptions
from .ops import elementwise as _ew, shape as _shape, creation as _creation, random as _random
from .ops import complex as _complex
from . import autograd, profiler
from .autograd import no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode, \
    is_inference_mode_enabled

bool = _dt.bool_
uint8, int8, int16, int32, int64 = _dt.uint8, _dt.int8, _dt.int16, _dt.int32, _dt.int64
float16, float32, float64 = _dt.float16, _dt.float32, _dt.float64
half, float, double = float16, float32, float64
bfloat16 = _dt.bfloat16
short, int, long = int16, int32, int64
complex64, complex128 = _dt.complex64, _dt.complex128
cfloat, cdouble = complex64, complex128
strided = "torch.strided"
from ._memory_format import (channels_last, channels_last_3d, contiguous_format, memory_format,  # noqa: E402,F401
                            preserve_format)
pi = 3.141592653589793
e = 2.718281828459045
inf = float("inf") if False else 1e308 * 10
nan = inf - inf
newaxis = None


def result_type(tensor1, tensor2):
    return _result_type(tensor1, tensor2)


def _export(module, names=None):
    g = globals()
    for name in names or [n for n in vars(module) if not n.startswith("_")]:
        g[name] = getattr(module, name)


_export(_ew, [n for n in _ew.OPS if not n.startswith("_")] + [
    "div", "divide", "multiply", "subtract", "greater", "greater_equal", "less", "less_equal", "not_equal",
    "arctan2", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "negative", "absolute", "fix",
    "clamp", "clip", "nan_to_num", "where", "isclose", "float_power"])
_export(_shape, ["clone", "reshape", "flatten", "unflatten", "permute", "transpose", "t", "movedim", "squeeze",
                 "unsqueeze", "broadcast_to", "broadcast_tensors", "select", "narrow", "unbind", "as_strided",
                 "diagonal"])
swapaxes = swapdims = transpose
moveaxis = movedim
_export(_creation, ["tensor", "as_tensor", "asarray", "from_numpy", "frombuffer", "empty", "full", "zeros", "ones",
                    "empty_like", "zeros_like", "ones_like", "full_like", "arange", "linspace", "logspace", "eye",
                    "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
                    "CharTensor", "ByteTensor", "BoolTensor"])
_export(_random, ["Generator", "manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state", "rand",
                  "randn", "randint", "rand_like", "randn_like", "randint_like", "normal", "randperm", "bernoulli",
                  "multinomial", "poisson", "binomial"])
_standard_gamma, _standard_gamma_grad = _random._standard_gamma, _random._standard_gamma_grad
_sample_dirichlet = _random._sample_dirichlet
default_generator = _random.default_generator
_export(_complex)


def is_floating_point(t):
    return t.is_floating_point()


def numel(t):
    return t.numel()


def detach(input):
    return input.detach()


def _load_optional():
    """Modules added by later layers (reductions, linalg, indexing, nn...) if present."""
    import importlib
    for mod in ("reduce", "linalg", "index", "joins", "statistics", "misc", "extras"):
        try:
            m = importlib.import_module(f".ops.{mod}", __name__)
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.ops.{mod}":
                raise
            continue
        _export(m, getattr(m, "__all__", None))


_load_optional()
del _load_optional

from . import nn, optim, utils  # noqa: E402
from .ops import special as _special_ops  # noqa: E402
_export(_special_ops, _special_ops.TORCH_NAMES)
from . import special  # noqa: E402,F401
from .nn.pooling import (adaptive_avg_pool1d, avg_pool1d, max_pool1d, max_pool1d_with_indices,  # noqa: E402,F401
                         max_pool2d, max_pool3d)
from .nn.pooling import adaptive_max_pool1d_with_indices as adaptive_max_pool1d  # noqa: E402,F401
from .nn.padding import constant_pad_nd  # noqa: E402,F401
from .ops.conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d,  # noqa: E402,F401
                       conv_transpose3d)
from . import accelerator, backends, cuda, distributed, onnx, version  # noqa: E402,F401
from . import fft  # noqa: E402,F401
from .ops.stft import istft, stft  # noqa: E402,F401
_LAZY_MODULES = ("distributions",)  # ~0.1 s of imports that most scripts never use: loaded on first access


def __getattr__(name):
    if name in _LAZY_MODULES:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'cltensor' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES))
from ._compile import compile  # noqa: E402,F401
from ._flags import (are_deterministic_algorithms_enabled, get_float32_matmul_precision,  # noqa: E402,F401
                     get_num_interop_threads, get_num_threads, is_deterministic_algorithms_warn_only_enabled,
                     set_float32_matmul_precision, set_num_interop_threads, set_num_threads,
                     use_deterministic_algorithms)
__version__ = version.__version__
try:
    from .serialization import save, load  # noqa: E402,F401
except ModuleNotFoundError as _err:
    if _err.name != __name__ + ".serialization":
        raise

from . import linalg  # noqa: E402  (torch.linalg; cltensor.ops.linalg is the matmul family)
globals().update(linalg.TORCH_NAMES)
for _name, _fn in linalg.TENSOR_METHODS.items():
    setattr(Tensor, _name, _fn)

# last, over everything exported above: PyTorch's numpy-style keywords (axis=, keepdims=) on native ops
from ._numpy_names import install as _install_numpy_names  # noqa: E402
_install_numpy_names(globals(), Tensor)

# autocast: one wrapper per op on PyTorch's autocast lists, over the namespaces that export them
from . import amp  # noqa: E402
from .amp import (autocast, is_autocast_enabled, set_autocast_enabled, get_autocast_dtype,  # noqa: E402,F401
                  set_autocast_dtype, is_autocast_cpu_enabled, get_autocast_cpu_dtype, get_autocast_gpu_dtype,
                  is_autocast_cache_enabled, set_autocast_cache_enabled, clear_autocast_cache)
amp.install([globals(), nn.functional, _sys.modules[__name__ + ".ops.linalg"]], Tensor)
