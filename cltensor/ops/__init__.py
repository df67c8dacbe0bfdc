"""The op modules. Importing them attaches their methods to Tensor."""
from ..launch import gemm as _gemm
from . import elementwise, activations, shape, creation, random, special  # noqa: F401
from . import complex  # noqa: F401,E402  (after elementwise: it reads the rows)

_gemm.set_op_table(elementwise.OPS)  # the GEMM epilogues name rows of the op table
