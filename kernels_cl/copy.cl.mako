<%doc>
Copies along dim 0 driven by an int64 table (other dims: any strides, broadcast allowed in src):
  mode 'gather':       out[j, r] = src[table[j], r]
  mode 'segment_sum':  out[j, r] = sum of src[k, r] for table[j] <= k < table[j + 1], accumulated in T
The launcher moves the dim it works on to position 0; sizes and strides are kernel arguments,
so one program serves every shape of a given ndim. The two modes are each other's gradient.
</%doc>
${c.preamble([out_dtype, src_dtype, compute])}
__kernel void ${kname}(${sig[kname]})
{
    const ${IDX} i = get_global_id(0);
    if (i >= n) return;
    ${IDX} rest = i, o_out = out_off, o_src = src_off;
% for d in reversed(range(1, ndim)):
    {
        const ${IDX} q = rest % size${d};
        rest /= size${d};
        o_out += q * out_st${d};
        o_src += q * src_st${d};
    }
% endfor
    o_out += rest * out_st0;
    typedef ${compute.compute_c} T;
% if mode == "gather":
    const T v = ${c.convert(compute, c.load(src_dtype, "src", "o_src + (" + IDX + ")table[table_off + rest] * src_st0"))};
% else:
    T v = (T)0;
    const ${IDX} end = (${IDX})table[table_off + rest + 1];
    for (${IDX} k = (${IDX})table[table_off + rest]; k < end; ++k)
        v += ${c.convert(compute, c.load(src_dtype, "src", "o_src + k * src_st0"))};
% endif
    ${c.store(out_dtype, "out", "o_out", "v")};
}
