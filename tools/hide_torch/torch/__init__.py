# On PYTHONPATH, this makes `import torch` fail as on a machine without PyTorch, even where it is
# installed: .ci/run checks that the suite needs no PyTorch (its cross-checks skip without it).
raise ImportError("PyTorch is hidden here (tools/hide_torch is on PYTHONPATH)")
