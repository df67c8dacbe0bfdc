"""LeNet-5 classifying scikit-learn's 8x8 handwritten digits (upsampled to 16x16), trained with Adam.

    python examples/lenet_digits.py                 # 15 epochs, >= 97% test accuracy
    python examples/lenet_digits.py --quick         # a few epochs (CI)
    python examples/lenet_digits.py --device cl:0   # any OpenCL device

Plain PyTorch code: replace ``import cltensor as torch`` by ``import torch`` and it runs unchanged
(apart from the device names). The convolutions run as implicit GEMMs (docs/kernels.md).
"""
from __future__ import annotations

import numpy as np

from common import fit_classifier, parse, parser

import cltensor as torch
from cltensor import nn
from cltensor.utils.data import DataLoader, TensorDataset


def load_data(device, seed: int):
    """Digits as [N, 1, 16, 16] images (each pixel repeated 2x2, scaled to [0, 1]), 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.kron(digits.images / 16.0, np.ones((2, 2)))[:, None].astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.2, random_state=seed,
                                                        stratify=digits.target)
    to = lambda a, dtype: torch.tensor(a, dtype=dtype, device=device)  # noqa: E731
    return to(x_train, torch.float32), to(y_train, torch.int64), to(x_test, torch.float32), to(y_test, torch.int64)


def make_model() -> nn.Module:
    """LeNet-5 for 16x16 inputs: two conv/ReLU/max-pool stages and three linear layers."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # 6 x 8 x 8
        nn.Conv2d(6, 16, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 4 x 4
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def train(args) -> dict:
    x_train, y_train, x_test, y_test = load_data(args.device, args.seed)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))
    model = make_model().to(args.device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(f"LeNet-5 on digits: {len(x_train)} train / {len(x_test)} test images, device {args.device}, "
          f"{sum(p.numel() for p in model.parameters())} parameters")
    history = fit_classifier(model, loader, (x_test, y_test), opt, args)
    final = history[-1]
    print(f"test accuracy {final['test_acc']:.2%} after {args.epochs} epochs "
          f"({sum(h['seconds'] for h in history):.1f} s in all)")
    return {"history": history, "test_acc": final["test_acc"], "loss": final["loss"]}


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=None, help="default 15 (2 with --quick)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    args = parse(p, argv)
    if args.epochs is None:
        args.epochs = 2 if args.quick else 15
    return train(args)


if __name__ == "__main__":
    main()
