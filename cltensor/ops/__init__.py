"""The op modules. Importing them attaches their methods to Tensor."""
from . import elementwise, activations, shape, creation, random, special  # noqa: F401
