"""Fusion of recorded elementwise launches (see docs/kernels.md, "Capture and replay").

A recorded launch of the contiguous elementwise path whose output is read by exactly one later
elementwise launch, and by nothing else, is computed inside that consumer instead: each row's C
expression becomes an inline function (``fz3(a, b, i, params)``) and the consumer's expression
calls it where it read the intermediate buffer, so one instance of kernels_cl/elementwise.cl.mako
computes the whole chain and the intermediate is never written.

Rules (each keeps the values bit-identical to eager's):
- both launches take the contiguous path (no strided operands), over the same element count and
  vector width; the consumer reads the intermediate whole, at the offset it was written at;
- producer and consumer compute in one real dtype and the intermediate is stored in it, so the
  value the consumer would have loaded is exactly the one passed on;
- the intermediate buffer was made during the trace, is no output, is not saved for the backward,
  and no other launch mentions it;
- nothing in between may write what the moved computation reads (an elementwise launch into one
  of its inputs, or any other launch that mentions one: its writes are not known);
- a fused kernel has at most 8 tensor or scalar operands (the template's a..h).
"""
from __future__ import annotations

from . import codegen
from ._capture import Launch, buffer_key, is_buffer
from .dtypes import param_c as _param_c
from .launch import elementwise as ew_launch

_NAMES = "abcdefgh"
_STORED_APART = ("float16", "bfloat16")  # stored as 16 bits, computed in float: not passed on as values


class _Node:
    """An elementwise launch of the contiguous path, decoded from its arguments."""

    __slots__ = ("launch", "info", "n", "out", "out_strides", "geometry", "inputs", "params", "children",
                 "leaves", "first", "group_geometry")

    def __init__(self, launch, info, inputs, params):
        self.launch, self.info = launch, info
        args, nd = launch.args, info["ndim"]
        self.n, self.out = args[0], (buffer_key(args[1 + nd]), args[2 + nd])
        # the strided path's (collapsed sizes, tile) and output strides; None for the contiguous path
        self.geometry = (tuple(args[1:1 + nd]), info["TILE"]) if nd else None
        self.out_strides = tuple(args[3 + nd:3 + 2 * nd]) if nd else None
        self.group_geometry = self.geometry  # of this node and the producers inlined into it
        self.inputs = inputs  # (kind, dtype, arg values) per operand: 't' values are (buf, off, strides)
        self.params = params  # (name, ctype, value)
        self.children = {}  # operand index -> producer _Node inlined there
        self.leaves = None
        self.first = None  # position of the earliest launch whose work this node now does


def _decode(launch):
    entry = codegen.built(launch.kernel, "elementwise.cl.mako")
    if entry is None:
        return None
    info = entry[0]
    compute = info["compute"]
    out = info["out_dtype"]
    if compute.is_complex or out.is_complex or compute.name in _STORED_APART + ("bool",) or \
            out.name in _STORED_APART:
        return None
    nd = info["ndim"]
    args, pos, inputs = launch.args, 3 + 2 * nd, []
    for d, kind in zip(info["in_dtypes"], info["in_kinds"]):
        if kind == "v":
            inputs.append((kind, d, (args[pos],)))
            pos += 1
        elif kind == "t":
            inputs.append((kind, d, (args[pos], args[pos + 1], tuple(args[pos + 2:pos + 2 + nd]))))
            pos += 2 + nd
        else:
            inputs.append((kind, d, (args[pos], args[pos + 1])))
            pos += 2
    params = tuple((p[0], p[1], args[pos + k]) for k, p in enumerate(info["params"]))
    return _Node(launch, info, inputs, params)


def fuse(launches, eliminable) -> list:
    """launches with chains of elementwise launches merged; eliminable: keys of the buffers that
    need not be written (made during the trace, no output, not read after these launches)."""
    launches = _without_dead(launches, eliminable)
    nodes = [_decode(l) for l in launches]
    uses = _buffer_uses(launches)
    writer: dict = {}  # buffer key -> the elementwise node that last wrote it
    inlined = set()
    for c, node in enumerate(nodes):
        if node is None:
            for a in launches[c].args:
                if is_buffer(a):
                    writer.pop(buffer_key(a), None)
            continue
        node.first = c
        node.leaves = _own_leaves(node)
        for j, (kind, d, vals) in enumerate(node.inputs):
            if kind == "v":
                continue
            p = writer.get(buffer_key(vals[0]))
            if p is not None and _can_inline(p, node, j, c, nodes, launches, uses, eliminable):
                node.children[j] = p
                inlined.add(id(p))
                node.first = min(node.first, p.first)
                node.leaves = _merged_leaves(node)
                node.group_geometry = node.group_geometry or p.group_geometry
        writer[node.out[0]] = node
    out = []
    for l, node in zip(launches, nodes):
        if node is not None and id(node) in inlined:
            continue
        out.append(_fused_launch(node) if node is not None and node.children else l)
    return out


def _buffer_uses(launches) -> dict:
    """buffer key -> how many launch arguments name that buffer."""
    uses: dict = {}
    for l in launches:
        for a in l.args:
            if is_buffer(a):
                k = buffer_key(a)
                uses[k] = uses.get(k, 0) + 1
    return uses


def _without_dead(launches, eliminable):
    """launches less the elementwise ones whose result nobody reads (autograd computes a rule's
    gradients for every input, also those no gradient is asked for): repeated until none is left."""
    while True:
        uses = _buffer_uses(launches)
        kept = []
        for l in launches:
            entry = codegen.built(l.kernel, "elementwise.cl.mako") if l.kernel is not None else None
            if entry is not None:
                out = buffer_key(l.args[1 + entry[0]["ndim"]])
                if out in eliminable and uses.get(out) == 1:
                    continue
            kept.append(l)
        if len(kept) == len(launches):
            return launches
        launches = kept


def _leaf_key(kind, d, vals):
    if kind == "v":
        return None  # scalars by value are not shared
    return (kind, d, buffer_key(vals[0]), vals[1], vals[2] if kind == "t" else None)


def _own_leaves(node):
    return [(kind, d, vals) for j, (kind, d, vals) in enumerate(node.inputs) if j not in node.children]


def _merged_leaves(node):
    leaves, seen = [], set()
    for j, (kind, d, vals) in enumerate(node.inputs):
        group = node.children[j].leaves if j in node.children else [(kind, d, vals)]
        for leaf in group:
            k = _leaf_key(*leaf)
            if k is None or k not in seen:
                leaves.append(leaf)
                if k is not None:
                    seen.add(k)
    return leaves


def _contiguous_strides(sizes):
    strides, step = [], 1
    for n in reversed(sizes):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def _same_elements(p, c_node, j):
    """Whether c_node's operand j reads, at each index, the element p wrote there: both see the
    intermediate as a contiguous block at one offset, over one strided-path geometry if any."""
    kind, d, vals = c_node.inputs[j]
    if p.out[1] != vals[1] or p.n != c_node.n or kind == "s":
        return False
    gp, gc = p.group_geometry, c_node.group_geometry
    if gp is not None and gc is not None and gp != gc:
        return False
    geometry = gp or gc
    if geometry is None:
        return p.info["VEC"] == c_node.info["VEC"]
    contiguous = _contiguous_strides(geometry[0])
    if p.out_strides is not None and p.out_strides != contiguous:
        return False
    return kind == "c" or vals[2] == contiguous


def _can_inline(p, c_node, j, c, nodes, launches, uses, eliminable):
    b = buffer_key(c_node.inputs[j][2][0])
    if b not in eliminable or uses.get(b, 0) != 2 or not _same_elements(p, c_node, j):
        return False
    pi, ci = p.info, c_node.info
    if pi["compute"] is not ci["compute"] or pi["IDX"] != ci["IDX"]:
        return False
    if p.launch.backend is not c_node.launch.backend:
        return False
    if len(_merged_leaves_with(c_node, j, p)) > len(_NAMES):
        return False
    read = {buffer_key(vals[0]) for kind, _, vals in p.leaves if kind != "v"}
    for k in range(p.first + 1, c):
        other = nodes[k]
        if other is not None:
            if other.out[0] in read and other is not p:
                return False
        elif any(is_buffer(a) and buffer_key(a) in read for a in launches[k].args):
            return False
    return True


def _merged_leaves_with(node, j, p):
    node.children[j] = p
    try:
        return _merged_leaves(node)
    finally:
        del node.children[j]


def _fused_launch(node) -> Launch:
    leaves = node.leaves
    index = {}
    for n, leaf in enumerate(leaves):
        k = _leaf_key(*leaf)
        if k is not None:
            index[k] = n
    functions, helpers, params = [], [], []
    counter = [0]

    def emit(nd, leaf_name):
        args = []
        for j, (kind, d, vals) in enumerate(nd.inputs):
            if j in nd.children:
                args.append(_as_stored(nd.children[j], emit(nd.children[j], leaf_name)))
            else:
                args.append(leaf_name(kind, d, vals))
        k = counter[0]
        counter[0] += 1
        info = nd.info
        T = info["compute"].compute_c
        formals = [f"const T {_NAMES[j]}" for j in range(len(nd.inputs))] + ["const long i"]
        for name, ctype, value in nd.params:
            pname = f"p{k}_{name}"
            params.append((pname, ctype, value))
            formals.append(f"const {_param_c(ctype, info['compute'])} {name}")
            args.append(pname)
        if info["helpers"] and info["helpers"] not in helpers:
            helpers.append(info["helpers"])
        functions.append(f"#define T {T}\ninline {T} fz{k}({', '.join(formals)}) "
                         f"{{ return (T)({info['expr']}); }}\n#undef T")
        return f"fz{k}({', '.join(args[:len(nd.inputs)] + ['i'] + args[len(nd.inputs):])})"

    used = {}

    def leaf_name(kind, d, vals):
        k = _leaf_key(kind, d, vals)
        if k is not None:
            return _NAMES[index[k]]
        # scalars by value: the n-th 'v' leaf in order
        for n, leaf in enumerate(leaves):
            if leaf[0] == "v" and n not in used and leaf[2] is vals:
                used[n] = True
                return _NAMES[n]
        raise AssertionError("scalar operand not among the leaves")

    expr = emit(node, leaf_name)
    info = node.info
    compute = info["compute"]
    geometry = node.group_geometry
    if geometry is None:  # the contiguous path, vectorised as the launches were
        ndim, vec, tile, shaper = 0, info["VEC"], 0, node
        head = list(node.launch.args[:3])
        leaves = list(leaves)
    else:  # the strided path over the group's sizes: contiguous operands read with contiguous strides
        sizes, tile = geometry
        ndim, vec = len(sizes), 1
        shaper = _find_strided(node, geometry)
        contiguous = _contiguous_strides(sizes)
        out_strides = node.out_strides if node.out_strides is not None else contiguous
        args = node.launch.args
        head = [args[0], *sizes, args[1 + node.info["ndim"]], node.out[1], *out_strides]
        leaves = [leaf if leaf[0] in ("v", "t") else
                  ("t", leaf[1], (leaf[2][0], leaf[2][1], contiguous if leaf[0] == "c" else (0,) * ndim))
                  for leaf in leaves]
    kinds = tuple(kind for kind, _, _ in leaves)
    in_dtypes = tuple(d for _, d, _ in leaves)
    param_decl = tuple((name, ctype) for name, ctype, _ in params)
    source_helpers = "\n".join(helpers + functions)
    key = ("fused", expr, source_helpers, compute, info["out_dtype"], in_dtypes, kinds, info["IDX"], vec,
           ndim, tile, param_decl)
    backend = node.launch.backend
    kernel = backend.kernels.get(key)
    if kernel is None:
        signature = ew_launch._signature(in_dtypes, kinds, info["out_dtype"], compute, ndim, info["IDX"], param_decl)
        kernel = ew_launch._build_elementwise(backend, key, "fused", expr, source_helpers, in_dtypes, kinds,
                                              info["out_dtype"], compute, ndim, info["IDX"], param_decl,
                                              vec, tile, signature)
    for kind, d, vals in leaves:
        head.extend(vals if kind != "t" else (vals[0], vals[1], *vals[2]))
    head.extend(value for _, _, value in params)
    l = shaper.launch
    return Launch(l.backend, kernel, l.gsize, l.lsize, head, l.items)


def _find_strided(node, geometry):
    """A node of the group on the strided path (its launch geometry serves the fused kernel)."""
    if node.geometry == geometry:
        return node
    for child in node.children.values():
        found = _find_strided(child, geometry)
        if found is not None:
            return found
    return None


def _as_stored(node, value):
    """value (a producer's result in its compute type) as its kernel would have stored it."""
    out, compute = node.info["out_dtype"], node.info["compute"]
    if out is compute:
        return value
    if out.name == "bool":
        return f"((uchar)(({value}) != 0))"
    return f"(({out.c})({value}))"
