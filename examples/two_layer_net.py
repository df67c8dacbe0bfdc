"""A two-layer ReLU network fitted to random data, three ways (PyTorch's classic warm-up):
numpy with hand-written backprop, cltensor tensors with the same hand-written backprop, and
cltensor with autograd. Each prints ``t loss`` as it trains.

    python examples/two_layer_net.py                       # 500 steps of each variant
    python examples/two_layer_net.py --variant autograd    # only one of numpy | tensors | autograd
    python examples/two_layer_net.py --quick               # 100 steps (CI)
"""
from __future__ import annotations

import numpy as np

from common import parse, parser

import cltensor as torch

# N is batch size; D_in is input dimension; H is hidden dimension; D_out is output dimension.
N, D_in, H, D_out = 64, 1000, 100, 10


def make_data(seed: int):
    rng = np.random.RandomState(seed)
    return (rng.randn(N, D_in), rng.randn(N, D_out), rng.randn(D_in, H), rng.randn(H, D_out))


def numpy_net(data, steps, lr, print_every):
    x, y, w1, w2 = (a.copy() for a in data)
    losses = []
    for t in range(steps):
        h = x.dot(w1)  # forward pass
        h_relu = np.maximum(h, 0)
        y_pred = h_relu.dot(w2)
        loss = np.square(y_pred - y).sum()
        losses.append(loss)
        if t % print_every == 0 or t == steps - 1:
            print(t, loss)
        grad_y_pred = 2.0 * (y_pred - y)  # backprop by hand
        grad_w2 = h_relu.T.dot(grad_y_pred)
        grad_h_relu = grad_y_pred.dot(w2.T)
        grad_h = grad_h_relu.copy()
        grad_h[h < 0] = 0
        grad_w1 = x.T.dot(grad_h)
        w1 -= lr * grad_w1
        w2 -= lr * grad_w2
    return losses


def tensor_net(data, steps, lr, print_every, device, dtype):
    x, y, w1, w2 = (torch.tensor(a, device=device, dtype=dtype) for a in data)
    losses = []
    for t in range(steps):
        h = x.mm(w1)
        h_relu = h.clamp(min=0)
        y_pred = h_relu.mm(w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss)  # kept on the device; read only when printed
        if t % print_every == 0 or t == steps - 1:
            print(t, loss.item())
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.t().mm(grad_y_pred)
        grad_h_relu = grad_y_pred.mm(w2.t())
        grad_h = grad_h_relu.clone()
        grad_h[h < 0] = 0
        grad_w1 = x.t().mm(grad_h)
        w1 -= lr * grad_w1
        w2 -= lr * grad_w2
    return [v.item() for v in losses]


def autograd_net(data, steps, lr, print_every, device, dtype):
    x, y = (torch.tensor(a, device=device, dtype=dtype) for a in data[:2])
    w1, w2 = (torch.tensor(a, device=device, dtype=dtype, requires_grad=True) for a in data[2:])
    losses = []
    for t in range(steps):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.detach())
        if t % print_every == 0 or t == steps - 1:
            print(t, loss.item())
        loss.backward()
        with torch.no_grad():
            w1 -= lr * w1.grad
            w2 -= lr * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return [v.item() for v in losses]


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--variant", choices=["numpy", "tensors", "autograd", "all"], default="all")
    p.add_argument("--steps", type=int, default=None, help="default 500 (100 with --quick)")
    p.add_argument("--lr", type=float, default=1e-6)
    p.add_argument("--print-every", type=int, default=50)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parse(p, argv)
    steps = args.steps or (100 if args.quick else 500)
    dtype = getattr(torch, args.dtype)
    data = make_data(args.seed)
    runs = {"numpy": lambda: numpy_net(data, steps, args.lr, args.print_every),
            "tensors": lambda: tensor_net(data, steps, args.lr, args.print_every, args.device, dtype),
            "autograd": lambda: autograd_net(data, steps, args.lr, args.print_every, args.device, dtype)}
    results = {}
    for name, run in runs.items():
        if args.variant in (name, "all"):
            print(f"--- {name}" + ("" if name == "numpy" else f" on {args.device} ({args.dtype})"))
            results[name] = run()
    return results


if __name__ == "__main__":
    main()
