"""gradcheck: analytical gradients against central finite differences (float64 recommended)."""
from __future__ import annotations

import numpy as np

from .grad_mode import no_grad


class GradcheckError(RuntimeError):
    pass


def _flat_outputs(out):
    return out if isinstance(out, (tuple, list)) else (out,)


def _numerical_jacobian(fn, inputs, i, eps):
    from ..ops.creation import tensor
    x = inputs[i]
    base = x.detach()._to_numpy_copy().astype(np.float64)
    cols = []
    for k in range(base.size):
        vals = []
        for sign in (1, -1):
            pert = base.copy().reshape(-1)
            pert[k] += sign * eps
            args = list(inputs)
            args[i] = tensor(pert.reshape(base.shape), dtype=x.dtype, device=x.device)
            with no_grad():
                outs = _flat_outputs(fn(*args))
            vals.append(np.concatenate([o.detach()._to_numpy_copy().astype(np.float64).reshape(-1)
                                        for o in outs if o.dtype.is_floating_point]))
        cols.append((vals[0] - vals[1]) / (2 * eps))
    return np.stack(cols, axis=0) if cols else np.zeros((0, 0))


def _analytical_jacobian(fn, inputs, i):
    from . import grad
    from ..ops.creation import zeros_like
    outs = [o for o in _flat_outputs(fn(*inputs)) if o.dtype.is_floating_point]
    sizes = [o.numel() for o in outs]
    rows = []
    for j, o in enumerate(outs):
        for k in range(o.numel()):
            gos = []
            for jj, oo in enumerate(outs):
                g = np.zeros(oo.numel())
                if jj == j:
                    g[k] = 1.0
                from ..ops.creation import tensor
                gos.append(tensor(g.reshape(oo.shape), dtype=oo.dtype, device=oo.device))
            used = [(oo, gg) for oo, gg in zip(outs, gos) if oo.requires_grad]
            if not used:
                rows.append(np.zeros(inputs[i].numel()))
                continue
            (gi,) = grad([u[0] for u in used], [inputs[i]], [u[1] for u in used], retain_graph=True,
                         allow_unused=True)
            rows.append(np.zeros(inputs[i].numel()) if gi is None else
                        gi.detach()._to_numpy_copy().astype(np.float64).reshape(-1))
    return np.stack(rows, axis=1) if rows else np.zeros((inputs[i].numel(), sum(sizes)))


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **kwargs) -> bool:
    from ..tensor import Tensor
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        if x.dtype.name != "float64":
            import warnings
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. "
                          "The check may fail due to lack of precision.", UserWarning)
        numerical = _numerical_jacobian(func, inputs, i, eps)
        analytical = _analytical_jacobian(func, inputs, i)
        if numerical.shape != analytical.shape or not np.allclose(analytical, numerical, rtol=rtol, atol=atol):
            if raise_exception:
                raise GradcheckError(f"Jacobian mismatch for output 0 with respect to input {i},\n"
                                     f"numerical:{numerical}\nanalytical:{analytical}\n")
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
                  **kwargs) -> bool:
    """Check second derivatives: gradcheck of (inputs -> grads of func w.r.t. inputs)."""
    from . import grad
    from ..ops.creation import ones_like

    def first_grads(*xs):
        outs = [o for o in _flat_outputs(func(*xs)) if o.requires_grad]
        gos = grad_outputs or [ones_like(o) for o in outs]
        diff = [x for x in xs if x.requires_grad]
        return grad(outs, diff, gos, create_graph=True, allow_unused=True)

    return gradcheck(first_grads, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
