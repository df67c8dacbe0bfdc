"""``torch.backends.mkl``: cltensor does not use MKL."""


def is_available() -> bool:
    return False
