<%doc>
The window family, three parts chosen by the template parameters (pad, then interp, else pooling).

Pooling forward and backward over (N, C, D0, D1, D2) geometry (1-d and 2-d
inputs are launched with leading spatial extents of 1). Only the dtype is a template parameter;
the pooling kind (`mode`) and all geometry are kernel arguments, so one program per dtype serves
max, average and adaptive pooling of every shape, rank and window.
  mode 0 max (dilated window, saves the argmax as PyTorch's flat spatial index)
  mode 1 average (count_include_pad, divisor_override)
  mode 2 adaptive average, mode 3 adaptive max
The backward is a gather: one work-item per input element visits the outputs whose windows can
contain it, so no atomics and no races. The input is read through strides (channels_last works).

Interpolation (interp = 'nearest', 'nearest_exact', 'linear' or 'cubic'; nd = 1..3 spatial dims, both
template parameters, as is the dtype): every output reads TAPS input positions per dim (1, 2 or 4),
found by PyTorch's source-index rules; sizes and scales are kernel arguments. The backward is a
gather too: the outputs whose taps touch input position i form one contiguous range per dim (the
taps move monotonically with the output), found by binary search.

Padding (pad = 'reflect' or 'replicate'; nd = 1..3, template parameters): every output copies the
input element its position reflects or clamps to; the backward gathers, per dim, the outputs
that copy input position i (at most three for reflect, one range for replicate).
</%doc>
<%
    T = dtype.compute_c
    floating = dtype.is_floating_point
%>
${c.preamble([dtype])}
% if pad is not None:
<%
    A = "double" if dtype.name == "float64" else "float"
    dims = range(nd)
    RANGES = 3 if pad == "reflect" else 1
%>
/* The input position output position j copies along one dim of n elements padded by lo in front. */
inline int pad_source(const int j, const int n, const int lo)
{
    const int i = j - lo;
% if pad == "reflect":
    return i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i);
% else:
    return clamp(i, 0, n - 1);
% endif
}

/* The output ranges [a[k], b[k]) (empty where a[k] >= b[k]) that copy input position i. */
inline void pad_targets(const int i, const int n, const int out, const int lo, int *a, int *b)
{
% if pad == "reflect":
    a[0] = i + lo;          /* the element itself */
    a[1] = i > 0 ? lo - i : out;  /* its mirror in the front padding */
    a[2] = i < n - 1 ? 2 * (n - 1) - i + lo : out;  /* its mirror in the back padding */
    for (int k = 0; k < 3; ++k) {
        b[k] = min(a[k] + 1, out);
        a[k] = max(a[k], 0);
    }
% else:
    a[0] = max(i == 0 ? 0 : i + lo, 0);
    b[0] = min(i == n - 1 ? out : i + lo + 1, out);
% endif
}

__kernel void pad_forward(${sig["pad_forward"]})
{
    const int t = get_global_id(0);
    if (t >= total) return;
    int rest = t;
    % for d in reversed(dims):
    const int o${d} = rest % O${d};
    rest /= O${d};
    % endfor
    const int at = x_off + (rest / C) * xsN + (rest % C) * xsC${"".join(f" + pad_source(o{d}, I{d}, L{d}) * xs{d}" for d in dims)};
    ${c.store(dtype, "out", "t", c.load(dtype, "x", "at"))};
}
<%def name="pad_gather(d)">
for (int r${d} = 0; r${d} < ${RANGES}; ++r${d})
    for (int o${d} = a${d}[r${d}]; o${d} < b${d}[r${d}]; ++o${d}) {
% if d == nd - 1:
        acc += (${A})${c.load(dtype, "grad", "base" + "".join(f" + o{e} * gs{e}" for e in dims))};
% else:
        ${pad_gather(d + 1)}
% endif
    }
</%def>

__kernel void pad_backward(${sig["pad_backward"]})
{
    const int t = get_global_id(0);
    if (t >= total) return;
    int rest = t;
    % for d in reversed(dims):
    int a${d}[${RANGES}], b${d}[${RANGES}];
    pad_targets(rest % I${d}, I${d}, O${d}, L${d}, a${d}, b${d});
    rest /= I${d};
    % endfor
    const int base = g_off + (rest / C) * gsN + (rest % C) * gsC;
    ${A} acc = 0;
    ${pad_gather(0)}
    ${c.store(dtype, "grad_in", "t", "acc")};
}
% elif interp is None:
<%
    # accumulator: integer averages truncate their quotient, as PyTorch's
    A = ("double" if dtype.name == "float64" else "float") if floating else "long"
%>
typedef struct { int size[3], out[3], k[3], s[3], p[3], d[3]; } geom_t;

#define GEOM_INIT geom_t g = {{I0, I1, I2}, {O0, O1, O2}, {K0, K1, K2}, {S0, S1, S2}, {P0, P1, P2}, {D0, D1, D2}}

/* The input range [*lo, *hi) the window of output o covers along one dim (before clipping for modes 0/1). */
inline void window_range(const int mode, const int o, const int I, const int O, const int K, const int S,
                         const int P, const int D, int *lo, int *hi)
{
    if (mode >= 2) {
        *lo = o * I / O;
        *hi = ((o + 1) * I + O - 1) / O;
    } else {
        *lo = o * S - P;
        *hi = *lo + (K - 1) * D + 1;
    }
}

/* The outputs [*lo, *hi] whose windows may contain input position i along one dim. */
inline void output_range(const int mode, const int i, const int I, const int O, const int K, const int S,
                         const int P, const int D, int *lo, int *hi)
{
    if (mode >= 2 && O == 1) {  /* global pooling along this dim: no divisions */
        *lo = 0;
        *hi = 0;
        return;
    }
    if (mode >= 2) {
        *lo = i * O / I;
        *hi = ((i + 1) * O + I - 1) / I - 1;
    } else {
        const int reach = i + P - (K - 1) * D;
        *lo = reach <= 0 ? 0 : (reach + S - 1) / S;
        *hi = (i + P) / S;
    }
    *lo = max(*lo, 0);
    *hi = min(*hi, O - 1);
}

/* PyTorch's average-pool divisor for the window starting at (a0, a1, a2). */
inline int avg_divisor(const geom_t *g, const int *start, const int count_include_pad, const int divisor_override)
{
    if (divisor_override) return divisor_override;
    int full = 1, clipped = 1;
    for (int d = 0; d < 3; ++d) {
        const int end = min(start[d] + g->k[d], g->size[d] + g->p[d]);
        full *= end - start[d];
        clipped *= min(end, g->size[d]) - max(start[d], 0);
    }
    return count_include_pad ? full : clipped;
}

__kernel void window_forward(${sig["window_forward"]})
{
    const int t = get_global_id(0);
    if (t >= n) return;
    GEOM_INIT;
    const int o[3] = {(t / (O2 * O1)) % O0, (t / O2) % O1, t % O2};
    const int nc = t / (O0 * O1 * O2);
    const int base = x_off + (nc / C) * xsN + (nc % C) * xsC;
    int lo[3], hi[3], step[3], start[3];
    for (int d = 0; d < 3; ++d) {
        window_range(mode, o[d], g.size[d], g.out[d], g.k[d], g.s[d], g.p[d], g.d[d], &lo[d], &hi[d]);
        start[d] = lo[d];
        step[d] = mode == 0 ? g.d[d] : 1;
        if (mode == 0) {  /* the first tap inside the input, on the dilation grid */
            while (lo[d] < 0) lo[d] += step[d];
        }
        lo[d] = max(lo[d], 0);
        hi[d] = min(hi[d], g.size[d]);
    }
    ${A} sum = 0;
    ${T} best = ${"-INFINITY" if floating else "(" + T + ")" + dtype_min};
    long best_at = ((long)lo[0] * I1 + lo[1]) * I2 + lo[2];
    for (int i0 = lo[0]; i0 < hi[0]; i0 += step[0])
        for (int i1 = lo[1]; i1 < hi[1]; i1 += step[1])
            for (int i2 = lo[2]; i2 < hi[2]; i2 += step[2]) {
                const ${T} v = ${c.load(dtype, "x", "base + i0 * xs0 + i1 * xs1 + i2 * xs2")};
                if (mode == 0 || mode == 3) {
                    if (v > best${" || isnan(v)" if floating else ""}) {
                        best = v;
                        best_at = ((long)i0 * I1 + i1) * I2 + i2;
                    }
                } else {
                    sum += (${A})v;
                }
            }
    if (mode == 0 || mode == 3) {
        ${c.store(dtype, "out", "t", "best")};
        indices[t] = best_at;
    } else {
        const int count = mode == 1 ? avg_divisor(&g, start, count_include_pad, divisor_override)
                                    : (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
        ${c.store(dtype, "out", "t", "sum / (" + A + ")count")};
    }
}

/* Output o's window along one dim as seen from input position i (inside it by construction for
   modes 0/1): its factor of the average's divisor, 0 when an adaptive window misses i. */
inline int dim_factor(const int mode, const int o, const int i, const int I, const int O, const int K,
                      const int S, const int P, const int count_include_pad)
{
    if (mode >= 2 && O == 1)
        return mode == 2 ? I : 1;
    if (mode == 2) {
        const int a = o * I / O, b = ((o + 1) * I + O - 1) / O;
        return (a <= i && i < b) ? b - a : 0;
    }
    if (mode == 1) {
        const int start = o * S - P, end = min(start + K, I + P);
        return count_include_pad ? end - start : min(end, I) - max(start, 0);
    }
    if (mode == 3) {
        const int a = o * I / O, b = ((o + 1) * I + O - 1) / O;
        return (a <= i && i < b) ? 1 : 0;
    }
    return 1;
}

__kernel void window_backward(${sig["window_backward"]})
{
    const int t = get_global_id(0);
    if (t >= n) return;
    const int i0 = (t / (I2 * I1)) % I0, i1 = (t / I2) % I1, i2 = t % I2;
    const int nc = t / (I0 * I1 * I2);
    const int gbase = g_off + (nc / C) * gsN + (nc % C) * gsC;
    const int ibase = nc * O0 * O1 * O2;
    const long here = ((long)i0 * I1 + i1) * I2 + i2;
    const int by_index = mode == 0 || mode == 3;
    int lo0, hi0, lo1, hi1, lo2, hi2;
    output_range(mode, i0, I0, O0, K0, S0, P0, D0, &lo0, &hi0);
    output_range(mode, i1, I1, O1, K1, S1, P1, D1, &lo1, &hi1);
    output_range(mode, i2, I2, O2, K2, S2, P2, D2, &lo2, &hi2);
    ${A} acc = 0;
    /* the per-dim factors are hoisted to their loop level: the divisor is a product over dims */
    for (int o0 = lo0; o0 <= hi0; ++o0) {
        const int f0 = dim_factor(mode, o0, i0, I0, O0, K0, S0, P0, count_include_pad);
        if (f0 == 0) continue;
        for (int o1 = lo1; o1 <= hi1; ++o1) {
            const int f1 = f0 * dim_factor(mode, o1, i1, I1, O1, K1, S1, P1, count_include_pad);
            if (f1 == 0) continue;
            for (int o2 = lo2; o2 <= hi2; ++o2) {
                const int f = f1 * dim_factor(mode, o2, i2, I2, O2, K2, S2, P2, count_include_pad);
                if (f == 0) continue;
                const ${A} gv = (${A})${c.load(dtype, "grad", "gbase + o0 * gs0 + o1 * gs1 + o2 * gs2")};
                if (by_index) {
                    if (indices[ibase + (o0 * O1 + o1) * O2 + o2] == here) acc += gv;
                } else {
                    acc += gv / (${A})(mode == 1 && divisor_override ? divisor_override : f);
                }
            }
        }
    }
    ${c.store(dtype, "grad_in", "t", "acc")};
}
% else:
<%
    # PyTorch's opmath: half and bfloat16 blend in float and round once
    A = "double" if dtype.name == "float64" else "float"
    TAPS = {"nearest": 1, "nearest_exact": 1, "linear": 2, "cubic": 4}[interp]
    nearest = TAPS == 1
    # the scale's type per kernel: PyTorch's nearest_idx rule (2-d forward, every backward) uses float
    SF = "float" if nearest and nd == 2 else A
    SB = "float" if nearest else A
    dims = range(nd)
%>
/* PyTorch's index arithmetic is reproduced operation by operation: no implicit contraction into
   fused multiply-adds; the fma() calls are those PyTorch's x86 build contracts to (in its
   vectorised forward kernels and the linear backward; its bicubic backward is compiled plainly). */
#pragma OPENCL FP_CONTRACT OFF

inline ${A} cubic_near(const ${A} x)  /* |x| <= 1, A = -0.75 */
{
    const ${A} a = -0.75;
    return ((a + 2) * x - (a + 3)) * x * x + 1;
}

inline ${A} cubic_far(const ${A} x, const int fused)  /* 1 < |x| < 2 */
{
    const ${A} a = -0.75;
    return fused ? fma(fma(a, x, -5 * a), x, 8 * a) * x - 4 * a : ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

<%def name="tap_function(fname, S, nearest_rule, fused, stored_weights)">
/* The input positions idx[] (clamped, ascending) output o reads along one dim, and their weights. */
inline void ${fname}(const int o, const int I, const int O, const ${S} scale, const int align, int *idx, ${A} *w)
{
% if interp == "nearest" and nearest_rule == "indices":
    /* compute_indices_weights_nearest (1-d and 3-d forward) */
    idx[0] = min((int)floor((float)(scale * (${S})o)), I - 1);
% elif interp == "nearest":
    /* nearest_idx: exact shortcuts for scale 1 and 2 */
    idx[0] = O == I ? o : O == 2 * I ? o >> 1 : min((int)floor((float)o * scale), I - 1);
% elif interp == "nearest_exact" and nearest_rule == "indices":
    /* compute_indices_weights_nearest_exact */
    const ${S} r = max(scale * ((${S})o + (${S})0.5) - (${S})0.5, (${S})0);
    idx[0] = min((int)floor((float)(r + (${S})0.5)), I - 1);
% elif interp == "nearest_exact":
    /* nearest_exact_idx */
    idx[0] = min((int)floor(((float)o + 0.5f) * scale), I - 1);
% elif interp == "linear":
    if (I == O) {
        idx[0] = idx[1] = o;
        w[0] = 1;
        w[1] = 0;
        return;
    }
    const ${A} r = align ? scale * (${A})o : max(fma(scale, (${A})o + (${A})0.5, (${A})-0.5), (${A})0);
    const int i0 = min((int)floor((float)r), I - 1);
    const ${A} lambda = min(max(r - (${A})i0, (${A})0), (${A})1);
    idx[0] = i0;
    idx[1] = i0 + (i0 < I - 1);
% if stored_weights:
    w[1] = as_stored(lambda);
    w[0] = as_stored(1 - w[1]);
% else:
    w[0] = 1 - lambda;
    w[1] = lambda;
% endif
% else:
    /* bicubic: no clamp of the source index; the taps clamp to the border instead */
    const ${A} r = align ? scale * (${A})o : ${f"fma(scale, ({A})o + ({A})0.5, ({A})-0.5)" if fused else f"scale * (({A})o + ({A})0.5) - ({A})0.5"};
    const int i0 = min((int)floor((float)r), I - 1);
    const ${A} t = min(max(r - (${A})i0, (${A})0), (${A})1);
    w[0] = cubic_far(t + 1, ${int(fused)});
    w[1] = cubic_near(t);
    w[2] = cubic_near(1 - t);
    w[3] = cubic_far((1 - t) + 1, ${int(fused)});
% if stored_weights:
    for (int k = 0; k < 4; ++k)
        w[k] = as_stored(w[k]);
% endif
    for (int k = 0; k < 4; ++k)
        idx[k] = clamp(i0 + k - 1, 0, I - 1);
% endif
% if nearest:
    w[0] = 1;
% endif
}
</%def>
<%
    # PyTorch's separable forward (every linear but the 2-d one, every cubic) keeps its weights in the
    # tensor's own dtype: a 16-bit type's weights are rounded to it before the float blend
    stored = dtype.name in ("float16", "bfloat16") and (interp == "cubic" or (interp == "linear" and nd != 2))
%>
% if stored:
inline float as_stored(const float v)  /* v rounded to the tensor's 16-bit type */
{
%     if dtype.name == "float16":
    ushort bits;
    vstore_half_rte(v, 0, (__private half *)&bits);
    return vload_half(0, (__private const half *)&bits);
%     else:
    return bf16_load(bf16_round(v));
%     endif
}
% endif
${tap_function("forward_taps", SF, "indices" if nd != 2 else "nearest_idx", True, stored)}
<%def name="blend(d)">
<% x_at = "base" + "".join(f" + idx{e}[k{e}] * xs{e}" for e in dims) %>
for (int k${d} = 0; k${d} < ${TAPS}; ++k${d}) {
% if d == nd - 1:
    sum${d} += w${d}[k${d}] * (${A})${c.load(dtype, "x", x_at)};
% else:
    ${A} sum${d + 1} = 0;
    ${blend(d + 1)}
    sum${d} += w${d}[k${d}] * sum${d + 1};
% endif
}
</%def>
<%def name="gather(d)">
<% g_at = "base" + "".join(f" + o{e} * gs{e}" for e in dims) %>
for (int o${d} = lo${d}; o${d} < hi${d}; ++o${d}) {
% if nearest:
    const ${A} f${d} = 1;
% else:
    const ${A} f${d} = ${f"f{d - 1} * " if d else ""}weight_at(o${d}, i${d}, I${d}, O${d}, scale${d}, align);
% endif
% if d == nd - 1:
    acc += f${d} * (${A})${c.load(dtype, "grad", g_at)};
% else:
    ${gather(d + 1)}
% endif
}
</%def>
${tap_function("backward_taps", SB, "nearest_idx", interp != "cubic", False)}

__kernel void interp_forward(${sig["interp_forward"]})
{
    const int t = get_global_id(0);
    if (t >= n) return;
    int rest = t;
    % for d in reversed(dims):
    const int o${d} = rest % O${d};
    rest /= O${d};
    int idx${d}[${TAPS}];
    ${A} w${d}[${TAPS}];
    forward_taps(o${d}, I${d}, O${d}, scale${d}, align, idx${d}, w${d});
    % endfor
    const int base = x_off + (rest / C) * xsN + (rest % C) * xsC;
    const int at = (rest / C) * osN + (rest % C) * osC${"".join(f" + o{d} * os{d}" for d in dims)};
% if nearest:
    ${c.store(dtype, "out", "at", c.load(dtype, "x", "base" + "".join(f" + idx{d}[0] * xs{d}" for d in dims)))};
% else:
    /* the last dim blends innermost, as PyTorch's separable kernels */
    ${A} sum0 = 0;
    ${blend(0)}
    ${c.store(dtype, "out", "at", "sum0")};
% endif
}

/* The first output in [0, O) whose last tap reaches i (past_i = 0) or whose first tap lies beyond i
   (past_i = 1): the taps are ascending in the output, so a binary search finds it. */
inline int first_output(const int i, const int I, const int O, const ${SB} scale, const int align, const int past_i)
{
    int lo = 0, hi = O;
    while (lo < hi) {
        const int mid = lo + (hi - lo) / 2;
        int idx[${TAPS}];
        ${A} w[${TAPS}];
        backward_taps(mid, I, O, scale, align, idx, w);
        if (past_i ? idx[0] > i : idx[${TAPS - 1}] >= i)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The summed weight of output o's taps at input position i (clamped taps can repeat a position). */
inline ${A} weight_at(const int o, const int i, const int I, const int O, const ${SB} scale, const int align)
{
    int idx[${TAPS}];
    ${A} w[${TAPS}];
    backward_taps(o, I, O, scale, align, idx, w);
    ${A} total = 0;
    for (int k = 0; k < ${TAPS}; ++k)
        if (idx[k] == i) total += w[k];
    return total;
}

__kernel void interp_backward(${sig["interp_backward"]})
{
    const int t = get_global_id(0);
    if (t >= n) return;
    int rest = t;
    % for d in reversed(dims):
    const int i${d} = rest % I${d};
    rest /= I${d};
    const int lo${d} = first_output(i${d}, I${d}, O${d}, scale${d}, align, 0);
    const int hi${d} = first_output(i${d}, I${d}, O${d}, scale${d}, align, 1);
    % endfor
    const int base = g_off + (rest / C) * gsN + (rest % C) * gsC;
    ${A} acc = 0;
    ${gather(0)}
    ${c.store(dtype, "grad_in", "t", "acc")};
}
% endif
