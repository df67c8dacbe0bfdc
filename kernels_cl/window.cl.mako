<%doc>
The window family: pooling forward and backward over (N, C, D0, D1, D2) geometry (1-d and 2-d
inputs are launched with leading spatial extents of 1). Only the dtype is a template parameter;
the pooling kind (`mode`) and all geometry are kernel arguments, so one program per dtype serves
max, average and adaptive pooling of every shape, rank and window.
  mode 0 max (dilated window, saves the argmax as PyTorch's flat spatial index)
  mode 1 average (count_include_pad, divisor_override)
  mode 2 adaptive average, mode 3 adaptive max
The backward is a gather: one work-item per input element visits the outputs whose windows can
contain it, so no atomics and no races. The input is read through strides (channels_last works).
</%doc>
<%
    T = dtype.compute_c
    floating = dtype.is_floating_point
    # accumulator: integer averages truncate their quotient, as PyTorch's
    A = ("double" if dtype.name == "float64" else "float") if floating else "long"
%>
${c.preamble([dtype])}
typedef struct { int size[3], out[3], k[3], s[3], p[3], d[3]; } geom_t;

#define GEOM_ARGS const int C, const int I0, const int I1, const int I2, const int O0, const int O1, \
    const int O2, const int K0, const int K1, const int K2, const int S0, const int S1, const int S2, \
    const int P0, const int P1, const int P2, const int D0, const int D1, const int D2, const int mode, \
    const int count_include_pad, const int divisor_override
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

__kernel void window_forward(const int n, GEOM_ARGS,
    __global const ${dtype.c} *x, const int x_off, const int xsN, const int xsC, const int xs0, const int xs1,
    const int xs2, __global ${dtype.c} *out, __global long *indices)
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

__kernel void window_backward(const int n, GEOM_ARGS,
    __global const ${dtype.c} *grad, const int g_off, const int gsN, const int gsC, const int gs0, const int gs1,
    const int gs2, __global const long *indices, __global ${dtype.c} *grad_in)
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
