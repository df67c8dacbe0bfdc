<%doc>
Indexing kernels. Three families share this template (`family` picks one):

'index'  One gather/scatter kernel behind advanced indexing, index_select/add/copy/fill,
         gather/scatter/scatter_add/scatter_reduce, take, index_put and bincount. The launcher
         maps every op onto one iteration space (sizes + per-operand strides, dims already
         collapsed) where the indexed operand's stride is 0 along the dims an index replaces;
         each index tensor k then adds (wrapped ix_k) * step_k to the indexed side's offset:
             gather  (indexed == 'src'):  dst[o_dst]  = src[o_src + sum_k ix_k * step_k]
             scatter (indexed == 'dst'):  dst[o_dst + sum_k ix_k * step_k]  op=  src[o_src]
         `op` is 'assign' (a plain store: with duplicate indices one of the writes wins) or a
         combine expression of the old value a and the new value b ('a + b', 'a * b', max, min).
         Combining is atomic: a compare-exchange loop on the element's bit pattern
         (atomic_cmpxchg for 32-bit types, atom_cmpxchg from cl_khr_int64_base_atomics for
         64-bit ones), so float sums with duplicate indices are exact up to summation order.
         The launcher only asks for combining on int32/int64/float32/float64 destinations;
         narrower types are widened to a temporary first (no sub-word atomics).
'minmax' Blocked min and max of an integer tensor (the host reads two numbers to check
         index bounds before any gather/scatter runs).
'scan'   Blocked prefix sums of "x != 0" over a strided tensor: per-block counts, a
         single-work-item exclusive scan of the block counts (at most MAX_BLOCKS of them),
         then per-block passes that write either the inclusive prefix of every element or the
         compacted positions (linear indices or coordinates) of the nonzero elements.
</%doc>
${c.preamble(dtypes)}
<%def name="unravel(names)">
    ## offsets o_<name> of linear index `lin` through sizes and each operand's strides
    {
        ${IDX} rest = lin;
  % for d in reversed(range(ndim)):
        {
            const ${IDX} q = rest % size${d};
            rest /= size${d};
    % for nm in names:
            o_${nm} += q * ${nm}_st${d};
    % endfor
        }
  % endfor
    }
</%def>
% if family == "index":
<% T = dst_dtype.compute_c %>
% if op != "assign":
<%
    bits = "ulong" if dst_dtype.itemsize == 8 else "uint"
    cas = "atom_cmpxchg" if dst_dtype.itemsize == 8 else "atomic_cmpxchg"
%>
% if dst_dtype.itemsize == 8:
#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable
% endif
inline void combine_atomic(volatile __global ${dst_dtype.c} *p, const ${T} b)
{
    union { ${bits} u; ${dst_dtype.c} v; } expected, desired, seen;
    // the first guess is the bit pattern 0, not a plain read of *p: a plain read racing with
    // other work-items' compare-exchanges is a data race (undefined; Oclgrind reports it); a wrong
    // guess costs one failed compare-exchange, which returns the stored value atomically
    seen.u = 0;
    do {
        expected = seen;
        const ${T} a = expected.v;
        desired.v = (${dst_dtype.c})(${op});
        seen.u = ${cas}((volatile __global ${bits} *)p, expected.u, desired.u);
    } while (seen.u != expected.u);
}
% endif

__kernel void ${kname}(${sig[kname]})
{
    const ${IDX} lin = get_global_id(0);
    if (lin >= n) return;
<% names = ["dst"] + ([] if src_dtype is None else ["src"]) + ["ix%d" % k for k in range(len(index_dtypes))] %>
% for nm in names:
    ${IDX} o_${nm} = ${nm}_off;
% endfor
    ${unravel(names)}
% for k, idt in enumerate(index_dtypes):
    {
        ## NOTE: the sign is tested in the index's own type: Mesa 22.3's llvmpipe (rusticl) miscompiles
        ## (long)i < 0 for an int i = -1 (false), so int32 indices were never wrapped
        const ${idt.c} raw = ix${k}[o_ix${k}];
        long j = raw;
        if (raw < 0) j += lim${k};
        o_${indexed} += (${IDX})j * step${k};
    }
% endfor
% if src_dtype is None:
    const ${T} value = src_val;
% else:
    const ${T} value = ${c.convert(dst_dtype, c.load(src_dtype, "src", "o_src"))};
% endif
% if op == "assign":
    ${c.store(dst_dtype, "dst", "o_dst", "value")};
% else:
    combine_atomic(dst + o_dst, value);
% endif
}

% elif family == "minmax":
__kernel void minmax_blocks(${sig["minmax_blocks"]})
{
    const ${IDX} b = get_global_id(0);
    const ${IDX} start = b * chunk;
    if (start >= n) return;
    const ${IDX} end = min(n, start + chunk);
    long lo = LONG_MAX, hi = LONG_MIN;
    for (${IDX} lin = start; lin < end; ++lin) {
        ${IDX} o_x = x_off;
        ${unravel(["x"])}
        const long v = (long)x[o_x];
        lo = min(lo, v);
        hi = max(hi, v);
    }
    partial[2 * b] = lo;
    partial[2 * b + 1] = hi;
}

__kernel void minmax_final(${sig["minmax_final"]})
{
    if (get_global_id(0) != 0) return;
    long lo = partial[0], hi = partial[1];
    for (${IDX} b = 1; b < nb; ++b) {
        lo = min(lo, partial[2 * b]);
        hi = max(hi, partial[2 * b + 1]);
    }
    partial[0] = lo;
    partial[1] = hi;
}

% elif family == "scan":
<% nonzero = (lambda v: "(%s != 0)" % v) %>
__kernel void scan_count(${sig["scan_count"]})
{
    const ${IDX} b = get_global_id(0);
    const ${IDX} start = b * chunk;
    if (start >= n) return;
    const ${IDX} end = min(n, start + chunk);
    long count = 0;
    for (${IDX} lin = start; lin < end; ++lin) {
        ${IDX} o_x = x_off;
        ${unravel(["x"])}
        count += ${nonzero(c.load(x_dtype, "x", "o_x"))};
    }
    bsum[b] = count;
}

__kernel void scan_offsets(${sig["scan_offsets"]})
{
    if (get_global_id(0) != 0) return;
    long acc = 0;
    for (${IDX} b = 0; b < nb; ++b) {
        const long v = bsum[b];
        bsum[b] = acc;
        acc += v;
    }
    bsum[nb] = acc;
}

__kernel void scan_inclusive(${sig["scan_inclusive"]})
{
    const ${IDX} b = get_global_id(0);
    const ${IDX} start = b * chunk;
    if (start >= n) return;
    const ${IDX} end = min(n, start + chunk);
    long acc = bsum[b];
    for (${IDX} lin = start; lin < end; ++lin) {
        ${IDX} o_x = x_off;
        ${unravel(["x"])}
        acc += ${nonzero(c.load(x_dtype, "x", "o_x"))};
        out[lin] = acc;
    }
}

## out_ndim == 0: out[k] = linear index of the k-th nonzero; else out[k, :] = its coordinates
## in a tensor of sizes osize[0..out_ndim)
__kernel void scan_compact(${sig["scan_compact"]})
{
    const ${IDX} b = get_global_id(0);
    const ${IDX} start = b * chunk;
    if (start >= n) return;
    const ${IDX} end = min(n, start + chunk);
    long pos = bsum[b];
    for (${IDX} lin = start; lin < end; ++lin) {
        ${IDX} o_x = x_off;
        ${unravel(["x"])}
        if (!${nonzero(c.load(x_dtype, "x", "o_x"))}) continue;
        if (out_ndim == 0) {
            out[pos] = lin;
        } else {
            long rest = lin;
            for (int d = out_ndim - 1; d >= 0; --d) {
                out[pos * out_ndim + d] = rest % osize[d];
                rest /= osize[d];
            }
        }
        ++pos;
    }
}
% endif
