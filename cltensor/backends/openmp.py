"""``torch.backends.openmp``: cltensor's host-side work is not OpenMP-parallel (PoCL threads its kernels)."""


def is_available() -> bool:
    return False
