"""The launch layer: the only code that enqueues kernels. Ops describe *what* to compute; these
modules decide *how*: device checks, broadcasting, output allocation, kernel choice and enqueue.

One module per kernel family (kernels_cl/<family>.cl.mako), on top of two shared ones:
``base`` (checks, allocation, scalar arguments, enqueue) and ``strides`` (broadcasting and
stride arithmetic). Call sites name the family: ``launch.gemm.gemm(...)``, ``launch.base.empty(...)``.
"""
from . import base, copy, elementwise, fft, gemm, gemm_search, index, linalg, loss, random, reduce, scan, signature, sort, strides, window  # noqa: F401,E501
