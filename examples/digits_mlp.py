"""An MLP classifying scikit-learn's 8x8 handwritten digits, trained with DataLoader + Adam.

    python examples/digits_mlp.py                 # ~20 epochs, >= 95% test accuracy
    python examples/digits_mlp.py --quick         # a few epochs (CI)
    python examples/digits_mlp.py --device cl:0   # any OpenCL device

It is plain PyTorch code: replace ``import cltensor as torch`` by ``import torch`` and it runs
unchanged (apart from the device names).
"""
from __future__ import annotations

import numpy as np

from common import fit_classifier, parse, parser

import cltensor as torch
from cltensor import nn
from cltensor.utils.data import DataLoader, TensorDataset


def load_data(device, seed: int):
    """Standardised digits (features scaled with the training split's statistics), 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data.astype(np.float32), digits.target, test_size=0.2, random_state=seed, stratify=digits.target)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6  # some border pixels are always 0
    to = lambda a, dtype: torch.tensor(a, dtype=dtype, device=device)  # noqa: E731
    return (to((x_train - mean) / std, torch.float32), to(y_train, torch.int64),
            to((x_test - mean) / std, torch.float32), to(y_test, torch.int64))


def make_model(hidden: int = 128) -> nn.Module:
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 10))


def train(args) -> dict:
    x_train, y_train, x_test, y_test = load_data(args.device, args.seed)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))
    model = make_model().to(args.device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(f"digits: {len(x_train)} train / {len(x_test)} test images, device {args.device}, "
          f"{sum(p.numel() for p in model.parameters())} parameters")
    history = fit_classifier(model, loader, (x_test, y_test), opt, args)
    final = history[-1]
    later = [h["seconds"] for h in history[1:]] or [history[0]["seconds"]]
    print(f"test accuracy {final['test_acc']:.2%} after {args.epochs} epochs, {np.mean(later):.2f} s per epoch "
          f"(epoch 1, which compiles the kernels: {history[0]['seconds']:.2f} s)")
    return {"history": history, "test_acc": final["test_acc"], "loss": final["loss"]}


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=None, help="default 20 (3 with --quick)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    args = parse(p, argv)
    if args.epochs is None:
        args.epochs = 3 if args.quick else 20
    return train(args)


if __name__ == "__main__":
    main()
