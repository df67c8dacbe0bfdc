"""optim.LBFGS: trajectories against PyTorch, convergence against numpy solutions, state, errors."""
import copy

import numpy as np
import pytest

import cltensor as torch
from helpers import HAVE_TORCH, needs_fp64, real_torch

RNG = np.random.default_rng(0)
X = RNG.normal(size=(20, 3)).astype(np.float32)
Y = (X @ np.array([[1.5], [-2.0], [0.5]]) + 0.3 + 0.01 * RNG.normal(size=(20, 1))).astype(np.float32)


def _regression(module, line_search_fn, steps=3, **options):
    """Least squares for (w, b) by LBFGS: per step [loss, w..., b], and the optimizer."""
    w = module.zeros(3, 1, requires_grad=True)
    b = module.zeros(1, requires_grad=True)
    x, y = module.tensor(X), module.tensor(Y)
    options = {"lr": 0.5 if line_search_fn is None else 1, "max_iter": 4, "history_size": 3, **options}
    opt = module.optim.LBFGS([w, b], line_search_fn=line_search_fn, **options)

    def closure():
        opt.zero_grad()
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        return loss
    rows = []
    for _ in range(steps):
        loss = opt.step(closure)
        rows.append([loss.item()] + w.detach().reshape(-1).tolist() + b.tolist())
    return np.array(rows), opt


def _rosenbrock(module, line_search_fn, steps=5, dtype="float64"):
    x = module.tensor([-1.5, 2.0], dtype=getattr(module, dtype), requires_grad=True)
    opt = module.optim.LBFGS([x], lr=1, max_iter=10, history_size=5, line_search_fn=line_search_fn)

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss
    rows = [[opt.step(closure).item()] + x.detach().tolist() for _ in range(steps)]
    return np.array(rows), opt.state[x]


def _least_squares_solution() -> np.ndarray:
    design = np.hstack([X.astype(np.float64), np.ones((len(X), 1))])
    return np.linalg.lstsq(design, Y.astype(np.float64), rcond=None)[0].ravel()


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_regression_converges_to_the_least_squares_solution_and_follows_pytorch(line_search_fn):
    rows, opt = _regression(torch, line_search_fn, steps=6)
    np.testing.assert_allclose(rows[-1, 1:], _least_squares_solution(), atol=2e-3)
    assert rows[-1, 0] < rows[0, 0]
    if HAVE_TORCH:
        theirs, their_opt = _regression(real_torch, line_search_fn, steps=6)
        np.testing.assert_allclose(rows, theirs, rtol=1e-4, atol=1e-5)
        ours_state, their_state = opt.state[opt._params[0]], their_opt.state[their_opt._params[0]]
        assert (ours_state["func_evals"], ours_state["n_iter"]) == (their_state["func_evals"], their_state["n_iter"])


@needs_fp64
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_rosenbrock_trajectory_matches_pytorch_in_float64(line_search_fn):
    rows, state = _rosenbrock(torch, line_search_fn)
    if line_search_fn == "strong_wolfe":  # converges to the minimum (1, 1)
        np.testing.assert_allclose(rows[-1, 1:], [1.0, 1.0], atol=1e-3)
    if HAVE_TORCH:
        theirs, their_state = _rosenbrock(real_torch, line_search_fn)
        np.testing.assert_allclose(rows, theirs, rtol=1e-8, atol=1e-10)
        assert (state["func_evals"], state["n_iter"]) == (their_state["func_evals"], their_state["n_iter"])


def test_limits_on_iterations_and_evaluations():
    # (options, n_iter, func_evals) as PyTorch counts them: max_eval defaults to max_iter * 5 // 4 and
    # the last iteration's loss is not evaluated
    for options, n_iter, func_evals in [({"max_iter": 3}, 2, 3), ({"max_iter": 10, "max_eval": 4}, 3, 4),
                                        ({"max_iter": 3, "max_eval": 100}, 3, 3)]:
        _, opt = _regression(torch, None, steps=1, **options)
        state = opt.state[opt._params[0]]
        assert (state["n_iter"], state["func_evals"]) == (n_iter, func_evals)
    p = torch.zeros(1, requires_grad=True)
    assert torch.optim.LBFGS([p]).defaults["max_eval"] == 25
    assert torch.optim.LBFGS([p], max_iter=8).defaults["max_eval"] == 10


def test_a_zero_gradient_returns_at_once():
    p = torch.ones(2, requires_grad=True)
    opt = torch.optim.LBFGS([p])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (p * 0).sum()
        loss.backward()
        return loss
    opt.step(closure)
    assert len(calls) == 1 and p.tolist() == [1.0, 1.0]


def test_state_dict_resumes_the_same_trajectory():
    w = torch.zeros(3, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    x, y = torch.tensor(X), torch.tensor(Y)

    def make(params):
        return torch.optim.LBFGS(params, lr=0.5, max_iter=2, history_size=3)

    def closure_for(opt, w, b):
        def closure():
            opt.zero_grad()
            loss = ((x @ w + b - y) ** 2).mean()
            loss.backward()
            return loss
        return closure
    opt = make([w, b])
    opt.step(closure_for(opt, w, b))
    saved = opt.state_dict()
    assert set(saved["state"]) == {0} and saved["param_groups"][0]["params"] == [0, 1]
    for key in ("func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad",
                "prev_loss"):
        assert key in saved["state"][0]
    w2, b2 = w.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    resumed = make([w2, b2])
    resumed.load_state_dict(copy.deepcopy(saved))
    opt.step(closure_for(opt, w, b))
    resumed.step(closure_for(resumed, w2, b2))
    np.testing.assert_allclose(w2.detach().cpu().numpy(), w.detach().cpu().numpy(), rtol=1e-6)


def test_errors_as_pytorch():
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        torch.optim.LBFGS([{"params": [p]}, {"params": [torch.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        torch.optim.LBFGS([p], lr=-1)
    opt = torch.optim.LBFGS([p], line_search_fn="backtracking")

    def closure():
        opt.zero_grad()
        loss = ((p - 1) ** 2).sum()
        loss.backward()
        return loss
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
    assert "LBFGS" in torch.optim.__all__ and "max_iter: 20" in repr(torch.optim.LBFGS([p]))
