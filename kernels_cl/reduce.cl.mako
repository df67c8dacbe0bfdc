<%doc>
One template for every reduction. A reduction is an accumulator state (a struct of `fields`)
with three C snippets injected by the op row (cltensor/ops/reduce.py):
    neutral   statements that set `s` to the identity state
    map       statements that set `s` from one element `a` (type T) at reduced index `r`
    combine   statements that set `s` from two states `x` and `y` (associative and commutative,
              so the result does not depend on how work is split, up to rounding)
and `finish`: one C expression per output, of the final state `s`, the count `n` of reduced
elements and `params`.

The input is viewed as [M kept positions] x [R reduced positions], each a list of collapsed
dims with sizes and strides (kernel arguments); output position o is contiguous in the outputs.
    source 'tensor'    read input elements through strides, converted to T, then `map`
    source 'partials'  read acc_t states written by a previous stage (laid out [S, M])
    mode 'items'       one work-item per (o, chunk): a sequential loop down the chunk; coalesced
                       when o is the fastest-moving memory dim (columns), and the cache-friendly
                       pattern on CPUs, where it runs V independent lanes (states kept one array
                       per field) that the compiler vectorises:
        lanes 'outputs'    V outputs side by side (columns: every read uses a cache line)
        lanes 'elements'   V consecutive elements of a contiguous row, merged at the end
    mode 'group'       one work-group per (o, chunk): items interleave over the chunk (coalesced
                       when r is the fastest-moving memory dim), then a tree in local memory
    final              (an argument) write finish(s) to the outputs, else the state to
                       part[chunk * M + o]; the buffers not written may be any buffer
    fused              (softmax) after the reduction, pass over the chunk again and write
                       `fused` of each element `a` and the state `s` (after `fused_setup`, which
                       may rewrite it once, say to 1 / sum) into a tensor of the input's shape
    in2_dtype          (optional) a second input `b` with the same sizes and strides as the first,
                       read at the same offsets (src2_delta apart) by `map` and `fused`: the
                       backward of softmax is one kernel, sum(g * y) then y * (g - sum)
</%doc>
<%
    tensor_src = source == 'tensor'
    use_pre = bool(pre_combine) and tensor_src and mode == 'items' and in2_dtype is None
    ## prestore (softmax on CPUs): the accumulating pass stores each element's value, the fused pass scales it
    use_store = (bool(prestore_value) and use_pre and bool(fused) and lanes == 'elements'
                 and fused_dtype is not None and fused_dtype.name == A_dtype.name)
    ## vec_store: the same passes over vectors of V elements (vload/vstore), where the input, T and A are one
    ## type: PoCL then calls its vector exp (SLEEF); a scalar loop of exp is not vectorised
    vec_store = use_store and in_dtype is not None and in_dtype.name == A_dtype.name == T.name
    ## vectors of 32 bytes (AVX2): wider ones make clang warn that they change the ABI of the builtins
    VW = 32 // A_dtype.itemsize
    AV = f"{A}{VW}"
    ## vec_fold: a row of one field whose map is the element (sum) folded with vector loads, 4 accumulators
    vec_fold = (bool(vector_combine) and tensor_src and mode == 'items' and lanes == 'elements' and not fused
                and in2_dtype is None and not use_pre and len(fields) == 1
                and in_dtype.name == A_dtype.name == T.name)
    second = in2_dtype is not None and tensor_src
    elem2 = lambda off: c.convert(T, c.load(in2_dtype, "src2", f"({off}) + src2_delta"))  # b at a's offset
    pdecl = "".join(f", const {ct} {nm}" for nm, ct in params)  # the snippets may read params
    pargs = "".join(f", {nm}" for nm, ct in params)
    views = ['src'] + (['fo'] if fused else [])
%>
${c.preamble([T, A_dtype] + [o for o in out_dtypes] + ([in_dtype] if in_dtype is not None else []) + ([fused_dtype] if fused else []) + ([in2_dtype] if second else []))}
typedef ${T.compute_c} T;
typedef ${A} A;
## NaN tests that vanish for integers (where `v != v` would be a tautology the compiler warns about)
#define IS_NAN(v) ${"((v) != (v))" if A_dtype.is_floating_point else "0"}
#define IS_NAN_T(v) ${"((v) != (v))" if T.is_floating_point else "0"}
#define LOWEST (${lowest})
#define HIGHEST (${highest})
${helpers}
typedef struct { ${" ".join(f"{ct} {nm};" for nm, ct in fields)}${f" uchar padding_[{padding}];" if padding else ""} } acc_t;

inline acc_t acc_neutral(void) { acc_t s; ${neutral} return s; }
% if tensor_src:
## (a 'partials' stage combines states: map, which may read the second input `b`, is not needed there)
inline acc_t acc_map(const T a${", const T b" if second else ""}, const long r${pdecl}) { acc_t s; ${map} return s; }
% endif
inline acc_t acc_combine(const acc_t x, const acc_t y) { acc_t s; ${combine} return s; }
% if fused:
inline acc_t fused_prepare(acc_t s${pdecl}) { ${fused_setup} return s; }
% endif
% if use_pre:
## the optional pre-pass (an optimisation of the items path): a scalar `pre` of the chunk, say its
## max, then elements are accumulated relative to it (sum of exp(a - pre)), which vectorises
inline A pre_combine(const A p, const A a) { return ${pre_combine}; }
inline acc_t acc_start(const A pre) { acc_t s; ${start} return s; }
inline acc_t acc_add_pre(acc_t s, const T a, const A pre${pdecl}) { ${accumulate} return s; }
% endif
% if use_store:
${softmax_exp(A, "int", "")}
% if vec_store:
${softmax_exp(AV, f"int{VW}", "_v")}
% endif
inline A pre_value(const T a, const A pre) { return ${prestore_value}; }
inline acc_t acc_add_value(acc_t s, const A e) { ${prestore_add} return s; }
% endif
% if vec_fold:
inline ${AV} combine_v(const ${AV} x, const ${AV} y) { return ${vector_combine}; }
% endif
% if vec_store:
inline ${AV} pre_combine_v(const ${AV} p, const ${AV} a) { return ${pre_combine}; }
inline ${AV} pre_value_v(const ${AV} a, const A pre) { return ${prestore_value.replace("softmax_exp(", "softmax_exp_v(")}; }
inline A hsum_v(const ${AV} v) { A t = 0; for (int j = 0; j < ${VW}; ++j) t += ((const A *)&v)[j]; return t; }
% endif

<%def name="softmax_exp(V, IV, suffix)">\
## softmax_exp(x): exp of x <= 0 (an element minus its row's max), as PyTorch's CPU softmax takes it
## (Vectorized::exp_u20, not its 1-ulp exp): for float, x = n ln2 + z with |z| <= ln2 / 2, exp(z)
## by Cephes' degree-7 polynomial, 2^n from exponent bits; 0 below -104, where exp(x) rounds to 0
## (and for -inf). Doubles take exp itself (as PyTorch's do).
% if A_dtype.name == 'float32':
inline ${V} softmax_exp${suffix}(const ${V} x) {
    ## n = round(x / ln2): adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits
    const ${V} shifted = x * 1.44269504088896341f + 12582912.0f;
    const ${V} n = shifted - 12582912.0f;
    const ${V} z = (x - n * 0.693359375f) + n * 2.12194440e-4f;
    ${V} p = 1.9875691500e-4f;
    p = p * z + 1.3981999507e-3f;
    p = p * z + 8.3334519073e-3f;
    p = p * z + 4.1665795894e-2f;
    p = p * z + 1.6666665459e-1f;
    p = p * z + 5.0000001201e-1f;
    p = p * z * z + z + 1.0f;
    ## 2^n as 2^(n + 64) * 2^-64: results below the normal range come out as IEEE's denormals
    const ${V} scale = as_${V}((as_${IV}(shifted) - 0x4B400000 + 127 + 64) << 23);
    return (x < -104.0f) ? (${V})0.0f : p * scale * 5.42101086242752217e-20f;
}
% else:
inline ${V} softmax_exp${suffix}(const ${V} x) { return exp(x); }
% endif
</%def>

<%def name="elem(off)">${c.convert(T, c.load(in_dtype, "src", off))}</%def>

<%def name="fold(state, off, ridx, pre)">\
% if use_pre:
${state} = acc_add_pre(${state}, ${elem(off)}, ${pre}${pargs})\
% else:
${state} = acc_combine(${state}, ${load(off, ridx)})\
% endif
</%def>

<%def name="load(off, ridx='r')">\
% if tensor_src:
acc_map(${c.convert(T, c.load(in_dtype, "src", off))}${(", " + elem2(off)) if second else ""}, (long)(${ridx})${pargs})\
% else:
src[${off}]\
% endif
</%def>

<%def name="decompose(var, base_prefix, count, sizes, stride_prefix, vs)">
    ## offsets of every view in `vs` for linear index `var` over dims sizes[0..count)
% for v in vs:
    ${IDX} ${base_prefix}${v} = ${v}_off;
% endfor
    {
        ${IDX} rest = ${var};
% for d in reversed(range(count)):
        const ${IDX} q${d} = rest % ${sizes}${d};
        rest /= ${sizes}${d};
  % for v in vs:
        ${base_prefix}${v} += q${d} * ${v}_${stride_prefix}${d};
  % endfor
% endfor
    }
</%def>

<%def name="red_offsets(rvar, vs)">
    ## per-element offsets (kbase + offset of reduced index rvar) by division: the 'group' path
% for v in vs:
    ${IDX} e_${v} = k_${v};
% endfor
% if nr == 1:
  % for v in vs:
    e_${v} += ${rvar} * ${v}_rst0;
  % endfor
% else:
    {
        ${IDX} rest = ${rvar};
  % for d in reversed(range(nr)):
        const ${IDX} q${d} = rest % rs${d};
        rest /= rs${d};
    % for v in vs:
        e_${v} += q${d} * ${v}_rst${d};
    % endfor
  % endfor
    }
% endif
</%def>

<%def name="odometer_start(vs, base)">
    ## sequential walk from r0 with incrementing offsets: the 'items' path (no divisions per element)
% for v in vs:
    ${IDX} e_${v} = ${base};
% endfor
% for d in range(nr):
    ${IDX} i${d};
% endfor
    {
        ${IDX} rest = r0;
% for d in reversed(range(nr)):
        i${d} = rest % rs${d};
        rest /= rs${d};
  % for v in vs:
        e_${v} += i${d} * ${v}_rst${d};
  % endfor
% endfor
    }
</%def>

<%def name="odometer_step(vs)">
% if nr == 1:
  % for v in vs:
        e_${v} += ${v}_rst0;
  % endfor
% else:
% for v in vs:
        e_${v} += ${v}_rst${nr - 1};
% endfor
        if (++i${nr - 1} == rs${nr - 1}) {
            i${nr - 1} = 0;
% for v in vs:
            e_${v} -= rs${nr - 1} * ${v}_rst${nr - 1};
% endfor
% for d in reversed(range(nr - 1)):
% for v in vs:
            e_${v} += ${v}_rst${d};
% endfor
            if (++i${d} == rs${d}) {
                i${d} = 0;
% for v in vs:
                e_${v} -= rs${d} * ${v}_rst${d};
% endfor
% endfor
% for d in range(nr - 1):
            }
% endfor
        }
% endif
</%def>

<%def name="lanes_decl(name)">\
## lane states as one array per field (not an array of structs), so lanes vectorise
% for nm, ct in fields:
${ct} ${name}_${nm}[${V}]; \
% endfor
</%def>

<%def name="lane_set(name, j, value)">\
{ const acc_t u_ = ${value}; \
% for nm, ct in fields:
${name}_${nm}[${j}] = u_.${nm}; \
% endfor
}\
</%def>

<%def name="lane_get(name, j)">\
% for nm, ct in fields:
t_.${nm} = ${name}_${nm}[${j}]; \
% endfor
</%def>

<%def name="lane_fold(name, j, off, ridx, pre)">\
{ acc_t t_; ${lane_get(name, j)}${fold("t_", off, ridx, pre)}; ${lane_set(name, j, "t_")} }\
</%def>

<%def name="store_fold(name, j, src_off, fo_off)">\
{ acc_t t_; ${lane_get(name, j)}const A e_ = pre_value(${elem(src_off)}, pre); t_ = acc_add_value(t_, e_); \
${lane_set(name, j, "t_")} ${c.store(fused_dtype, "fo", fo_off, "e_")}; }\
</%def>

<%def name="lane_merge(dst, name, j)">\
{ acc_t t_; ${lane_get(name, j)}${dst} = acc_combine(${dst}, t_); }\
</%def>

<%def name="fused_lanes(src_lane, fo_lane)">
    ${odometer_start(views, "0")}
    for (${IDX} r = r0; r < r1; ++r) {
        ## lanes past nv write their last output's value again: harmless, and keeps V constant
        for (int j = 0; j < ${V}; ++j) {
            acc_t t_; ${lane_get("fin", "j")}
            const acc_t s = t_;
            ${fused_write(src_lane, fo_lane)}
        }
        ${odometer_step(views)}
    }
</%def>

<%def name="accumulate_lanes(lane_off)">
    ## every lane j folds its elements (at lane_off) into acc[j]
    A pre[${V}];
% if use_pre:
    for (int j = 0; j < ${V}; ++j) pre[j] = ${pre_neutral};
    {
        ${odometer_start(views, "0")}
        for (${IDX} r = r0; r < r1; ++r) {
            for (int j = 0; j < ${V}; ++j) pre[j] = pre_combine(pre[j], ${elem(lane_off)});
            ${odometer_step(views)}
        }
    }
% endif
    ${odometer_start(views, "0")}
    for (${IDX} r = r0; r < r1; ) {
        ## NOTE: blocks of 256 merged into the total: a float sum's error grows with 256 + n / 256,
        ## not with the chunk's length n
        const ${IDX} r_end = (r1 - r < 256) ? r1 : r + 256;
        ${lanes_decl("blk")}
        for (int j = 0; j < ${V}; ++j) ${lane_set("blk", "j", "acc_start(pre[j])" if use_pre else "acc_neutral()")}
        for (; r < r_end; ++r) {
            for (int j = 0; j < ${V}; ++j) ${lane_fold("blk", "j", lane_off, "r", "pre[j]")}
            ${odometer_step(views)}
        }
        for (int j = 0; j < ${V}; ++j) ${lane_merge("acc[j]", "blk", "j")}
    }
</%def>

<%def name="fused_write(src_off, fo_off)">
    { const T a = ${c.convert(T, c.load(in_dtype, "src", src_off))};${(" const T b = " + elem2(src_off) + ";") if second else ""} ${c.store(fused_dtype, "fo", fo_off, fused)}; }
</%def>

<%def name="vector_fold_row()">
    ## vec_fold: the chunk [r0, r1) of a contiguous row, four vectors a step into four accumulators
    ## (independent chains), merged per block of ${1024} vectors as the scalar path merges its blocks
    ${IDX} r = r0;
    const ${AV} z = (${AV})(acc[0].${fields[0][0]});
    for (; r + ${VW} <= r1; ) {
        const ${IDX} r_end = (r1 - r < ${1024 * VW}) ? r1 : r + ${1024 * VW};
        ${AV} v0 = z, v1 = z, v2 = z, v3 = z;
        for (; r + ${4 * VW} <= r_end; r += ${4 * VW}) {
            v0 = combine_v(v0, vload${VW}(0, src + k_src + r));
            v1 = combine_v(v1, vload${VW}(1, src + k_src + r));
            v2 = combine_v(v2, vload${VW}(2, src + k_src + r));
            v3 = combine_v(v3, vload${VW}(3, src + k_src + r));
        }
        for (; r + ${VW} <= r_end; r += ${VW}) v0 = combine_v(v0, vload${VW}(0, src + k_src + r));
        v0 = combine_v(combine_v(v0, v1), combine_v(v2, v3));
        for (int j = 0; j < ${VW}; ++j) acc[0] = acc_combine(acc[0], acc_map(((const A *)&v0)[j], r${pargs}));
    }
    for (; r < r1; ++r) acc[0] = acc_combine(acc[0], acc_map(src[k_src + r], r${pargs}));
</%def>

<%def name="vector_row()">
    ## vec_store: the chunk [r0, r1) of a contiguous row, into a contiguous output: its max, then
    ## e = value(a, max) stored and summed (in blocks of 256 vectors), then the fused pass rescales
    ${IDX} r;
    {
        ${AV} pv = (${AV})(${pre_neutral});
        for (r = r0; r + ${VW} <= r1; r += ${VW}) pv = pre_combine_v(pv, vload${VW}(0, src + k_src + r));
        pre = ${pre_neutral};
        for (int j = 0; j < ${VW}; ++j) pre = pre_combine(pre, ((const A *)&pv)[j]);
        for (; r < r1; ++r) pre = pre_combine(pre, src[k_src + r]);
    }
    for (r = r0; r + ${VW} <= r1; ) {
        const ${IDX} r_end = (r1 - r < ${256 * VW}) ? r1 : r + ${256 * VW};
        ## two vectors a step: two independent exp chains overlap (~10% faster on a Zen core)
        ${AV} sv = 0, sv1 = 0;
        for (; r + ${2 * VW} <= r_end; r += ${2 * VW}) {
            const ${AV} e = pre_value_v(vload${VW}(0, src + k_src + r), pre);
            const ${AV} e1 = pre_value_v(vload${VW}(1, src + k_src + r), pre);
            sv += e;
            sv1 += e1;
            vstore${VW}(e, 0, fo + k_fo + r);
            vstore${VW}(e1, 1, fo + k_fo + r);
        }
        for (; r + ${VW} <= r_end; r += ${VW}) {
            const ${AV} e = pre_value_v(vload${VW}(0, src + k_src + r), pre);
            sv += e;
            vstore${VW}(e, 0, fo + k_fo + r);
        }
        acc[0] = acc_combine(acc[0], acc_add_value(acc_start(pre), hsum_v(sv + sv1)));
    }
    {
        acc_t t_ = acc_start(pre);
        for (; r < r1; ++r) { const A e_ = pre_value(src[k_src + r], pre); t_ = acc_add_value(t_, e_); fo[k_fo + r] = e_; }
        acc[0] = acc_combine(acc[0], t_);
    }
  % if fused:
    {
        const acc_t s = fused_prepare(acc[0]${pargs});
        for (r = r0; r + ${VW} <= r1; r += ${VW}) {
            const ${AV} f = vload${VW}(0, fo + k_fo + r);
            vstore${VW}(${prestore_fused}, 0, fo + k_fo + r);
        }
        for (; r < r1; ++r) { const A f = fo[k_fo + r]; fo[k_fo + r] = ${prestore_fused}; }
    }
  % endif
</%def>

<%def name="finish_outputs(s)">
    if (final) {
        const acc_t s = ${s};
        const long n = count;
  % for k, (od, expr) in enumerate(zip(out_dtypes, finish)):
        ${c.store(od, f"out{k}", "o", expr)};
  % endfor
    } else {
        part[sidx * M + o] = ${s};
    }
</%def>

__kernel void ${kname}(${sig[kname]})
{
% if mode == 'items' and lanes == 'elements':
    ## work-item gid: output o, chunk sidx; V lanes over consecutive elements (contiguous rows on
    ## CPUs: the lanes are independent, so the compiler can vectorise them)
    const ${IDX} gid = get_global_id(0);
    if (gid >= M * S) return;
    const ${IDX} o = gid % M, sidx = gid / M;
    ${decompose("o", "k_", nk, "ks", "kst", views)}
    const ${IDX} r0 = sidx * chunk;
    const ${IDX} r1 = (R - r0 < chunk) ? R : r0 + chunk;
    acc_t acc[${V}];
    for (int j = 0; j < ${V}; ++j) acc[j] = acc_neutral();
    A pre = 0;
% if vec_fold:
    ${vector_fold_row()}
    ${finish_outputs("acc[0]")}
    return;
% endif
% if vec_store:
    if (fo_rst0 == 1) {
        ${vector_row()}
        ${finish_outputs("acc[0]")}
        return;
    }
% endif
% if use_pre:
    {
        A pl[${V}];
        for (int j = 0; j < ${V}; ++j) pl[j] = ${pre_neutral};
        ${IDX} r = r0;
        for (; r + ${V} <= r1; r += ${V}) {
            for (int j = 0; j < ${V}; ++j) pl[j] = pre_combine(pl[j], ${elem("k_src + r + j")});
        }
        for (; r < r1; ++r) pl[0] = pre_combine(pl[0], ${elem("k_src + r")});
        pre = pl[0];
        for (int j = 1; j < ${V}; ++j) pre = pre_combine(pre, pl[j]);
    }
% endif
    for (${IDX} r = r0; r < r1; ) {
        const ${IDX} r_end = (r1 - r < ${256 * V}) ? r1 : r + ${256 * V};
        ${lanes_decl("blk")}
        for (int j = 0; j < ${V}; ++j) ${lane_set("blk", "j", "acc_start(pre)" if use_pre else "acc_neutral()")}
        for (; r + ${V} <= r_end; r += ${V}) {
% if use_store:
            for (int j = 0; j < ${V}; ++j) ${store_fold("blk", "j", "k_src + r + j", "k_fo + (r + j) * fo_rst0")}
% else:
            for (int j = 0; j < ${V}; ++j) ${lane_fold("blk", "j", "k_src + r + j", "r + j", "pre")}
% endif
        }
% if use_store:
        for (; r < r_end; ++r) ${store_fold("blk", "0", "k_src + r", "k_fo + r * fo_rst0")}
% else:
        for (; r < r_end; ++r) ${lane_fold("blk", "0", "k_src + r", "r", "pre")}
% endif
        for (int j = 0; j < ${V}; ++j) ${lane_merge("acc[j]", "blk", "j")}
    }
    for (int j = 1; j < ${V}; ++j) acc[0] = acc_combine(acc[0], acc[j]);
  % if fused:
    {
        const acc_t s = fused_prepare(acc[0]${pargs});
        for (${IDX} r = r0; r < r1; ++r) {
% if use_store:
            { const A f = ${c.load(fused_dtype, "fo", "k_fo + r * fo_rst0")}; ${c.store(fused_dtype, "fo", "k_fo + r * fo_rst0", prestore_fused)}; }
% else:
            ${fused_write("k_src + r", "k_fo + r * fo_rst0")}
% endif
        }
    }
  % endif
    ${finish_outputs("acc[0]")}
% elif mode == 'items':
    ## work-item gid: outputs o0 .. o0 + V - 1 (V > 1 on CPUs for columns: a cache line per read),
    ## chunk sidx of the reduced positions
    const ${IDX} nob = (M + ${V - 1}) / ${V};
    const ${IDX} gid = get_global_id(0);
    if (gid >= nob * S) return;
    const ${IDX} o0 = (gid % nob) * ${V}, sidx = gid / nob;
    const int nv = (M - o0 < ${V}) ? (int)(M - o0) : ${V};
  % for v in views:
    ${IDX} kb_${v}[${V}];
  % endfor
    for (int j = 0; j < ${V}; ++j) {
        ## lanes past the last output repeat its reads (the loops below run all V lanes, so the
        ## compiler keeps them in registers) and are never written
        ${decompose("o0 + (j < nv ? j : nv - 1)", "k_", nk, "ks", "kst", views)}
  % for v in views:
        kb_${v}[j] = k_${v};
  % endfor
    }
    const ${IDX} r0 = sidx * chunk;
    const ${IDX} r1 = (R - r0 < chunk) ? R : r0 + chunk;
    acc_t acc[${V}];
    for (int j = 0; j < ${V}; ++j) acc[j] = acc_neutral();
% if V > 1:
    bool side_by_side = true;
    for (int j = 0; j < ${V}; ++j) side_by_side &= (kb_src[j] == kb_src[0] + j);
    if (side_by_side) {
        ${accumulate_lanes("kb_src[0] + j + e_src")}
    } else {
        ${accumulate_lanes("kb_src[j] + e_src")}
    }
% else:
    const bool side_by_side = true;
    ${accumulate_lanes("kb_src[0] + e_src")}
% endif
  % if fused:
    {
        ${lanes_decl("fin")}
        for (int j = 0; j < ${V}; ++j) ${lane_set("fin", "j", "fused_prepare(acc[j]" + pargs + ")")}
        bool fo_side = side_by_side;
        for (int j = 0; j < ${V}; ++j) fo_side &= (kb_fo[j] == kb_fo[0] + j);
        if (fo_side) {
            ${fused_lanes("kb_src[0] + j + e_src", "kb_fo[0] + j + e_fo")}
        } else {
            ${fused_lanes("kb_src[j] + e_src", "kb_fo[j] + e_fo")}
        }
    }
  % endif
    for (int j = 0; j < nv; ++j) {
        const ${IDX} o = o0 + j;
        ${finish_outputs("acc[j]")}
    }
% else:
    const ${IDX} gid = get_group_id(0);
    const ${IDX} lid = get_local_id(0), W = get_local_size(0);
    const ${IDX} o = gid % M, sidx = gid / M;
    ${decompose("o", "k_", nk, "ks", "kst", views)}
    const ${IDX} r0 = sidx * chunk;
    const ${IDX} r1 = (R - r0 < chunk) ? R : r0 + chunk;
    acc_t acc = acc_neutral();
    for (${IDX} r = r0 + lid; r < r1; r += W) {
        ${red_offsets("r", ["src"])}
        acc = acc_combine(acc, ${load("e_src")});
    }
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (${IDX} h = W >> 1; h > 0; h >>= 1) {
        if (lid < h) scratch[lid] = acc_combine(scratch[lid], scratch[lid + h]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
  % if fused:
    {
        const acc_t s = fused_prepare(scratch[0]${pargs});
        for (${IDX} r = r0 + lid; r < r1; r += W) {
            ${red_offsets("r", views)}
            ${fused_write("e_src", "e_fo")}
        }
    }
  % endif
    if (lid == 0) {
        ${finish_outputs("scratch[0]")}
    }
% endif
}
