"""Local stand-ins for the few torchvision pieces the programs use (no downloads, no torchvision).

``datasets.MNIST``/``datasets.FashionMNIST`` serve scikit-learn's bundled 8x8 digits, scaled 3x and
padded to 28x28 uint8 images (1 500 for training, the other 297 for testing); ``transforms`` has
ToTensor, Normalize and Compose; ``save_image`` writes the grid as .npy. Tensors are made with
whatever ``torch`` the program runs under (PyTorch, or cltensor through the shim).
"""
import os

import numpy as np
import torch

_TRAIN = 1500


def _digits(train):
    from sklearn.datasets import load_digits
    d = load_digits()
    img = np.kron(d.images, np.ones((3, 3))) * (255.0 / 16.0)
    img = np.pad(img, ((0, 0), (2, 2), (2, 2))).astype(np.uint8)
    sel = slice(0, _TRAIN) if train else slice(_TRAIN, None)
    return img[sel], d.target[sel].astype(np.int64)


class _Digits:
    def __init__(self, root=None, train=True, download=False, transform=None, target_transform=None):
        self.data, self.targets = _digits(train)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        img, target = self.data[i], int(self.targets[i])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


class datasets:  # noqa: N801 - mirrors ``torchvision.datasets``
    MNIST = FashionMNIST = _Digits


class _ToTensor:
    def __call__(self, img):
        return torch.from_numpy(img[None].astype(np.float32) / 255.0)


class _Normalize:
    def __init__(self, mean, std):
        self.mean, self.std = mean[0], std[0]

    def __call__(self, t):
        return (t - self.mean) / self.std


class _Compose:
    def __init__(self, steps):
        self.steps = steps

    def __call__(self, x):
        for step in self.steps:
            x = step(x)
        return x


class transforms:  # noqa: N801 - mirrors ``torchvision.transforms``
    ToTensor, Normalize, Compose = _ToTensor, _Normalize, _Compose


def ToTensor():  # noqa: N802 - mirrors ``torchvision.transforms.ToTensor``
    return _ToTensor()


def save_image(tensor, path, nrow=8):
    """Stands in for torchvision.utils.save_image: keeps the pixels as a .npy next to ``path``."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    np.save(os.path.splitext(path)[0] + ".npy", tensor.detach().cpu().numpy())
