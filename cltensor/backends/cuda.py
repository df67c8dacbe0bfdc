"""``torch.backends.cuda``: TF32/reduced-precision switches (no effect: cltensor computes float32 in float32)."""


class _MatmulFlags:
    """``torch.backends.cuda.matmul``: settable flags, read back as set."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True
        self.fp32_precision = "none"

    def __repr__(self):
        return f"<cltensor.backends.cuda.matmul allow_tf32={self.allow_tf32}>"


matmul = _MatmulFlags()
cufft_plan_cache = None


def is_built() -> bool:
    """False: cltensor is not built with CUDA (its 'cuda' devices are OpenCL GPUs)."""
    return False


_sdp_flags = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def enable_flash_sdp(enabled: bool) -> None:
    _sdp_flags["flash"] = bool(enabled)


def flash_sdp_enabled() -> bool:
    return _sdp_flags["flash"]


def enable_mem_efficient_sdp(enabled: bool) -> None:
    _sdp_flags["mem_efficient"] = bool(enabled)


def mem_efficient_sdp_enabled() -> bool:
    return _sdp_flags["mem_efficient"]


def enable_math_sdp(enabled: bool) -> None:
    _sdp_flags["math"] = bool(enabled)


def math_sdp_enabled() -> bool:
    return _sdp_flags["math"]
