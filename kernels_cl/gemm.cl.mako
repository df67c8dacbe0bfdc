<%doc>
One GEMM template:  C[b] = epilogue(alpha * A[b] @ B[b] + beta * D[b]) + R[b]   (D, R optional)
with A [M, K], B [K, N], C and D [M, N] read and written through their strides, and up to
`batch_ndim` batch dims decomposed from get_global_id(2) (stride 0 broadcasts a batch dim).

variant 'vec'   (CPUs) one work-item computes an MR x NR block held in registers as VW-wide vectors.
    mode 'nn':  vectors run along N: per k, NR/VW vector loads of B's row k (B's n-stride is 1),
                MR scalar loads of A broadcast to vectors, MR*NR/VW vector FMAs; the k loop is
                unrolled KU times over one pointer per row of A and one into B. With `b_packed`
                B is a copy in column panels (kernels_cl/gemm_pack.cl.mako), NR-wide rows one
                after the other, so the loop streams contiguous memory. GROUP_M > 0 walks the
                tiles in bands of GROUP_M row blocks (each B panel serves a band whose rows of A
                stay cached) instead of down whole columns.
    mode 'dot': vectors run along K (A's and B's k-strides are 1): MR*NR vector accumulators,
                summed across lanes at the end. Serves x @ W.T and matrix @ vector.
variant 'tiled' (GPUs) a work-group of (BN/WN, BM/WM) work-items stages BK-deep tiles of A and B
    in local memory (vector loads of VL elements along a unit-stride dim when a tile is whole)
    and each work-item accumulates a WM x WN register block.

Edge tiles: the vec variant clamps rows beyond M (their results are not stored) and takes a
guarded, lane-by-lane path for a column block that crosses N (or for B with an n-stride other
than 1); the tiled variant zero-fills local tiles outside the matrices. Results are stored as
row vectors where C's n-stride is 1, as column vectors where its m-stride is 1 (a transposed
result), else element by element. Accumulation runs in `acc` (float for float16 storage).

Epilogue (at the store, in `acc`): C = epilogue(alpha * acc + beta * D) + R, where `epilogue` is
(helpers, C expression of `a`) from an activation row of the op table and R, the residual, is read
through its strides like D (either may broadcast). With either, or with D, results are stored
element by element (O(M N) against the O(M N K) loop).

Implicit A (convolution as implicit GEMM, `implicit` set; docs/kernels.md): A is never stored; A[m, k]
is gathered from an image X (3 spatial dims, strides x_sn, x_sc, x_s0..2) by the conv geometry
(IN, OUT, KS, ST, PD, DL per spatial dim, kernel arguments, so one program serves every shape):
    'conv'   rows m = output position o, k = (channel c, tap t):  X[c, o * ST - PD + t * DL]
    'convT'  rows m = output position o, k = (c, t):  X[c, (o + PD - t * DL) / ST] where that divides
    'wgrad'  rows m = (c, t), k = (image n, output position o):  X[n, c, o * ST - PD + t * DL]
Positions outside X read 0. The vec variant splits the index work into a per-row part (once per
work-item) and a per-k part (counters stepped with k, shared by the MR rows).
</%doc>
<%
T = acc.compute_c
is_float = acc.is_floating_point
def vec_t(w):
    return T if w == 1 else f"{T}{w}"
def mad(a, b, c):
    return f"fma({a}, {b}, {c})" if is_float else f"(({a}) * ({b}) + ({c}))"
def conv(d, expr):
    return expr if d.compute_c == T else f"({T})({expr})"
def load(d, ptr, idx):
    return conv(d, c.load(d, ptr, idx))
def vload(d, ptr, w):
    """w consecutive elements of d at pointer expression ptr, as a vec_t(w)."""
    if w == 1:
        return load(d, ptr, 0)
    if d.name in ("float16", "bfloat16"):
        return c.vload(d, w, ptr)
    v = f"vload{w}(0, {ptr})"
    return v if d.c == T else f"convert_{vec_t(w)}({v})"
def vstore(d, value, ptr, w):
    if d.name in ("float16", "bfloat16"):
        return c.vstore(d, w, value, ptr)
    if d.c != T:
        value = f"convert_{d.c}{w}({value})"
    return f"vstore{w}({value}, 0, {ptr})"
def lanes_sum(v, w):
    if w == 1:
        return v
    return " + ".join(f"({v}).s{l:X}" for l in range(w))
BATCH = [f"bs{d}" for d in range(batch_ndim)]
plain_store = d_dtype is None and r_dtype is None and not epilogue  # results stored as alpha * acc, vectors ok
DIMS = range(3)
def row_setup(i, r):
    """C declarations of implicit row i's part of the gather address (r: its row index)."""
    if implicit == "wgrad":
        return (f"int t{i}_0, t{i}_1, t{i}_2; long rc{i}; {{ int q = {r}; t{i}_2 = (q % KS2) * DL2; q /= KS2; "
                f"t{i}_1 = (q % KS1) * DL1; q /= KS1; t{i}_0 = (q % KS0) * DL0; rc{i} = a_base + (long)(q / KS0) * x_sc; }}")
    first = ("o{d} * ST{d} - PD{d}" if implicit == "conv" else "o{d} + PD{d}")
    return (f"int rb{i}_0, rb{i}_1, rb{i}_2; {{ const int q = {r}, o2 = q % OUT2, o1 = (q / OUT2) % OUT1, "
            f"o0 = q / OUT2 / OUT1; " + " ".join(f"rb{i}_{d} = {first.format(d=d)};" for d in DIMS) + " }")
def k_counters():
    """C declarations of the per-k counters (started at k = 0)."""
    return "int kc = 0, k0 = 0, k1 = 0, k2 = 0;"
def k_step():
    """Advance the counters by one k: the taps (or output positions) run fastest."""
    lim = "OUT" if implicit == "wgrad" else "KS"
    return (f"if (++k2 == {lim}2) {{ k2 = 0; if (++k1 == {lim}1) {{ k1 = 0; if (++k0 == {lim}0) {{ k0 = 0; ++kc; }} }} }}")
def k_at(k):
    """C statements setting the counters for an arbitrary k (the tiled variant)."""
    lim = "OUT" if implicit == "wgrad" else "KS"
    return (f"int kc, k0, k1, k2; {{ int q = {k}; k2 = q % {lim}2; q /= {lim}2; k1 = q % {lim}1; q /= {lim}1; "
            f"k0 = q % {lim}0; kc = q / {lim}0; }}")
def gather(i):
    """The value of implicit row i at the counters' k, as T (0 outside the image)."""
    if implicit == "wgrad":
        p = [f"k{d} * ST{d} - PD{d} + t{i}_{d}" for d in DIMS]
        base = f"rc{i} + (long)kc * x_sn"
    elif implicit == "conv":
        p = [f"rb{i}_{d} + k{d} * DL{d}" for d in DIMS]
        base = f"a_base + (long)kc * x_sc"
    else:
        p = [f"conv_tap_t(rb{i}_{d} - k{d} * DL{d}, ST{d})" for d in DIMS]
        base = f"a_base + (long)kc * x_sc"
    return f"conv_gather(A, {base}, {', '.join(p)}, IN0, IN1, IN2, x_s0, x_s1, x_s2)"
%>
${c.preamble([a_dtype, c_dtype, acc] + [d for d in (d_dtype, r_dtype) if d is not None])}
% if epilogue:
${epilogue[0]}
// the epilogue: an activation row of the op table (cltensor/ops), applied to each result before the store
inline ${T} gemm_epilogue(const ${T} a) { typedef ${T} T; return ${epilogue[1]}; }
% endif
% if implicit:
inline ${T} conv_gather(__global const ${a_dtype.c} *X, const long base, const int p0, const int p1, const int p2,
                        const int n0, const int n1, const int n2, const long s0, const long s1, const long s2)
{
    return ((uint)p0 < (uint)n0 && (uint)p1 < (uint)n1 && (uint)p2 < (uint)n2)
        ? ${load(a_dtype, "X", "base + p0 * s0 + p1 * s1 + p2 * s2")} : (${T})0;
}
// a transposed conv's input position for q = o + PD - t * DL, or -1 (outside) where ST does not divide q
inline int conv_tap_t(const int q, const int st) { return q >= 0 && q % st == 0 ? q / st : -1; }
% endif
<%def name="batch_offsets()">\
    long a_base = a_off, b_base = b_off, c_base = c_off;
% if d_dtype is not None:
    long d_base = d_off;
% endif
% if r_dtype is not None:
    long r_base = r_off;
% endif
% if batch_ndim:
    {
        long rest = get_global_id(2);
  % for d in reversed(range(batch_ndim)):
        const long q${d} = rest % bs${d};
        rest /= bs${d};
        a_base += q${d} * a_sb${d};
        b_base += q${d} * b_sb${d};
        c_base += q${d} * c_sb${d};
    % if d_dtype is not None:
        d_base += q${d} * d_sb${d};
    % endif
    % if r_dtype is not None:
        r_base += q${d} * r_sb${d};
    % endif
  % endfor
    }
% endif
</%def>
<%def name="store_one(m, n, value)">\
<%
    v = f"alpha * ({value})"
    if d_dtype is not None:
        v += " + beta * " + load(d_dtype, "D", f"d_base + (long)({m}) * d_sm + (long)({n}) * d_sn")
    if epilogue:
        v = f"gemm_epilogue({v})"
    if r_dtype is not None:
        v = f"{v} + " + load(r_dtype, "R", f"r_base + (long)({m}) * r_sm + (long)({n}) * r_sn")
%>\
${c.store(c_dtype, "C", f"c_base + (long)({m}) * c_sm + (long)({n}) * c_sn", v)};
</%def>

<%def name="k_fmas(ak, step=True)">\
<%doc> The MR x NV vector FMAs of one k with B's row in b0..b{NV-1}, A read at ap{i}[ak]; with `step`,
steps ak by a_sk (and the gather counters). </%doc>
  % for i in range(MR):
            {
                const TV a = (TV)(${gather(i) if implicit else load(a_dtype, f"ap{i}", ak)});
    % for v in range(NV):
                acc${i}_${v} = ${mad("a", f"b{v}", f"acc{i}_{v}")};
    % endfor
            }
  % endfor
  % if step:
            ${ak} += a_sk;
  % endif
  % if implicit:
            ${k_step()}
  % endif
</%def>
<%def name="k_body(ak, step=True)">\
<%doc> One k of the contiguous-B loop: B's row as NV vector loads from bp, then the FMAs. </%doc>
            {
  % for v in range(NV):
                const TV b${v} = ${vload(a_dtype, f"bp + {v * VW}", VW)};
  % endfor
                bp += ${NR if b_packed else "b_sk"};
${k_fmas(ak, step)}
            }
</%def>
<%def name="k_loop(unit_a)">\
<%doc> The k loop over contiguous B rows, unrolled KU times; `unit_a`: A's k-stride is 1, so the unrolled
steps read A at constant offsets from each row pointer (a runtime stride would take a register each). </%doc>
        int k = 0;
  % if not implicit and KU > 1:
        for (; k + ${KU} <= K; k += ${KU}) {
    % for u in range(KU):
${k_body(f"k + {u}", False) if unit_a else k_body("ak")}
    % endfor
        }
  % endif
        for (; k < K; ++k) {
${k_body("k", False) if unit_a else k_body("ak")}
        }
</%def>
__kernel void ${kname}(${sig[kname]})
{
    typedef ${T} T;
% if variant == "vec" and mode == "nn":
<% TV = vec_t(VW); NV = NR // VW %>\
    typedef ${TV} TV;
  % if GROUP_M:
    // walk the tiles in bands of GROUP_M row blocks: the band's rows of A stay in cache while
    // every column panel of B passes, and each panel serves the band's row blocks in turn
    int mb, nb;
    {
        const int blocks_m = get_num_groups(0), blocks_n = get_num_groups(1);
        const int tile = get_group_id(0) + get_group_id(1) * blocks_m, band = tile / (${GROUP_M} * blocks_n);
        const int in_band = tile - band * ${GROUP_M} * blocks_n;
        const int band_rows = min(${GROUP_M}, blocks_m - band * ${GROUP_M});
        mb = band * ${GROUP_M} + in_band % band_rows;
        nb = in_band / band_rows;
    }
    const int m0 = mb * ${MR};
    int n0 = nb * ${NR};
  % else:
    const int m0 = get_global_id(0) * ${MR};
    int n0 = get_global_id(1) * ${NR};
  % endif
    if (m0 >= M || n0 >= N) return;
    int skip = 0;  // leading columns of the block that belong to the block on its left
  % if not b_packed:
    if (n0 + ${NR} > N && N >= ${NR} && b_sn == 1) {
        // the block crossing N is computed as the last whole block, N - NR .. N, overlapping its left
        // neighbour, through the vector loop (not the lane-by-lane gather); it stores only its own columns
        skip = n0 - (N - ${NR});
        n0 = N - ${NR};
    }
  % endif
${batch_offsets()}
  % for i in range(MR):
    % if implicit:
    ${row_setup(i, f"min(m0 + {i}, M - 1)")}
    % else:
    const long arow${i} = a_base + (long)min(m0 + ${i}, M - 1) * a_sm;
    % endif
  % endfor
  % if implicit:
    ${k_counters()}
  % endif
  % for i in range(MR):
    % for v in range(NV):
    TV acc${i}_${v} = (TV)(0);
    % endfor
  % endfor
    const bool whole_n = n0 + ${NR} <= N;
  % if not implicit:
    % for i in range(MR):
    __global const ${a_dtype.c} *ap${i} = A + arow${i};
    % endfor
  % endif
  % if b_packed:
    // B comes packed (kernels_cl/gemm_pack.cl.mako): panel n0 / NR holds its K rows of NR
    // columns one after the other (zero past N): rows NR apart, the panel at n0 * b_sn
    __global const ${a_dtype.c} *bp = B + b_base + (long)n0 * b_sn;
    {
  % else:
    __global const ${a_dtype.c} *bp = B + b_base + n0;
    if (whole_n && b_sn == 1) {
  % endif
  % if implicit or KU == 1:
        long ak = 0;
${k_loop(False)}
  % else:
        if (a_sk == 1) {
${k_loop(True)}
        } else {
            long ak = 0;
${k_loop(False)}
        }
  % endif
  % if not b_packed:
    } else {  // B's columns are not contiguous or the block crosses N: gather its row lane by lane
        T lanes[${NR}];
        long ak = 0, bk = b_base;
        for (int k = 0; k < K; ++k, bk += b_sk) {
            for (int j = 0; j < ${NR}; ++j)
                lanes[j] = n0 + j < N ? ${load(a_dtype, "B", "bk + (long)(n0 + j) * b_sn")} : (T)0;
    % for v in range(NV):
            const TV b${v} = ${"lanes[%d]" % (v * VW) if VW == 1 else "vload%d(%d, lanes)" % (VW, v)};
    % endfor
${k_fmas("ak")}
        }
  % endif
    }
  % if plain_store:
    if (whole_n && skip == 0 && c_sn == 1) {
    % for i in range(MR):
        if (m0 + ${i} < M) {
      % for v in range(NV):
            ${vstore(c_dtype, f"alpha * acc{i}_{v}", f"C + c_base + (long)(m0 + {i}) * c_sm + n0 + {v * VW}", VW)};
      % endfor
        }
    % endfor
        return;
    }
  % endif
    T out[${MR * NR}];
  % for i in range(MR):
    % for v in range(NV):
    ${"out[%d] = acc%d_%d" % (i * NR + v * VW, i, v) if VW == 1 else "vstore%d(acc%d_%d, %d, out)" % (VW, i, v, i * NV + v)};
    % endfor
  % endfor
  % if MR in (2, 4, 8, 16) and plain_store:
    if (whole_n && skip == 0 && c_sm == 1 && m0 + ${MR} <= M) {
        // C's columns are contiguous (a transposed result): store the block column by column
        for (int j = 0; j < ${NR}; ++j) {
            const ${vec_t(MR)} column = (${vec_t(MR)})(${", ".join(f"out[{i * NR} + j]" for i in range(MR))});
            ${vstore(c_dtype, "alpha * column", f"C + c_base + m0 + (long)(n0 + j) * c_sn", MR)};
        }
        return;
    }
  % endif
    for (int i = 0; i < min(${MR}, M - m0); ++i)
        for (int j = skip; j < min(${NR}, N - n0); ++j) {
            ${store_one("m0 + i", "n0 + j", f"out[i * {NR} + j]")}
        }
% elif variant == "vec" and mode == "dot":
<% TV = vec_t(VW) %>\
    typedef ${TV} TV;
    const int m0 = get_global_id(0) * ${MR};
    const int n0 = get_global_id(1) * ${NR};
    if (m0 >= M || n0 >= N) return;
${batch_offsets()}
  % for i in range(MR):
    __global const ${a_dtype.c} *ap${i} = A + a_base + (long)min(m0 + ${i}, M - 1) * a_sm;
  % endfor
  % for j in range(NR):
    __global const ${a_dtype.c} *bp${j} = B + b_base + (long)min(n0 + ${j}, N - 1) * b_sn;
  % endfor
  % for i in range(MR):
    % for j in range(NR):
    TV acc${i}_${j} = (TV)(0);
    % endfor
  % endfor
    int k = 0;
    for (; k + ${VW} <= K; k += ${VW}) {
  % for i in range(MR):
        const TV a${i} = ${vload(a_dtype, f"ap{i} + k", VW)};
  % endfor
  % for j in range(NR):
        {
            const TV b = ${vload(a_dtype, f"bp{j} + k", VW)};
    % for i in range(MR):
            acc${i}_${j} = ${mad(f"a{i}", "b", f"acc{i}_{j}")};
    % endfor
        }
  % endfor
    }
  % for i in range(MR):
    % for j in range(NR):
    T s${i}_${j} = ${lanes_sum(f"acc{i}_{j}", VW)};
    % endfor
  % endfor
    for (; k < K; ++k) {
  % for i in range(MR):
        const T a${i} = ${load(a_dtype, f"ap{i}", "k")};
  % endfor
  % for j in range(NR):
        {
            const T b = ${load(a_dtype, f"bp{j}", "k")};
    % for i in range(MR):
            s${i}_${j} = ${mad(f"a{i}", "b", f"s{i}_{j}")};
    % endfor
        }
  % endfor
    }
  % for i in range(MR):
    % for j in range(NR):
    if (m0 + ${i} < M && n0 + ${j} < N) {
        ${store_one(f"m0 + {i}", f"n0 + {j}", f"s{i}_{j}")}
    }
    % endfor
  % endfor
% elif variant == "tiled":
<% TX = BN // WN; TY = BM // WM; NT = TX * TY %>\
    __local T As[${BK}][${BM + 1}];
    __local T Bs[${BK}][${BN + 1}];
    const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * ${TX} + tx;
    const int n0 = get_group_id(0) * ${BN}, m0 = get_group_id(1) * ${BM};
${batch_offsets()}
  % for i in range(WM):
    % for j in range(WN):
    T acc${i}_${j} = (T)0;
    % endfor
  % endfor
    for (int k0 = 0; k0 < K; k0 += ${BK}) {
        const bool whole_k = k0 + ${BK} <= K;
<%def name="stage(X, rows, R, ld_r, ld_k, base, unit)">\
<%doc> Stage X's BK x R tile (R = BM rows of A or BN cols of B) as Xs[kk][r], r along `rows`. </%doc>
  % if VL > 1 and unit is not None:
<% along = BK if unit == "k" else R %>\
        if (whole_k && ${rows} + ${R} <= ${"M" if X == "A" else "N"}) {
            for (int e = tid; e < ${BK * R // VL}; e += ${NT}) {
    % if unit == "k":
                const int kk = (e % ${BK // VL}) * ${VL}, r = e / ${BK // VL};
                const ${vec_t(VL)} v = ${vload(a_dtype, f"{X} + {base} + (long)({rows} + r) * {ld_r} + (k0 + kk)", VL)};
      % for l in range(VL):
                ${X}s[kk + ${l}][r] = v.s${"%X" % l};
      % endfor
    % else:
                const int r = (e % ${R // VL}) * ${VL}, kk = e / ${R // VL};
                const ${vec_t(VL)} v = ${vload(a_dtype, f"{X} + {base} + (long)(k0 + kk) * {ld_k} + ({rows} + r)", VL)};
      % for l in range(VL):
                ${X}s[kk][r + ${l}] = v.s${"%X" % l};
      % endfor
    % endif
            }
        } else
  % endif
        for (int e = tid; e < ${BK * R}; e += ${NT}) {
  % if unit == "k":
            const int kk = e % ${BK}, r = e / ${BK};
  % else:
            const int r = e % ${R}, kk = e / ${R};
  % endif
            const int g = ${rows} + r, gk = k0 + kk;
  % if implicit and X == "A":
            T v = (T)0;
            if (g < M && gk < K) {
                ${row_setup(0, "g")}
                ${k_at("gk")}
                v = ${gather(0)};
            }
            As[kk][r] = v;
  % else:
            ${X}s[kk][r] = (g < ${"M" if X == "A" else "N"} && gk < K)
                ? ${load(a_dtype, X, f"{base} + (long)g * {ld_r} + (long)gk * {ld_k}")} : (T)0;
  % endif
        }
</%def>
${stage("A", "m0", BM, "a_sm", "a_sk", "a_base", a_unit)}
${stage("B", "n0", BN, "b_sn", "b_sk", "b_base", b_unit)}
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < ${BK}; ++kk) {
  % for i in range(WM):
            const T a${i} = As[kk][ty + ${i * TY}];
  % endfor
  % for j in range(WN):
            const T b${j} = Bs[kk][tx + ${j * TX}];
  % endfor
  % for i in range(WM):
    % for j in range(WN):
            acc${i}_${j} = ${mad(f"a{i}", f"b{j}", f"acc{i}_{j}")};
    % endfor
  % endfor
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
  % for i in range(WM):
    % for j in range(WN):
    if (m0 + ty + ${i * TY} < M && n0 + tx + ${j * TX} < N) {
        ${store_one(f"m0 + ty + {i * TY}", f"n0 + tx + {j * TX}", f"acc{i}_{j}")}
    }
    % endfor
  % endfor
% endif
}
