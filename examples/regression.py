"""Fit y = w * x^2 + b to noisy samples of y = 3x^2 + 2, twice, side by side:
numpy with gradients derived by hand, and cltensor with autograd (same data, same start).

    python examples/regression.py            # 800 steps, writes regression.png if matplotlib is installed
    python examples/regression.py --quick    # 200 steps (CI)
"""
from __future__ import annotations

import numpy as np

from common import parse, parser

import cltensor as torch


def make_data(seed: int = 100):
    """100 points on [-1, 1], y = 3x^2 + 2 plus uniform noise in [0, 0.2), and a random start (w, b)."""
    rng = np.random.RandomState(seed)
    x = np.linspace(-1, 1, 100).reshape(100, 1)
    y = 3 * np.power(x, 2) + 2 + 0.2 * rng.rand(x.size).reshape(100, 1)
    return x, y, rng.rand(1, 1), rng.rand(1, 1)


def numpy_step(x, y, w, b, lr):
    """One gradient step of Loss = 1/2 sum (w x^2 + b - y)^2 with the derivatives written out."""
    y_pred = np.power(x, 2) * w + b
    loss = 0.5 * ((y_pred - y) ** 2).sum()
    grad_w = np.sum((y_pred - y) * np.power(x, 2))
    grad_b = np.sum(y_pred - y)
    return w - lr * grad_w, b - lr * grad_b, loss, y_pred


def cltensor_step(x, y, w, b, lr):
    """The same step, with the gradients from autograd."""
    y_pred = x.pow(2).mm(w) + b
    loss = (0.5 * (y_pred - y) ** 2).sum()
    loss.backward()
    with torch.no_grad():  # update the leaves in place, outside the graph
        w -= lr * w.grad
        b -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return loss, y_pred


def fit(args) -> dict:
    x_np, y_np, w0, b0 = make_data()
    x = torch.tensor(x_np, dtype=torch.float32, device=args.device)
    y = torch.tensor(y_np, dtype=torch.float32, device=args.device)
    w = torch.tensor(w0, dtype=torch.float32, device=args.device, requires_grad=True)
    b = torch.tensor(b0, dtype=torch.float32, device=args.device, requires_grad=True)
    w_np, b_np = w0.copy(), b0.copy()
    print(f"{'step':>5} {'numpy loss':>12} {'cltensor loss':>14}   numpy (w, b)      cltensor (w, b)")
    for step in range(args.steps):
        w_np, b_np, loss_np, pred_np = numpy_step(x_np, y_np, w_np, b_np, args.lr)
        loss, pred = cltensor_step(x, y, w, b, args.lr)
        if step % args.print_every == 0 or step == args.steps - 1:
            print(f"{step:5d} {loss_np:12.5f} {loss.item():14.5f}   ({w_np.item():.4f}, {b_np.item():.4f})"
                  f"   ({w.item():.4f}, {b.item():.4f})")
    result = {"numpy": (w_np.item(), b_np.item(), float(loss_np)), "cltensor": (w.item(), b.item(), loss.item())}
    print(f"numpy:    w = {result['numpy'][0]:.4f}, b = {result['numpy'][1]:.4f}")
    print(f"cltensor: w = {result['cltensor'][0]:.4f}, b = {result['cltensor'][1]:.4f}   (true: w = 3, b = 2 + 0.1)")
    if args.plot:
        plot(x_np, y_np, pred_np, pred.detach().cpu().numpy(), args.plot)
    return result


def plot(x, y, pred_np, pred_cl, path: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(x, y, color="blue", marker="o", s=12, label="data")
    ax.plot(x, pred_np, "g-", lw=3, alpha=0.5, label="numpy fit")
    ax.plot(x, pred_cl, "r--", label="cltensor fit")
    ax.set_xlim(-1, 1)
    ax.set_ylim(2, 6)
    ax.legend()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"plot saved to {path}")


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help="default 800 (200 with --quick)")
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--print-every", type=int, default=100)
    p.add_argument("--plot", default="regression.png", help="PNG path ('' for no plot)")
    args = parse(p, argv)
    if args.steps is None:
        args.steps = 200 if args.quick else 800
    return fit(args)


if __name__ == "__main__":
    main()
