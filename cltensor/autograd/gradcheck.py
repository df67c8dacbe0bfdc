"""gradcheck: analytical gradients against central finite differences (use float64 inputs).

>>> import cltensor as torch
>>> x = torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True)
>>> torch.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
True

The full mode builds both Jacobians (2 evaluations per input element, one backward pass per
output element); ``fast_mode=True`` compares ``v^T J u`` for random ``u, v`` instead (two
evaluations and one backward pass per input), as PyTorch's fast mode does.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import launch
from ..tensor import Tensor
from ._engine import grad
from .grad_mode import enable_grad, no_grad


class GradcheckError(RuntimeError):
    pass


def _device_tensor(values: np.ndarray, like) -> Tensor:
    """values (float64 on the host) as a new tensor of like's shape, dtype and device."""
    return launch.base.from_host(values.reshape(tuple(like.shape)), like.dtype, like.device)


def _outputs(out):
    """The floating point tensors among fn's outputs."""
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.is_floating_point]


def _values(outs) -> np.ndarray:
    parts = [o.detach()._to_numpy_copy().astype(np.float64).reshape(-1) for o in outs]
    return np.concatenate(parts) if parts else np.zeros(0)


def _host(t) -> np.ndarray:
    return t.detach()._to_numpy_copy().astype(np.float64)


class _Writer:
    """Writes values into an input's memory, keeping its layout, outside autograd's view."""

    def __init__(self, x):
        self.x = x
        self.alias = Tensor._make(x._storage, x._shape, x._strides, x._offset, x.dtype, x.device)
        self.original = _host(x)

    def write(self, values: np.ndarray):
        with no_grad():
            self.alias.copy_(_device_tensor(values, self.x))

    def restore(self):
        self.write(self.original)


def _check_inputs(inputs):
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        if any(s == 0 and n > 1 for s, n in zip(x._strides, x._shape)):
            raise RuntimeError(f"The {i}th input has a dimension with stride 0. gradcheck only supports inputs that "
                               "are non-overlapping to be able to compute the numerical gradients correctly. You "
                               "should call .contiguous on the input before passing it to gradcheck.")
        if x.dtype.name != "float64":
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. "
                          "The check may fail due to lack of precision.", UserWarning)


def _numerical_jacobian(fn, inputs, i, eps) -> np.ndarray:
    """J[k, m] = d out[m] / d x[k] by central differences (x = inputs[i], flattened)."""
    writer = _Writer(inputs[i])
    base = writer.original.reshape(-1)
    cols = []
    try:
        for k in range(base.size):
            vals = []
            for step in (eps, -eps):
                pert = base.copy()
                pert[k] += step
                writer.write(pert)
                with no_grad():
                    vals.append(_values(_outputs(fn(*inputs))))
            cols.append((vals[0] - vals[1]) / (2 * eps))
    finally:
        writer.restore()
    return np.stack(cols, axis=0) if cols else np.zeros((0, 0))


def _one_hot_outputs(outs, j, k):
    grads = []
    for jj, o in enumerate(outs):
        g = np.zeros(o.numel())
        if jj == j:
            g[k] = 1.0
        grads.append(_device_tensor(g, o))
    return grads


def _analytical_jacobians(fn, inputs, diff):
    """{input index: J} with J[k, m] = d out[m] / d x[k], from one backward pass per output element."""
    with enable_grad():
        outs = _outputs(fn(*inputs))
    total = sum(o.numel() for o in outs)
    jac = {i: np.zeros((inputs[i].numel(), total)) for i in diff}
    col = 0
    for j, o in enumerate(outs):
        for k in range(o.numel()):
            used = [(oo, gg) for oo, gg in zip(outs, _one_hot_outputs(outs, j, k)) if oo.requires_grad]
            if used:
                gs = grad([u[0] for u in used], [inputs[i] for i in diff], [u[1] for u in used],
                          retain_graph=True, allow_unused=True)
                for i, g in zip(diff, gs):
                    if g is not None:
                        _check_grad_layout(g, inputs[i], i)
                        jac[i][:, col] = _host(g).reshape(-1)
            col += 1
    return jac


def _check_grad_layout(g, x, i):
    if g.shape != x.shape:
        raise GradcheckError(f"Gradient for input {i} has shape {list(g.shape)}, expected {list(x.shape)}")
    if g.dtype is not x.dtype:
        raise GradcheckError(f"Gradient for input {i} has dtype {g.dtype}, expected {x.dtype}")


def _fail(msg, raise_exception):
    if raise_exception:
        raise GradcheckError(msg)
    return False


def _split_columns(jac, outs_sizes):
    bounds = np.cumsum([0] + outs_sizes)
    return [jac[:, bounds[j]:bounds[j + 1]] for j in range(len(outs_sizes))]


def _full_check(func, inputs, diff, eps, atol, rtol, raise_exception):
    analytical = _analytical_jacobians(func, inputs, diff)
    with no_grad():
        sizes = [o.numel() for o in _outputs(func(*inputs))]
    for i in diff:
        numerical = _numerical_jacobian(func, inputs, i, eps)
        if numerical.size == 0 and analytical[i].size == 0:
            continue
        for j, (num, ana) in enumerate(zip(_split_columns(numerical, sizes), _split_columns(analytical[i], sizes))):
            if num.shape != ana.shape or not np.allclose(ana, num, rtol=rtol, atol=atol):
                return _fail(f"Jacobian mismatch for output {j} with respect to input {i},\n"
                             f"numerical:{num}\nanalytical:{ana}\n", raise_exception)
    return True


def _fast_check(func, inputs, diff, eps, atol, rtol, raise_exception, seed=0):
    """Compare v^T J u computed both ways, one random (u, v) per input."""
    rng = np.random.default_rng(seed)
    with enable_grad():
        outs = _outputs(func(*inputs))
    vs = [rng.uniform(-1, 1, o.numel()) for o in outs]
    used = [(o, _device_tensor(v, o)) for o, v in zip(outs, vs) if o.requires_grad]
    grads = grad([u[0] for u in used], [inputs[i] for i in diff], [u[1] for u in used], retain_graph=True,
                 allow_unused=True) if used else [None] * len(diff)
    v_all = np.concatenate(vs) if vs else np.zeros(0)
    for i, g in zip(diff, grads):
        x = inputs[i]
        u = rng.uniform(-1, 1, x.numel())
        analytical = 0.0 if g is None else float(_host(g).reshape(-1) @ u)
        writer = _Writer(x)
        try:
            vals = []
            for step in (eps, -eps):
                writer.write(writer.original.reshape(-1) + step * u)
                with no_grad():
                    vals.append(_values(_outputs(func(*inputs))))
        finally:
            writer.restore()
        numerical = float(((vals[0] - vals[1]) / (2 * eps)) @ v_all) if v_all.size else 0.0
        if not np.isclose(analytical, numerical, rtol=rtol, atol=atol):
            return _fail(f"Jacobian mismatch for output 0 with respect to input {i} (fast mode: v^T J u),\n"
                         f"numerical:{numerical}\nanalytical:{analytical}\n", raise_exception)
    return True


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, fast_mode=False,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              masked=None) -> bool:
    """True if func's backward agrees with finite differences for every input that requires grad."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    _check_inputs(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the them "
                         "have requires_grad=True.")
    check = _fast_check if fast_mode else _full_check
    return check(func, inputs, diff, eps, atol, rtol, raise_exception)


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception=True, fast_mode=False, **kwargs) -> bool:
    """Check second derivatives: gradcheck of (inputs, grad_outputs) -> grads of func w.r.t. inputs."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        with no_grad():
            outs = _outputs(func(*inputs))
        grad_outputs = [_device_tensor(rng.uniform(-1, 1, tuple(o.shape)), o).requires_grad_() for o in outs]
    grad_outputs = list(grad_outputs)
    n = len(inputs)

    def first_grads(*args):
        xs, gos = args[:n], args[n:]
        outs = _outputs(func(*xs))
        pairs = [(o, g) for o, g in zip(outs, gos) if o.requires_grad]
        wrt = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        if not pairs:
            return ()
        grads = grad([p[0] for p in pairs], wrt, [p[1] for p in pairs], create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_grads, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, fast_mode=fast_mode)
