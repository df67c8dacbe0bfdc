"""``torch.backends.opt_einsum``: contraction-order flags (no effect in cltensor)."""
enabled = True
strategy = "auto"


def is_available() -> bool:
    return False
