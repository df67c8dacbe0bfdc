<%doc>
The FFT family: a Stockham autosort FFT (one launch per radix-2/3/4/5/7/8 pass, radix 1 being a plain
strided copy for length-1 transforms) and Bluestein's chirp-z kernels for lengths with larger prime
factors. Only the real type T (float or double) is a template parameter; lengths, strides, direction
and the load/store modes are kernel arguments, so one program per dtype serves every transform.

Complex numbers are interleaved (re, im) pairs of T; every pointer is a T* and every offset or stride
counts T elements, so a complex tensor's view_as_real and a real tensor are read the same way.

Every pass reads its input and writes its output through an IO description (the `io` arguments of
ops/fft.py's _signatures): up to four batch dims (sizes shared by input and output, strides of each)
and the stride of the transformed dim.
The first pass reads the user's tensor (any strides) and the last writes the result, so no copies
are made; passes in between use contiguous work buffers. The first pass's load may
  in_mode 0: read complex values, i >= in_n reads as zero (zero-padding to the transform length)
  in_mode 1: read real values (imaginary part zero), padded likewise
  in_mode 2: read the first in_n values of a one-sided Hermitian spectrum and extend it by symmetry
and conjugate them (conj_in). The last pass's store keeps the outputs k < out_keep, scales them,
conjugates them (conj_out), doubles the entries 1 <= k <= dbl_hi (the gradient of a one-sided
spectrum) and writes either the complex value or only its real part (out_real).

Twiddles come from a table of exp(-2 pi i j / N), each entry computed from the exact fraction j / N
with sinpi/cospi (never by repeated multiplication), so float32 errors grow like log(n), not like n.
</%doc>
<%
    T = dtype.c
    T2 = T + "2"
    import math
    def lit(v):
        return repr(float(v)) + ("" if T == "double" else "f")
%>
${c.preamble([dtype])}

/* The offsets of batch item b (B3 fastest) in the input and the output. */
#define BATCH_OFFSETS(b) \
    int in_b = in_off, out_b = out_off; \
    { int rest = (b); \
      const int c3 = rest % B3; rest /= B3; const int c2 = rest % B2; rest /= B2; \
      const int c1 = rest % B1; const int c0 = rest / B1; \
      in_b += c0 * is0 + c1 * is1 + c2 * is2 + c3 * is3; \
      out_b += c0 * os0 + c1 * os1 + c2 * os2 + c3 * os3; }

#define LOAD(i) load_value(in, in_b, (i), N, in_stride, in_n, in_mode, conj_in)
#define STORE(k, v) store_value(out, out_b, (k), N, (v), out_stride, out_keep, out_real, conj_out, scale, dbl_hi)

inline ${T2} cmul(const ${T2} a, const ${T2} b)
{
    return (${T2})(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

/* exp(i * pi * num / den) for 0 <= num < 2 * den; the fraction is reduced to [-1, 1] first. */
inline ${T2} expi_pi(const long num, const long den)
{
    const long m = num > den ? num - 2 * den : num;
    const ${T} f = (${T})m / (${T})den;
    return (${T2})(cospi(f), sinpi(f));
}

inline ${T2} load_value(__global const ${T} *in, const int base, const int i, const int N, const int stride,
                        const int n_valid, const int mode, const int conj_in)
{
    int src = i;
    int mirrored = 0;
    if (mode == 2 && i > N / 2) {  /* the upper half of a Hermitian spectrum: conj(x[N - i]) */
        src = N - i;
        mirrored = 1;
    }
    ${T2} v = (${T2})(0, 0);
    if (src < n_valid) {
        const int o = base + src * stride;
        v.x = in[o];
        v.y = mode == 1 ? (${T})0 : in[o + 1];
    }
    if (mirrored != conj_in)
        v.y = -v.y;
    return v;
}

inline void store_value(__global ${T} *out, const int base, const int k, const int N, ${T2} v, const int stride,
                        const int keep, const int out_real, const int conj_out, const ${T} scale, const int dbl_hi)
{
    if (k >= keep)
        return;
    ${T} s = scale;
    if (k >= 1 && k <= dbl_hi)
        s *= (${T})2;
    const int o = base + k * stride;
    out[o] = v.x * s;
    if (!out_real)
        out[o + 1] = (conj_out ? -v.y : v.y) * s;
}

% for R in (1, 2, 3, 4, 5, 7, 8):
/* In place DFT of a[0..${R - 1}] with exp(sign * 2 pi i r m / ${R}). */
inline void dft_${R}(${T2} *a, const int sign)
{
% if R == 2:
    const ${T2} t = a[0] - a[1];
    a[0] += a[1];
    a[1] = t;
% elif R == 4:
    const ${T2} t0 = a[0] + a[2], t1 = a[0] - a[2], t2 = a[1] + a[3];
    const ${T2} d = a[1] - a[3];
    const ${T2} t3 = (${T2})(-d.y, d.x) * (${T})sign;  /* (a1 - a3) * sign * i */
    a[0] = t0 + t2;
    a[2] = t0 - t2;
    a[1] = t1 + t3;
    a[3] = t1 - t3;
% elif R == 8:
    /* two radix-4 DFTs (even and odd inputs) joined by the twiddles exp(sign 2 pi i m / 8) */
    ${T2} e[4] = {a[0], a[2], a[4], a[6]}, o[4] = {a[1], a[3], a[5], a[7]};
    dft_4(e, sign);
    dft_4(o, sign);
    const ${T} h = ${lit(math.sqrt(0.5))}, sg = (${T})sign;
    o[1] = (${T2})(o[1].x - sg * o[1].y, o[1].y + sg * o[1].x) * h;   /* (1 + sign i) / sqrt 2 */
    o[2] = (${T2})(-sg * o[2].y, sg * o[2].x);                          /* sign i */
    o[3] = (${T2})(-o[3].x - sg * o[3].y, -o[3].y + sg * o[3].x) * h;  /* (-1 + sign i) / sqrt 2 */
% for m in range(4):
    a[${m}] = e[${m}] + o[${m}];
    a[${m + 4}] = e[${m}] - o[${m}];
% endfor
% elif R > 2:
<%
    half = (R - 1) // 2
    cos_of = lambda k: lit(math.cos(2 * math.pi * k / R))
    sin_of = lambda k: lit(math.sin(2 * math.pi * k / R))
%>\
    /* X[m] = a0 + sum over pairs r, R - r of (a_r + a_{R-r}) cos + sign * i (a_r - a_{R-r}) sin */
    ${T2} s[${half + 1}], d[${half + 1}];
% for r in range(1, half + 1):
    s[${r}] = a[${r}] + a[${R - r}];
    d[${r}] = a[${r}] - a[${R - r}];
    d[${r}] = (${T2})(-d[${r}].y, d[${r}].x) * (${T})sign;  /* (a_r - a_{R-r}) * sign * i */
% endfor
    const ${T2} a0 = a[0];
% for m in range(0, R):
% if m == 0:
    a[0] = a0${"".join(f" + s[{r}]" for r in range(1, half + 1))};
% else:
    a[${m}] = a0${"".join(f" + s[{r}] * {cos_of(r * m)} + d[{r}] * {sin_of(r * m)}" for r in range(1, half + 1))};
% endif
% endfor
% endif
}

/* The butterfly of one Stockham pass of radix ${R} on a[], for work-item j of a length-N transform:
   Ns is the product of the radices of the passes before (the length of the sub-transforms already
   done); the twiddles exp(-2 pi i r k / (Ns ${R})) are entries r k N / (Ns ${R}) of the table. */
inline int butterfly_${R}(${T2} *a, const int j, const int N, const int Ns, const int sign,
                          __global const ${T} *twiddles)
{
    const int k = j % Ns;
% if R > 1:
    if (k > 0) {
        const int step = N / (Ns * ${R});
% for r in range(1, R):
        ${T2} w${r} = vload2(${r} * k * step, twiddles);
        w${r}.y *= (${T})(-sign);
        a[${r}] = cmul(a[${r}], w${r});
% endfor
    }
    dft_${R}(a, sign);
% endif
    return (j / Ns) * Ns * ${R} + k;  /* where output 0 goes; output r goes Ns further each */
}

/* One pass over total = batch * N / ${R} work-items, reading and writing through the IO description. */
__kernel void fft_pass_${R}(${sig[f"fft_pass_{R}"]})
{
    const int t = get_global_id(0);
    if (t >= total)
        return;
    const int NR = N / ${R};
    const int b = t / NR, j = t - b * NR;
    BATCH_OFFSETS(b)
    ${T2} a[${R}];
% for r in range(R):
    a[${r}] = LOAD(j + ${r} * NR);
% endfor
    const int first = butterfly_${R}(a, j, N, Ns, sign, twiddles);
% for r in range(R):
    STORE(first + ${r} * Ns, a[${r}]);
% endfor
}

/* The same pass between contiguous (batch, N) complex work buffers (the passes in between). */
__kernel void fft_pass_${R}_contiguous(${sig[f"fft_pass_{R}_contiguous"]})
{
    const int t = get_global_id(0);
    if (t >= total)
        return;
    const int NR = N / ${R};
    const int b = t / NR, j = t - b * NR;
    in += (size_t)b * 2 * N;
    out += (size_t)b * 2 * N;
    ${T2} a[${R}];
% for r in range(R):
    a[${r}] = vload2(j + ${r} * NR, in);
% endfor
    const int first = butterfly_${R}(a, j, N, Ns, sign, twiddles);
% for r in range(R):
    vstore2(a[${r}], first + ${r} * Ns, out);
% endfor
}
% endfor

/* A whole transform of length N per work-group, in local memory: the row is loaded (with the plan's
   load modes), every pass runs between two local buffers (radix of pass p in bits 4p..4p+3 of
   radix_code), and the result is stored (with the plan's store modes). One launch instead of one
   per pass, for lengths whose two buffers fit in local memory. */
__kernel void fft_local(${sig["fft_local"]})
{
    const int b = get_group_id(0);
    if (b >= rows)
        return;
    const int lid = get_local_id(0), wg = get_local_size(0);
    BATCH_OFFSETS(b)
    __local ${T2} *x = buf, *y = buf + N;
    for (int i = lid; i < N; i += wg)
        x[i] = LOAD(i);
    barrier(CLK_LOCAL_MEM_FENCE);
    int ns = 1;
    for (int code = radix_code; code; code >>= 4) {
        const int r = code & 15, nr = N / r;
        for (int j = lid; j < nr; j += wg) {
            ${T2} a[8];
            switch (r) {
% for R in (2, 3, 4, 5, 7, 8):
            case ${R}: {
% for q in range(R):
                a[${q}] = x[j + ${q} * nr];
% endfor
                const int first = butterfly_${R}(a, j, N, ns, sign, twiddles);
% for q in range(R):
                y[first + ${q} * ns] = a[${q}];
% endfor
                break;
            }
% endfor
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        __local ${T2} *t = x;
        x = y;
        y = t;
        ns *= r;
    }
    for (int k = lid; k < N; k += wg)
        STORE(k, x[k]);
}

/* table[j] = exp(-2 pi i j / N), the twiddles of every pass of a length-N transform. */
__kernel void twiddle_table(${sig["twiddle_table"]})
{
    const int j = get_global_id(0);
    if (j >= N)
        return;
    vstore2(expi_pi(j ? 2 * (long)(N - j) : 0, N), j, table);
}

/* Bluestein: X[k] = w[k] * sum_j (x[j] w[j]) conj(w[k - j]) with w[m] = exp(sign * i pi m^2 / N), the
   convolution computed by power-of-two FFTs of length M >= 2N - 1. m^2 is reduced modulo 2N in
   64-bit integers, so the chirp's angle is exact before sinpi/cospi. */
inline ${T2} chirp(const int m, const int N, const int sign)
{
    const long q = ((long)m * (long)m) % (2 * (long)N);
    return expi_pi(sign < 0 && q > 0 ? 2 * (long)N - q : q, (long)N);
}

/* work[b, k] = x[b, k] w[k] for k < N, zero up to M (x read through the IO description's input). */
__kernel void chirp_in(${sig["chirp_in"]})
{
    const int t = get_global_id(0);
    if (t >= total)
        return;
    const int b = t / M, k = t - b * M;
    BATCH_OFFSETS(b)
    const ${T2} v = k < N ? cmul(LOAD(k), chirp(k, N, sign)) : (${T2})(0, 0);
    vstore2(v, t, out);
}

/* The convolution kernel conj(w[m]) for m in (-N, N), wrapped around M. */
__kernel void chirp_filter(${sig["chirp_filter"]})
{
    const int m = get_global_id(0);
    if (m >= M)
        return;
    const int dist = m < N ? m : (M - m < N ? M - m : -1);
    const ${T2} v = dist < 0 ? (${T2})(0, 0) : chirp(dist, N, -sign);
    vstore2(v, m, filter);
}

/* work[b, k] *= filter_hat[k]. */
__kernel void chirp_mul(${sig["chirp_mul"]})
{
    const int t = get_global_id(0);
    if (t >= total)
        return;
    vstore2(cmul(vload2(t, work), vload2(t % M, filter_hat)), t, work);
}

/* X[b, k] = w[k] * conv[b, k] / M, stored through the IO description's output. */
__kernel void chirp_out(${sig["chirp_out"]})
{
    const int t = get_global_id(0);
    if (t >= total)
        return;
    const int b = t / N, k = t - b * N;
    BATCH_OFFSETS(b)
    const ${T2} v = cmul(vload2((size_t)b * M + k, in), chirp(k, N, sign)) / (${T})M;
    STORE(k, v);
}
