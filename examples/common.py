"""Helpers the examples share: device choice, command-line flags, a small text progress bar and the
classifier training loop."""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

import cltensor as torch  # noqa: E402


def best_device() -> str:
    """$CLTENSOR_DEVICE if set, else the first OpenCL GPU, else 'cpu' (host memory through PoCL)."""
    if os.environ.get("CLTENSOR_DEVICE"):
        return os.environ["CLTENSOR_DEVICE"]
    try:
        return str(torch.device("gpu"))
    except RuntimeError:
        return "cpu"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--device", default=None,
                   help="cpu, cl:N or gpu (default: $CLTENSOR_DEVICE, else the first GPU, else cpu)")
    p.add_argument("--quick", action="store_true", help="a short run for CI")
    p.add_argument("--seed", type=int, default=0)
    return p


def parse(p: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    args = p.parse_args(argv)
    args.device = torch.device(args.device or best_device())
    torch.manual_seed(args.seed)
    return args


class ProgressBar:
    """``epoch 3/20 [#########.........] 12/23  loss 0.1234`` redrawn in place (a plain line when
    the output is not a terminal, so logs stay readable)."""

    def __init__(self, total: int, label: str, width: int = 30, stream=None):
        self.total, self.label, self.width = total, label, width
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.start = time.perf_counter()

    def update(self, done: int, **metrics) -> None:
        if self.live:
            self.stream.write("\r" + self._line(done, metrics))
            self.stream.flush()

    def close(self, **metrics) -> None:
        line = self._line(self.total, metrics)
        self.stream.write(("\r" if self.live else "") + line + "\n")
        self.stream.flush()

    def _line(self, done: int, metrics: dict) -> str:
        filled = self.width * done // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        stats = "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
        elapsed = time.perf_counter() - self.start
        return f"{self.label} [{bar}] {done}/{self.total}  {elapsed:5.2f}s  {stats}"


def accuracy(model, x, y) -> float:
    """The share of rows of x whose largest logit is at the label y (evaluated in eval mode)."""
    model.eval()
    with torch.no_grad():
        correct = (model(x).argmax(dim=1) == y).sum().item()
    model.train()
    return correct / len(y)


def fit_classifier(model, loader, test, opt, args) -> list:
    """args.epochs epochs of cross-entropy training over loader, a progress bar per epoch; returns one
    {epoch, loss, test_acc, seconds} per epoch (test: (x, y) evaluated after each epoch)."""
    loss_fn = torch.nn.CrossEntropyLoss()
    history, samples = [], len(loader.dataset)
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        bar = ProgressBar(len(loader), f"epoch {epoch:2d}/{args.epochs}")
        total = torch.zeros((), device=args.device)  # summed on the device: no host read per batch
        for i, (xb, yb) in enumerate(loader, 1):
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.detach() * len(yb)
            if bar.live and i % 4 == 0:
                bar.update(i, loss=total.item() / (i * args.batch_size))
        train_loss = total.item() / samples
        acc = accuracy(model, *test)
        seconds = time.perf_counter() - start
        bar.close(loss=train_loss, test_acc=acc)
        history.append({"epoch": epoch, "loss": train_loss, "test_acc": acc, "seconds": seconds})
    return history
