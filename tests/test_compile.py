"""torch.compile: capture, elementwise fusion and replay give eager's values, gradients and errors."""
import os
import re

import numpy as np
import pytest

import cltensor as torch
from cltensor import nn
from cltensor.ops import elementwise as ew
from helpers import assert_close

HERE = os.path.dirname(__file__)




def entries(compiled):
    state = compiled._compiled if hasattr(compiled, "_compiled") else compiled.__dict__["_compiled_call"]
    return list(state.entries.values())


def _replays_as_one_fused_launch(f, n, launches):
    """A replay of compiled f(x, y) on n elements is one fused kernel with eager's exact values."""
    cf = torch.compile(f)
    x, y = torch.randn(n), torch.randn(n)
    cf(x, y)
    launches.clear()
    got = cf(x, y)
    assert launches == ["ew_fused"]
    assert_close(got, f(x, y), rtol=0, atol=0)


def _float_rows():
    rows = []
    for name, op in sorted(ew.OPS.items()):
        if name.startswith("_") or op.ref is None or not hasattr(torch, name):
            continue
        try:
            compute, out = op.dtypes(torch.float32)
        except (TypeError, RuntimeError):
            continue
        if out is torch.float32 and compute is torch.float32 and name != "where":
            rows.append(name)
    return rows


ROWS = _float_rows()
NO_DERIVATIVE = {"floor_divide"}  # PyTorch has none either


def _inputs(op, shape=(3, 5), seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = op.domain
    lo, hi = max(lo, -2.0), min(hi, 2.0)
    arrays = [rng.uniform(lo, hi, shape).astype(np.float32) for _ in range(op.arity)]
    if op.name in ("true_divide", "floor_divide", "remainder", "fmod", "div", "addcdiv"):
        arrays[-1] = np.where(np.abs(arrays[-1]) < 0.1, 1.0, arrays[-1]).astype(np.float32)
    return arrays


@pytest.mark.parametrize("name", ROWS)
def test_row_in_a_chain_matches_eager(name):
    """Each float row between two other rows: one fused kernel, eager's values and gradients."""
    op = ew.OPS[name]

    def f(*xs):
        return getattr(torch, name)(*[x * 0.5 for x in xs]) * 3.0 + 1.0

    cf = torch.compile(f)
    arrays = _inputs(op)
    differentiable = op.vjp is not None and name not in NO_DERIVATIVE
    for step in range(2):  # the trace, then a replay
        xs = [torch.tensor(a, requires_grad=differentiable) for a in arrays]
        ys = [torch.tensor(a, requires_grad=differentiable) for a in arrays]
        got, want = cf(*xs), f(*ys)
        assert_close(got.detach(), want.detach(), rtol=1e-6, atol=1e-6)
        if differentiable:
            got.sum().backward()
            want.sum().backward()
            for x, y in zip(xs, ys):
                assert_close(x.grad, y.grad, rtol=1e-5, atol=1e-6)
    assert not hasattr(entries(cf)[0], "reason")


def test_chain_of_five_is_one_launch(launches):
    def f(x, y):
        return torch.sigmoid(torch.tanh(x * 2.0 + y) - 0.5)

    _replays_as_one_fused_launch(f, 100, launches)


def test_fused_chain_backward_is_fused(launches):
    def f(x):
        return torch.tanh(torch.exp(x * 0.5) + 1.0).sum()

    cf = torch.compile(f)
    x = torch.randn(64, requires_grad=True)
    cf(x).backward()
    launches.clear()
    x.grad = None
    cf(x).backward()
    replayed = list(launches)
    eager_x = x.detach().clone().requires_grad_(True)
    f(eager_x).backward()
    assert_close(x.grad, eager_x.grad, rtol=1e-6, atol=1e-7)
    assert replayed.count("ew_fused") >= 2 and len(replayed) < len(launches) - len(replayed), launches


def test_where_with_a_bool_condition_fuses(launches):
    def f(c, x, y):
        return torch.exp(torch.where(c, x * 2.0, y + 1.0))

    cf = torch.compile(f)
    c, x, y = torch.randn(50) > 0, torch.randn(50), torch.randn(50)
    cf(c, x, y)
    launches.clear()
    got = cf(c, x, y)
    assert launches == ["ew_fused"]
    assert_close(got, f(c, x, y), rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(7, 5), (40, 33)])
def test_strided_operands_fuse_over_one_geometry(launches, shape):
    """A transposed or broadcast operand puts a launch on the strided path; the chain still fuses,
    its contiguous operands read with contiguous strides over the same sizes."""
    def f(x, y, b):
        return torch.exp((x.transpose(-1, -2) * 2.0 + y) * 0.5) - b

    cf = torch.compile(f)
    x = torch.randn(*shape[:-2], shape[-1], shape[-2])
    y, b = torch.randn(*shape), torch.randn(shape[-1])
    cf(x, y, b)
    launches.clear()
    got = cf(x, y, b)
    assert launches == ["ew_fused"]
    assert_close(got, f(x, y, b), rtol=0, atol=0)


def test_comparison_feeding_where_fuses(launches):
    def f(x, y):
        return torch.where(x * 2.0 > y, x, y - 1.0) * 3.0

    _replays_as_one_fused_launch(f, 40, launches)


def test_double_backward_through_a_replay_raises():
    cf = torch.compile(lambda x: (x * x).sum())
    x = torch.randn(5, requires_grad=True)
    (g,) = torch.autograd.grad(cf(x), x, create_graph=True)  # the trace: eager, so its graph is eager's
    assert_close(g.detach(), 2 * x.detach())
    with pytest.raises(RuntimeError, match="double backward"):
        torch.autograd.grad(cf(x), x, create_graph=True)


def test_unused_gradients_are_not_computed(launches):
    """sub's rule computes -g for y too; nobody asks for it, so the replayed backward drops it."""
    def f(x, y):
        return ((x - y) * 3.0).sum()

    cf = torch.compile(f)
    x, y = torch.randn(30, requires_grad=True), torch.randn(30)
    cf(x, y).backward()
    launches.clear()
    cf(x, y).backward()
    assert "ew_neg" not in launches
    assert_close(x.grad, torch.full((30,), 6.0))


def test_results_are_not_overwritten_by_later_calls():
    cf = torch.compile(lambda x: x * 2.0 + 1.0)
    a, b = torch.arange(4.0), torch.arange(4.0) + 10
    cf(a)
    first = cf(a)
    second = cf(b)
    assert first.tolist() == [1.0, 3.0, 5.0, 7.0]
    assert second.tolist() == [21.0, 23.0, 25.0, 27.0]


def test_new_shape_recompiles():
    cf = torch.compile(lambda x: torch.relu(x - 1.0) * 2.0)
    for n in (3, 3, 5, 5):
        x = torch.arange(float(n))
        assert cf(x).tolist() == [max(v - 1.0, 0.0) * 2.0 for v in range(n)]
    assert len(entries(cf)) == 2


def _fallback(fn, *args):
    cf = torch.compile(fn)
    for _ in range(2):
        got = cf(*args)
        assert_close(got, fn(*args))
    (entry,) = entries(cf)
    return entry.reason


def test_item_inside_falls_back():
    reason = _fallback(lambda x: x * (x.sum().item() + 1.0), torch.randn(6))
    assert "host read" in reason


def test_nonzero_inside_falls_back():
    reason = _fallback(lambda x: x[torch.nonzero(x > 0, as_tuple=True)] * 2.0, torch.randn(8))
    assert reason


def test_dropout_falls_back_with_eager_values():
    drop = nn.Dropout(0.5)
    x = torch.randn(32, requires_grad=True)
    cf = torch.compile(drop)
    for _ in range(2):
        torch.manual_seed(3)
        got = cf(x)
        torch.manual_seed(3)
        want = drop(x)
        assert_close(got.detach(), want.detach())
        assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__
    assert "random" in entries(cf)[0].reason


def test_inplace_on_input_falls_back():
    def f(x):
        x.mul_(2.0)
        return x + 1.0

    cf = torch.compile(f)
    a, b = torch.ones(3), torch.ones(3)
    for _ in range(2):
        assert_close(cf(a), f(b))
        assert_close(a, b)
    assert "in-place" in entries(cf)[0].reason


def _train(model, compiled, steps, x, target):
    run = torch.compile(model) if compiled else model
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((run(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().clone() for p in model.parameters()]


def _twins(make):
    torch.manual_seed(0)
    a = make()
    b = make()
    b.load_state_dict(a.state_dict())
    return a, b


def test_mlp_training_matches_eager():
    a, b = _twins(lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.GELU(),
                                        nn.Linear(16, 4)))
    x, target = torch.randn(10, 8), torch.randn(10, 4)
    la, pa = _train(a, False, 4, x, target)
    lb, pb = _train(b, True, 4, x, target)
    assert_close(torch.tensor(la), torch.tensor(lb), rtol=1e-5, atol=1e-6)
    for p, q in zip(pa, pb):
        assert_close(p, q, rtol=1e-5, atol=1e-6)


class _Block(nn.Module):
    """A pre-norm transformer block: causal self-attention and a GELU feed-forward."""

    def __init__(self, d=16, heads=2):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = [t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) * (C // self.heads) ** -0.5
        mask = torch.ones(T, T).tril() == 0
        att = torch.softmax(att.masked_fill(mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        return x + self.ff(self.ln2(x))


def test_transformer_block_training_matches_eager():
    a, b = _twins(_Block)
    x, target = torch.randn(2, 5, 16), torch.randn(2, 5, 16)
    la, pa = _train(a, False, 3, x, target)
    lb, pb = _train(b, True, 3, x, target)
    assert_close(torch.tensor(la), torch.tensor(lb), rtol=1e-5, atol=1e-6)
    for p, q in zip(pa, pb):
        assert_close(p, q, rtol=1e-4, atol=1e-6)


def test_input_gradient_through_a_replayed_module():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
    cm = torch.compile(m)
    for _ in range(2):
        x = torch.randn(3, 4, requires_grad=True)
        y = x.detach().clone().requires_grad_(True)
        cm(x).pow(2).sum().backward()
        m(y).pow(2).sum().backward()
        assert_close(x.grad, y.grad, rtol=1e-5, atol=1e-6)


def test_two_layer_net_compiled_matches_eager():
    """examples/two_layer_net.py's loop, with the loss computed by a compiled function."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((16, 50), (16, 5), (50, 20), (20, 5))]

    def run(compiled):
        x, y = torch.tensor(arrays[0]), torch.tensor(arrays[1])
        w1 = torch.tensor(arrays[2], requires_grad=True)
        w2 = torch.tensor(arrays[3], requires_grad=True)

        def loss_fn(x, y, w1, w2):
            return (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()

        step = torch.compile(loss_fn) if compiled else loss_fn
        losses = []
        for _ in range(5):
            loss = step(x, y, w1, w2)
            loss.backward()
            with torch.no_grad():
                w1 -= 1e-4 * w1.grad
                w2 -= 1e-4 * w2.grad
                w1.grad.zero_()
                w2.grad.zero_()
            losses.append(loss.item())
        return losses

    assert_close(torch.tensor(run(True)), torch.tensor(run(False)), rtol=1e-5, atol=1e-3)


def _gpt_namespace():
    folder = os.path.join(HERE, "programs", "ng_video_lecture_gpt")
    src = open(os.path.join(folder, "gpt.py"), encoding="utf-8").read()
    src = src[:src.index("model = GPTLanguageModel()")]
    src = re.sub(r"^(import torch.*|from torch.*)$", "", src, flags=re.M)
    src = src.replace("open('input.txt'", f"open({os.path.join(folder, 'input.txt')!r}")
    ns = {"torch": torch, "nn": nn, "F": nn.functional}
    exec(compile(src, "gpt.py", "exec"), ns)
    return ns


def test_gpt_training_steps_compiled_match_eager():
    ns = _gpt_namespace()

    def train(compiled):
        torch.manual_seed(0)
        model = ns["GPTLanguageModel"]().to(ns["device"])  # as gpt.py does: where get_batch puts the data
        run = torch.compile(model) if compiled else model
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        torch.manual_seed(1)
        losses = []
        for _ in range(3):
            xb, yb = ns["get_batch"]("train")
            _, loss = run(xb, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, run

    eager, _ = train(False)
    compiled, run = train(True)
    assert_close(torch.tensor(compiled), torch.tensor(eager), rtol=1e-5, atol=1e-5)
    assert not any(hasattr(e, "reason") for e in entries(run))


def test_out_of_range_index_raises_on_replay():
    emb = nn.Embedding(5, 3)
    cm = torch.compile(emb)
    good = torch.tensor([0, 4, 2])
    cm(good)
    assert_close(cm(good).detach(), emb(good).detach())
    with pytest.raises(IndexError):
        cm(torch.tensor([0, 5, 2]))


def test_closure_tensors_are_read_through_their_buffers():
    w = torch.randn(4, 3)
    cf = torch.compile(lambda x: torch.relu(x @ w) + 1.0)
    x = torch.randn(2, 4)
    for _ in range(2):
        assert_close(cf(x), torch.relu(x @ w) + 1.0)
        w.mul_(-2.0)  # an in-place update between calls is seen by the next replay


def test_keyword_arguments_and_nested_results():
    def f(a, *, scale=1.0, b=None):
        return a.sum(), None, [a * scale, {"z": a + b}]

    cf = torch.compile(f)
    a, b = torch.randn(3), torch.randn(3)
    for scale in (2.0, 2.0, 3.0):
        got, want = cf(a, scale=scale, b=b), f(a, scale=scale, b=b)
        assert got[1] is None and set(got[2][1]) == {"z"}
        for g, w in ((got[0], want[0]), (got[2][0], want[2][0]), (got[2][1]["z"], want[2][1]["z"])):
            assert_close(g, w)
    assert len(entries(cf)) == 2  # scale is part of the signature


def test_module_in_no_grad_mode_returns_plain_tensors():
    m = nn.Linear(4, 2)
    cm = torch.compile(m)
    x = torch.randn(3, 4)
    with torch.no_grad():
        for _ in range(2):
            got = cm(x)
            assert not got.requires_grad and got.grad_fn is None
            assert_close(got, m(x))


def test_replaced_parameter_is_traced_again():
    m = nn.Linear(4, 2)
    cm = torch.compile(m)
    x = torch.randn(3, 4)
    cm(x)
    m.weight = nn.Parameter(torch.zeros(2, 4))
    assert_close(cm(x).detach(), m.bias.detach().expand(3, 2))


def test_module_api_kept():
    m = nn.Linear(3, 2)
    cm = torch.compile(m)
    assert cm._orig_mod is m
    assert set(cm.state_dict()) == {"_orig_mod.weight", "_orig_mod.bias"}
    assert cm.in_features == 3
