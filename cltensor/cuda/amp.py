"""``torch.cuda.amp``: PyTorch's deprecated CUDA spellings of ``torch.amp``'s autocast and GradScaler.

They come from ``cltensor.amp`` (``CudaAutocast``, ``CudaGradScaler``: ``torch.amp.autocast('cuda', ...)``
and ``torch.amp.GradScaler('cuda', ...)`` with PyTorch's FutureWarning), looked up on first use.
"""

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]

_NAMES = {"autocast": "CudaAutocast", "GradScaler": "CudaGradScaler", "custom_fwd": "custom_fwd",
          "custom_bwd": "custom_bwd"}


def __getattr__(name):
    if name not in _NAMES:
        raise AttributeError(f"module 'cltensor.cuda.amp' has no attribute '{name}'")
    from .. import amp
    return getattr(amp, _NAMES[name])
