"""``torch.onnx``: importable, so scripts that import it run; exporting is not supported."""

__all__ = ["export", "is_in_onnx_export"]


def export(model, args=(), f=None, *a, **k):
    """Raises: cltensor cannot trace a model into an ONNX graph."""
    raise RuntimeError("ONNX export is not supported by cltensor: it has no graph tracer. Save the weights with "
                       "torch.save(model.state_dict(), path), load them into the same model in PyTorch, and export "
                       "it there with torch.onnx.export")


def is_in_onnx_export() -> bool:
    return False
