"""A small ResNet (BasicBlocks with BatchNorm2d, ReLU and residual adds, adaptive average pooling)
trained for a few SGD steps on CIFAR-shaped synthetic data (3 x 32 x 32 images, 10 classes).

    python examples/resnet_cifar_synthetic.py                 # 30 steps of batch 32
    python examples/resnet_cifar_synthetic.py --quick         # 6 steps of batch 8 (CI)
    python examples/resnet_cifar_synthetic.py --device cl:0   # any OpenCL device

Each class is a fixed random pattern plus noise, so the loss falls within a few steps. Plain
PyTorch code: replace ``import cltensor as torch`` by ``import torch`` and it runs unchanged.
"""
from __future__ import annotations

import time

import numpy as np

from common import ProgressBar, parse, parser

import cltensor as torch
from cltensor import nn
import cltensor.nn.functional as F


class BasicBlock(nn.Module):
    """Two 3x3 conv + BatchNorm layers and a shortcut (a 1x1 conv where the shape changes)."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(channels))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """A stem, three stages of one BasicBlock each (16, 32, 64 channels), pooling and a classifier."""

    def __init__(self, num_classes: int = 10, width: int = 16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.layers = nn.Sequential(BasicBlock(width, width), BasicBlock(width, 2 * width, stride=2),
                                    BasicBlock(2 * width, 4 * width, stride=2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * width, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


def synthetic_batches(steps: int, batch: int, seed: int, device):
    """CIFAR-shaped images: class pattern + Gaussian noise, with their labels."""
    rng = np.random.default_rng(seed)
    patterns = rng.standard_normal((10, 3, 32, 32)).astype(np.float32)
    for _ in range(steps):
        labels = rng.integers(0, 10, batch)
        images = patterns[labels] + rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
        yield torch.tensor(images, device=device), torch.tensor(labels, device=device)


def train(args) -> dict:
    model = ResNet().to(args.device)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    print(f"ResNet on synthetic CIFAR-shaped data: {args.steps} steps of batch {args.batch_size}, device "
          f"{args.device}, {sum(p.numel() for p in model.parameters())} parameters")
    bar = ProgressBar(args.steps, "training")
    losses, start = [], time.perf_counter()
    for i, (xb, yb) in enumerate(synthetic_batches(args.steps, args.batch_size, args.seed, args.device), 1):
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        if bar.live:
            bar.update(i, loss=losses[-1].item())
    losses = [float(v.item()) for v in losses]
    bar.close(loss=losses[-1])
    k = max(1, len(losses) // 3)
    first, last = float(np.mean(losses[:k])), float(np.mean(losses[-k:]))
    print(f"loss {first:.3f} (first {k} steps) -> {last:.3f} (last {k} steps), "
          f"{time.perf_counter() - start:.1f} s")
    return {"losses": losses, "first": first, "last": last}


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help="default 30 (6 with --quick)")
    p.add_argument("--batch-size", type=int, default=None, help="default 32 (8 with --quick)")
    p.add_argument("--lr", type=float, default=0.05)
    args = parse(p, argv)
    args.steps = args.steps or (6 if args.quick else 30)
    args.batch_size = args.batch_size or (8 if args.quick else 32)
    return train(args)


if __name__ == "__main__":
    main()
