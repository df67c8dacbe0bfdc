"""``torch.backends.mkldnn``: cltensor has no oneDNN; ``enabled`` is a flag with no effect."""
enabled = True
deterministic = False


def is_available() -> bool:
    return False
