"""L-BFGS (torch.optim.LBFGS): limited-memory quasi-Newton steps driven by a closure.

The parameters are treated as one flat vector: the gradient is gathered into a flat device
tensor, the two-loop recursion combines the stored curvature pairs (s, y) with device dot
products, and the update is added back through views. The algorithm's decisions (curvature test,
stopping rules, the strong-Wolfe line search) need scalars on the host, so each iteration reads a
few dot products, as PyTorch's implementation does on CUDA; the scalars are kept as Python floats.

    opt = optim.LBFGS(model.parameters(), lr=1, line_search_fn="strong_wolfe")
    def closure():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss
    opt.step(closure)
"""
from __future__ import annotations

import math

from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor
from .optimizer import Optimizer
from ..ops.joins import cat


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clipped to
    bounds (default: between x1 and x2); the midpoint when the cubic has no minimum."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        at = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        at = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(at, low), high)


class _Point:
    """A point of the line search: step t, loss f, flat gradient g, directional derivative gtd."""
    __slots__ = ("t", "f", "g", "gtd")

    def __init__(self, t, f, g, gtd):
        self.t, self.f, self.g, self.gtd = t, f, g, gtd


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Search along d for a step satisfying the strong Wolfe conditions (bracketing, then zoom
    with cubic interpolation). evaluate(t) -> (loss, flat gradient) at x + t d.

    Returns (loss, flat gradient, step, evaluations)."""
    d_norm = d.abs().max().item()
    start = _Point(0.0, f, g.clone(), gtd)
    f_new, g_new = evaluate(t)
    evals, ls_iter = 1, 0
    current = _Point(t, f_new, g_new, g_new.dot(d).item())
    previous = start
    bracket, done = None, False
    while ls_iter < max_ls:
        if current.f > f + c1 * current.t * gtd or (ls_iter > 1 and current.f >= previous.f):
            bracket = [previous, current]
            break
        if abs(current.gtd) <= -c2 * gtd:
            bracket, done = [current], True
            break
        if current.gtd >= 0:
            bracket = [previous, current]
            break
        # extrapolate: a cubic step between 1.01 t and 10 t
        step = _cubic_minimum(previous.t, previous.f, previous.gtd, current.t, current.f, current.gtd,
                              bounds=(current.t + 0.01 * (current.t - previous.t), current.t * 10))
        previous = current
        f_new, g_new = evaluate(step)
        evals, ls_iter = evals + 1, ls_iter + 1
        current = _Point(step, f_new, g_new, g_new.dot(d).item())
    if ls_iter == max_ls:
        bracket = [start, current]
    if len(bracket) == 1:
        return bracket[0].f, bracket[0].g, bracket[0].t, evals
    return _zoom(evaluate, bracket, d, d_norm, f, gtd, c1, c2, tolerance_change, max_ls, ls_iter, done, evals)


def _zoom(evaluate, bracket, d, d_norm, f, gtd, c1, c2, tolerance_change, max_ls, ls_iter, done, evals):
    """Shrink a bracket [low, high] around a strong-Wolfe step (the second phase of _strong_wolfe)."""
    insufficient_progress = False
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    while not done and ls_iter < max_ls:
        a, b = bracket
        if abs(b.t - a.t) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
        top, bottom = max(a.t, b.t), min(a.t, b.t)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:
            # too close to an end: move eps inside unless the last step already made progress
            if insufficient_progress or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = evaluate(t)
        evals, ls_iter = evals + 1, ls_iter + 1
        point = _Point(t, f_new, g_new, g_new.dot(d).item())
        if point.f > f + c1 * t * gtd or point.f >= bracket[low].f:
            bracket[high] = point
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        else:
            if abs(point.gtd) <= -c2 * gtd:
                done = True
            elif point.gtd * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = point
    best = bracket[low]
    return best.f, best.g, best.t, evals


class LBFGS(Optimizer):
    """``torch.optim.LBFGS``: each ``step(closure)`` runs up to ``max_iter`` L-BFGS iterations
    (``max_eval`` closure calls), with a fixed step ``lr`` or a strong-Wolfe line search.

    One parameter group only; the closure must clear the gradients, compute the loss, call
    backward and return the loss.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ---- the parameters as one flat vector ------------------------------------------------------
    def _gather_flat_grad(self) -> Tensor:
        views = [p.grad.reshape(-1) if p.grad is not None else p.new_zeros(p.numel()) for p in self._params]
        return cat(views, 0)

    def _add_grad(self, step_size: float, update: Tensor) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(update[offset:offset + n].view_as(p), alpha=step_size)
            offset += n

    def _clone_param(self) -> list:
        return [p.clone() for p in self._params]

    def _set_param(self, values) -> None:
        for p, v in zip(self._params, values):
            p.copy_(v)

    def _directional_evaluate(self, closure, x, t, d):
        """Loss and flat gradient at x + t d; the parameters are put back to x."""
        self._add_grad(t, d)
        with enable_grad():
            loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ---- the two-loop recursion -------------------------------------------------------------------
    @staticmethod
    def _direction(flat_grad, old_dirs, old_stps, ro, h_diag, al):
        """-H g for the L-BFGS inverse Hessian estimate H of the stored pairs."""
        q = flat_grad.neg()
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = old_stps[i].dot(q).item() * ro[i]
            q.add_(old_dirs[i], alpha=-al[i])
        r = q.mul_(h_diag)
        for i in range(len(old_dirs)):
            be_i = old_dirs[i].dot(r).item() * ro[i]
            r.add_(old_stps[i], alpha=al[i] - be_i)
        return r

    @no_grad()
    def step(self, closure):
        """Run up to max_iter iterations; returns the loss closure() gave at the start."""
        if closure is None:
            raise RuntimeError("LBFGS requires a closure that reevaluates the model and returns the loss")
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        if line_search_fn is not None and line_search_fn != "strong_wolfe":
            raise RuntimeError("only 'strong_wolfe' is supported")

        # LBFGS's state is global; it is kept under the first parameter, as PyTorch does
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if flat_grad.abs().max().item() <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_flat_grad, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            if state["n_iter"] == 1:
                d = flat_grad.neg()
                old_dirs, old_stps, ro, h_diag = [], [], [], 1.0
            else:
                y = flat_grad.sub(prev_flat_grad)
                s = d.mul(t)
                ys = y.dot(s).item()
                if ys > 1e-10:  # keep the pair only where the curvature condition holds
                    if len(old_dirs) == history_size:
                        for history in (old_dirs, old_stps, ro):
                            history.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y).item()
                al = state.setdefault("al", [None] * history_size)
                d = self._direction(flat_grad, old_dirs, old_stps, ro, h_diag, al)

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone()
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss

            # the first step is scaled so that it moves by at most lr in the 1-norm of the gradient
            if state["n_iter"] == 1:
                grad_sum = flat_grad.abs().sum().item()
                t = min(1.0, 1.0 / grad_sum if grad_sum else math.inf) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d).item()
            if gtd > -tolerance_change:
                break

            if line_search_fn is not None:
                x_init = self._clone_param()
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    lambda step: self._directional_evaluate(closure, x_init, step, d), t, d, loss, flat_grad, gtd)
                self._add_grad(t, d)
            else:
                self._add_grad(t, d)
                ls_func_evals = 0
                if n_iter != max_iter:  # the last iteration's loss is not needed
                    with enable_grad():
                        loss = float(closure())
                    flat_grad = self._gather_flat_grad()
                    ls_func_evals = 1
            opt_cond = flat_grad.abs().max().item() <= tolerance_grad
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if d.abs().max().item() * abs(t) <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss
