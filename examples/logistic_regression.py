"""Logistic regression on two 2-D point clouds: first written out by hand with autograd, then
with nn.Sequential + BCEWithLogitsLoss + optim.SGD, then saved and loaded both ways
(the whole module, and its state_dict).

    python examples/logistic_regression.py
    python examples/logistic_regression.py --quick
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from common import parse, parser

import cltensor as torch
from cltensor import nn


def make_data(n: int, seed: int):
    """Two Gaussian clouds centred at (-1, -1) and (1.5, 1), labels 0 and 1."""
    rng = np.random.RandomState(seed)
    a = rng.randn(n // 2, 2) * 0.8 + (-1.0, -1.0)
    b = rng.randn(n - n // 2, 2) * 0.8 + (1.5, 1.0)
    x = np.concatenate([a, b]).astype(np.float32)
    y = np.concatenate([np.zeros(len(a)), np.ones(len(b))]).astype(np.float32)[:, None]
    return x, y


def by_hand(x, y, steps, lr):
    """y_hat = sigmoid(x w + b); loss = -mean(y log y_hat + (1 - y) log(1 - y_hat)); plain updates."""
    w = torch.randn(2, 1, device=x.device, requires_grad=True)
    b = torch.zeros(1, device=x.device, requires_grad=True)
    for step in range(steps):
        y_hat = torch.sigmoid(x.mm(w) + b).clamp(1e-7, 1 - 1e-7)
        loss = -(y * y_hat.log() + (1 - y) * (1 - y_hat).log()).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
            w.grad.zero_()
            b.grad.zero_()
        if step % 100 == 0 or step == steps - 1:
            print(f"by hand  step {step:4d}  loss {loss.item():.4f}")
    acc = ((x.mm(w) + b > 0).float() == y).float().mean().item()
    return loss.item(), acc


class LogisticNet(nn.Module):
    """The same model as a Module subclass (the other way of writing a network)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x):
        return self.linear(x)


def with_modules(x, y, steps, lr):
    seq_net = nn.Sequential(nn.Linear(2, 1)).to(x.device)
    loss_fn = nn.BCEWithLogitsLoss()
    opt = torch.optim.SGD(seq_net.parameters(), lr=lr, momentum=0.9)
    for step in range(steps):
        opt.zero_grad()
        loss = loss_fn(seq_net(x), y)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"nn+optim step {step:4d}  loss {loss.item():.4f}")
    acc = ((seq_net(x) > 0).float() == y).float().mean().item()
    return seq_net, loss.item(), acc


def save_and_reload(seq_net, x, folder):
    """Save the whole module (needs weights_only=False to load: it unpickles classes) and the
    state_dict (loads with the safe default), and check both give the same outputs."""
    whole, params = os.path.join(folder, "save_seq_net.pth"), os.path.join(folder, "save_seq_net_params.pth")
    torch.save(seq_net, whole)
    torch.save(seq_net.state_dict(), params)
    net1 = torch.load(whole, weights_only=False)
    net2 = nn.Sequential(nn.Linear(2, 1)).to(x.device)
    net2.load_state_dict(torch.load(params))
    with torch.no_grad():
        ref = seq_net(x).cpu().numpy()
        same = all(np.array_equal(ref, n(x).cpu().numpy()) for n in (net1, net2))
    print(f"saved to {whole} and {params}; reloaded models give identical outputs: {same}")
    return same


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help="default 1000 (200 with --quick)")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--save-dir", default=None, help="where the .pth files go (default: a temporary folder)")
    args = parse(p, argv)
    steps = args.steps or (200 if args.quick else 1000)
    x_np, y_np = make_data(400, args.seed)
    x, y = torch.tensor(x_np, device=args.device), torch.tensor(y_np, device=args.device)
    hand_loss, hand_acc = by_hand(x, y, steps, args.lr)
    seq_net, nn_loss, nn_acc = with_modules(x, y, steps, args.lr)
    print(f"accuracy: by hand {hand_acc:.2%}, nn+optim {nn_acc:.2%}")
    module_net = LogisticNet().to(args.device)  # same weights, written as a Module subclass
    module_net.linear.load_state_dict(seq_net[0].state_dict())
    with torch.no_grad():
        assert np.array_equal(module_net(x).cpu().numpy(), seq_net(x).cpu().numpy())
    if args.save_dir:
        reloaded = save_and_reload(seq_net, x, args.save_dir)
    else:
        with tempfile.TemporaryDirectory() as folder:
            reloaded = save_and_reload(seq_net, x, folder)
    return {"by_hand": (hand_loss, hand_acc), "nn": (nn_loss, nn_acc), "reloaded_identical": reloaded}


if __name__ == "__main__":
    main()
