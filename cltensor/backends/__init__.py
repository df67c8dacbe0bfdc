"""``torch.backends``: the switches real scripts set, kept as plain settable flags.

cltensor has no cuDNN, TF32, oneDNN or MPS. The flags exist so that scripts which set or read them
(``torch.backends.cudnn.benchmark = True``) run unchanged; they change nothing in cltensor's kernels,
except where a docstring below says otherwise. ``cudnn.deterministic`` mirrors
``torch.use_deterministic_algorithms`` in spirit only: cltensor's kernels are deterministic for a given
device and shape already (reductions use fixed trees, no float atomics).
"""
from . import cuda, cudnn, mkldnn, mps, openmp, mkl, opt_einsum  # noqa: F401

__all__ = ["cuda", "cudnn", "mkldnn", "mps", "openmp", "mkl", "opt_einsum"]
