"""Generate docs/api_coverage.md: which of PyTorch's public names cltensor provides, per namespace.

    python tools/gen_api_coverage.py                # rewrite docs/api_coverage.md
    python tools/gen_api_coverage.py --check        # exit 1 if the committed file is out of date
    python tools/gen_api_coverage.py --save-names   # refresh the kept list from the installed PyTorch

PyTorch's names come from PyTorch's own namespaces when PyTorch is installed (`pytorch_names`):
`torch` (the functions PyTorch's `torch.overrides` registry lists for the namespace, overridable
and not, plus its public classes), `Tensor` (its public attributes), `nn` (its classes),
`nn.functional` (the overridable functions), `optim` (the optimizers), `linalg`, `special`, `fft`,
`distributions` (their public callables), and for reference `nn.init`, `optim.lr_scheduler`,
`utils.data`. Left out: private names, sparse, quantized and backend-specific entry points
(`cudnn_*`, `fbgemm_*`, `mkldnn_*`, `*_copy`, ... see EXCLUDED). Without PyTorch the kept list
tools/pytorch_api_names.json (written by --save-names) stands in, so the document is the same
either way as long as that list is refreshed with the PyTorch CI runs.
``tests/test_examples.py::test_api_coverage_doc_is_up_to_date`` fails when the committed file
differs from what this script writes.
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "api_coverage.md")
KEPT = os.path.join(ROOT, "tools", "pytorch_api_names.json")

# sparse, quantized, backend-specific and internal entry points: not part of what cltensor aims at
EXCLUDED = re.compile(
    r"sparse|quantiz|dequantize|^q_|qint|quint|qscheme|fake_quant|^int_repr$|mkldnn|cudnn|miopen|fbgemm|vulkan|"
    r"xnnpack|(^|_)mps|xpu|ipu|mtia|maia|hpu|xla|nested|jagged|_copy$|^native_|^sym_|^Sym|autocast_(in|de)crement|"
    r"^unsafe_|_backward|^batch_norm_(elemt|gather|stats|update)|_ir(_|$)|^parse_|^import_ir|type_comment|"
    r"^unify_type|^fork$|^wait$|^vmap$|^cond$|^compile$|^Disable|Storage|DataPipe|datapipe|^DataChunk$|"
    r"validation|^non_deterministic$|^common_notes$|^smm$|^dsmm$|^hsmm$|^hspmm$|^spmm$|^saddmm$|^sspaddmm$|"
    r"indices_copy|^ccol_|^crow_|^col_indices|^row_indices|^coalesce|^is_coalesced|^to_dense$|^values$|"
    r"^indices$|^dense_dim$|^affine_grid_generator$|^grid_sampler(_2d|_3d)?$|^conv_tbc$|^convolution$|"
    r"^choose_qparams|^hash_tensor$|^nonzero_static$|^slice_inverse$|^get_device_module$")

# (namespace as the document names it, where cltensor provides it, how each row is labelled)
NAMESPACES = [
    ("torch", "", "torch."), ("Tensor", "Tensor", "Tensor."), ("nn", "nn", "nn."),
    ("nn.functional", "nn.functional", "F."), ("optim", "optim", "optim."), ("linalg", "linalg", "linalg."),
    ("special", "special", "special."), ("fft", "fft", "fft."), ("distributions", "distributions", "distributions."),
    ("nn.init", "nn.init", "init."), ("optim.lr_scheduler", "optim.lr_scheduler", "lr_scheduler."),
    ("utils.data", "utils.data", "data."),
]
COUNTED = ("torch", "Tensor", "nn", "nn.functional", "optim", "linalg", "special", "fft", "distributions")


# ---- PyTorch's names -----------------------------------------------------------------------------------------
def _real_torch():
    """The installed PyTorch, or None (absent, or `torch` is cltensor aliased by a test)."""
    try:
        import torch
    except ImportError:
        return None
    if "cltensor" in (getattr(torch, "__file__", "") or "") or not hasattr(torch, "overrides"):
        return None
    return torch


def _public(names):
    return sorted({n for n in names if not n.startswith("_") and not EXCLUDED.search(n)})


def _callables(module):
    return [n for n in dir(module) if callable(getattr(module, n, None))
            and not isinstance(getattr(module, n), types.ModuleType)]


def _from_pytorch(torch) -> dict:
    """{namespace: sorted names} read from the installed PyTorch."""
    import torch.nn.functional as F
    import torch.optim.lr_scheduler as lr_scheduler
    import torch.utils.data as data
    from torch.overrides import get_ignored_functions, get_overridable_functions

    registry = get_overridable_functions()
    ignored = [f for f in get_ignored_functions() if getattr(torch, getattr(f, "__name__", ""), None) is f]
    classes = [n for n in torch.__all__ if isinstance(getattr(torch, n, None), type)
               and not issubclass(getattr(torch, n), BaseException) and type(getattr(torch, n)).__name__ !=
               "pybind11_type"]
    optimizer = torch.optim.Optimizer
    scheduler_bases = (lr_scheduler.LRScheduler, lr_scheduler.ReduceLROnPlateau)
    return {
        "torch": _public([f.__name__ for f in registry[torch] + ignored] + classes),
        "Tensor": _public(dir(torch.Tensor)),
        "nn": _public(n for n in dir(torch.nn) if isinstance(getattr(torch.nn, n), type)),
        "nn.functional": _public(f.__name__ for f in registry[F]),
        "optim": _public(n for n in dir(torch.optim) if isinstance(getattr(torch.optim, n), type)
                         and issubclass(getattr(torch.optim, n), optimizer)),
        "linalg": _public(_callables(torch.linalg)),
        "special": _public(torch.special.__all__),
        "fft": _public(n for n in torch.fft.__all__ if n != "Tensor"),
        "distributions": _public(torch.distributions.__all__),
        "nn.init": _public(n for n in _callables(torch.nn.init) if n.endswith("_") or n == "calculate_gain"),
        "optim.lr_scheduler": _public(n for n in dir(lr_scheduler) if inspect.isclass(getattr(lr_scheduler, n))
                                      and issubclass(getattr(lr_scheduler, n), scheduler_bases)),
        "utils.data": _public(data.__all__),
    }


def pytorch_names() -> tuple:
    """(PyTorch version, {namespace: names}): from PyTorch when installed, else the kept list."""
    torch = _real_torch()
    if torch is not None:
        return torch.__version__.split("+")[0], _from_pytorch(torch)
    with open(KEPT, encoding="utf-8") as f:
        kept = json.load(f)
    return kept["version"], kept["names"]


def save_names() -> str:
    torch = _real_torch()
    if torch is None:
        raise SystemExit("--save-names needs PyTorch installed")
    with open(KEPT, "w", encoding="utf-8") as f:
        json.dump({"version": torch.__version__.split("+")[0], "names": _from_pytorch(torch)}, f, indent=1,
                  sort_keys=True)
        f.write("\n")
    return KEPT


# ---- cltensor's side -----------------------------------------------------------------------------------------
def _where(obj, ops) -> str:
    """Where a name comes from: 'op table `add`' for elementwise rows, else its module (short)."""
    target = obj.fget if isinstance(obj, property) else obj
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", "")
    if module == "cltensor.ops.elementwise" and name in ops:
        return f"op table `{name}`"
    if module == "cltensor.ops.elementwise":
        return "ops.elementwise"
    if not isinstance(module, str) or not module.startswith("cltensor"):
        return "`Tensor` attribute" if module in ("", "builtins") else str(module)
    return module.replace("cltensor.", "", 1) or "cltensor"


def _method_where(tensor_cls, name, ops) -> str:
    attr = None
    for klass in tensor_cls.__mro__:
        if name in vars(klass):
            attr = vars(klass)[name]
            break
    if attr is None:
        return "tensor" if name in getattr(tensor_cls, "__slots__", ()) else ""
    if not isinstance(attr, property) and not callable(attr):
        return "tensor"  # a slot or plain attribute of the Tensor class
    # methods generated from an op row are lambdas defined in elementwise._install
    if getattr(attr, "__module__", "") == "cltensor.ops.elementwise" and \
            (name in ops or name.rstrip("_") in ops):
        return f"op table `{name.rstrip('_')}`"
    return _where(attr, ops)


def _resolve(root, path):
    obj = root
    for part in path.split(".") if path else ():
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def sections():
    """(PyTorch version, [(namespace, [(label, where in cltensor or '')])]) in document order."""
    sys.path.insert(0, ROOT)
    import cltensor
    from cltensor.ops.elementwise import OPS

    version, names = pytorch_names()
    out = []
    for namespace, path, label in NAMESPACES:
        provider = _resolve(cltensor, path)
        rows = []
        for n in names.get(namespace, []):
            if provider is cltensor.Tensor:
                where = _method_where(provider, n, OPS)
            else:
                obj = getattr(provider, n, None) if provider is not None else None
                where = _where(obj, OPS) if obj is not None else ""
            rows.append((f"{label}{n}", where))
        out.append((namespace, rows))
    return version, out


def op_table_rows():
    from cltensor.ops.elementwise import OPS
    rows = []
    for name, op in sorted(OPS.items()):
        if name.startswith("_"):
            continue
        forms = [f"`{name}`"] + ([f"`Tensor.{name}`"] if op.method else []) + \
                ([f"`{name}_`"] if op.method and op.inplace else []) + [f"`{o}`" for o in op.operators]
        rows.append((name, op.arity, getattr(op.dtypes, "__name__", "?"), "yes" if op.vjp else "no", ", ".join(forms)))
    return rows


# ---- rendering -------------------------------------------------------------------------------------------------
def _percent(part, whole) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def render() -> str:
    version, secs = sections()
    counted = [(t, rows) for t, rows in secs if t in COUNTED]
    covered = sum(1 for _, rows in counted for _, where in rows if where)
    total = sum(len(rows) for _, rows in counted)
    lines = ["# API coverage", "",
             "<!-- GENERATED FILE: do not edit. Regenerate with `python tools/gen_api_coverage.py`; "
             "tests/test_examples.py checks that it is current. -->", "",
             f"Which of PyTorch {version}'s public names `import cltensor as torch` provides, generated by "
             "`tools/gen_api_coverage.py` from PyTorch's own namespaces (kept in `tools/pytorch_api_names.json` "
             "for machines without PyTorch) and from cltensor's code. Sparse, quantized and backend-specific "
             "entry points (`cudnn_*`, `fbgemm_*`, `*_copy`, ...) and private names are left out. *Where* names "
             "the op-table row (`cltensor/ops/elementwise.py`) or the module that provides a name.", "",
             f"**{covered} of {total} names ({_percent(covered, total)}) in {', '.join(COUNTED)}.**", "",
             "| Namespace | Provided | PyTorch | % |", "|---|---:|---:|---:|"]
    for title, rows in secs:
        got = sum(1 for _, w in rows if w)
        lines.append(f"| [{title}](#{_anchor(title)}) | {got} | {len(rows)} | {_percent(got, len(rows))} |")
    for title, rows in secs:
        missing = [name for name, where in rows if not where]
        lines += ["", f"## {title}", ""]
        lines.append(f"Missing ({len(missing)}): " + (", ".join(f"`{m}`" for m in missing) if missing else "none."))
        lines += ["", "| PyTorch | cltensor | Where |", "|---|:---:|---|"]
        lines += [f"| `{name}` | {'✓' if where else '—'} | {where} |" for name, where in rows]
    lines += ["", "## The elementwise op table", "",
              "Every row of `cltensor/ops/elementwise.py` (`defop(...)`), with the forms generated from it.", "",
              "| Op | Arity | Dtype rule | Backward | Generated forms |", "|---|---:|---|---|---|"]
    lines += [f"| `{n}` | {a} | {d} | {b} | {f} |" for n, a, d, b, f in op_table_rows()]
    return "\n".join(lines) + "\n"


def _anchor(title: str) -> str:
    return "".join(c for c in title.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if docs/api_coverage.md is out of date")
    p.add_argument("--save-names", action="store_true",
                   help="write the installed PyTorch's names to tools/pytorch_api_names.json")
    args = p.parse_args(argv)
    if args.save_names:
        print(f"wrote {save_names()}")
    text = render()
    if args.check:
        current = open(DOC, encoding="utf-8").read() if os.path.exists(DOC) else ""
        if current != text:
            print("docs/api_coverage.md is out of date: run python tools/gen_api_coverage.py")
            return 1
        return 0
    with open(DOC, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
