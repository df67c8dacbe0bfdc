"""``torch.cuda.amp``: PyTorch's deprecated CUDA spellings of ``torch.amp``'s autocast and GradScaler.

They come from ``cltensor.amp`` (``CudaAutocast``, ``CudaGradScaler``: ``torch.amp.autocast('cuda', ...)``
and ``torch.amp.GradScaler('cuda', ...)`` with PyTorch's FutureWarning).
"""

from ..amp import CudaAutocast as autocast, CudaGradScaler as GradScaler, custom_bwd, custom_fwd

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]
