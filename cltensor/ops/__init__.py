"""The op modules. Importing them attaches their methods to Tensor."""
from . import elementwise, shape, creation, random  # noqa: F401
from . import complex  # noqa: F401,E402  (after elementwise: it reads the rows)
