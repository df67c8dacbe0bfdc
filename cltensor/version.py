"""``torch.version``: the PyTorch API level cltensor follows, and no CUDA or ROCm toolkit."""
try:
    from importlib.metadata import version as _dist_version
    _own = _dist_version("cltensor")
except Exception:  # not installed as a distribution (a source checkout on sys.path)
    _own = "0.1.0"

# PyTorch's version with cltensor's as the local part: scripts that compare torch.__version__ with
# "2.0" take their modern paths, and the local part says which library answers
__version__ = f"2.13.0+cltensor.{_own}"
cuda = None
hip = None
git_version = "unknown"
debug = False
