<%doc>
Counter-based random numbers (Philox4x32-10, Salmon et al. 2011): element i of a draw uses
counter (offset + i), key = seed, so a seed gives the same numbers on every device and for
every launch geometry. `dist` picks the transform of the raw 32-bit words.
</%doc>
${c.preamble([out_dtype])}
<% SAMPLERS = ("gamma", "poisson", "binomial", "von_mises", "gamma_grad") %>

inline uint4 philox4x32_10(uint4 ctr, uint2 key)
{
    // NOTE: scalar words and 64-bit products: PoCL vectorises this across work-items, but not
    // uint4 arithmetic or mul_hi (5x slower, measured); the numbers are the same
    uint c0 = ctr.x, c1 = ctr.y, c2 = ctr.z, c3 = ctr.w, k0 = key.x, k1 = key.y;
    for (int r = 0; r < 10; ++r) {
        const ulong p0 = (ulong)0xD2511F53u * c0, p1 = (ulong)0xCD9E8D57u * c2;
        c0 = (uint)(p1 >> 32) ^ c1 ^ k0;
        c1 = (uint)p1;
        c2 = (uint)(p0 >> 32) ^ c3 ^ k1;
        c3 = (uint)p0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return (uint4)(c0, c1, c2, c3);
}

% if dist in SAMPLERS:
<%doc>
Samplers with a per-element parameter and a rejection loop (gamma, poisson, binomial, von Mises), and the
reparameterised gradient of gamma draws. Element i draws its k-th block of four words from
counter (offset + i, k + 1): the third counter word keeps it apart from the single-block
draws above (which use k = 0) and from every other element.
</%doc>
typedef struct { uint c0, c1, k0, k1, round; } stream_t;

inline uint4 next_block(stream_t *s)
{
    s->round += 1u;
    return philox4x32_10((uint4)(s->c0, s->c1, s->round, 0u), (uint2)(s->k0, s->k1));
}

// a uniform number in (0, 1]: never 0, so that its log is finite
inline ${T} uniform_open(stream_t *s)
{
    const uint4 r = next_block(s);
% if T == "double":
    return ((double)(((ulong)(r.x >> 5) << 26) | (ulong)(r.y >> 6)) + 1.0) * (1.0 / 9007199254740992.0);
% else:
    return ((float)(r.x >> 8) + 1.0f) * (1.0f / 16777216.0f);
% endif
}

// a standard normal number (Box-Muller on one block)
inline ${T} standard_normal(stream_t *s)
{
    const uint4 r = next_block(s);
% if T == "double":
    const double u1 = ((double)(((ulong)(r.x >> 5) << 26) | (ulong)(r.y >> 6)) + 1.0) * (1.0 / 9007199254740992.0);
    const double u2 = (double)(((ulong)(r.z >> 5) << 26) | (ulong)(r.w >> 6)) * (1.0 / 9007199254740992.0);
% else:
    const float u1 = ((float)(r.x >> 8) + 1.0f) * (1.0f / 16777216.0f);
    const float u2 = (float)(r.z >> 8) * (1.0f / 16777216.0f);
% endif
    return sqrt((${T})-2 * log(u1)) * cospi((${T})2 * u2);
}

// Marsaglia and Tsang (2000), "A simple method for generating gamma variables", with the
// alpha < 1 boost Gamma(a) = Gamma(a + 1) * U^(1/a) from the same paper
inline ${T} sample_gamma(${T} alpha, stream_t *s)
{
    if (!(alpha > 0)) return (alpha == 0) ? 0 : NAN;   // NaN and negative concentrations give NaN
    ${T} scale = 1;
    if (alpha < 1) {
        scale = pow(uniform_open(s), 1 / alpha);
        alpha += 1;
    }
    const ${T} d = alpha - (${T})1 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        ${T} x, y;
        do {
            x = standard_normal(s);
            y = 1 + c * x;
        } while (y <= 0);
        const ${T} v = y * y * y, u = uniform_open(s), xx = x * x;
        if (u < 1 - (${T})0.0331 * xx * xx || log(u) < (${T})0.5 * xx + d * (1 - v + log(v)))
            return scale * d * v;
    }
}

// Poisson: products of uniforms (Knuth) below rate 10, else Hormann's (1993) transformed
// rejection with squeeze, "The transformed rejection method for generating Poisson random variables"
inline ${T} sample_poisson(${T} lambda, stream_t *s)
{
    if (!(lambda >= 0)) return NAN;
    if (lambda == 0) return 0;
    if (lambda < 10) {
        const ${T} threshold = exp(-lambda);
        ${T} product = uniform_open(s), count = 0;
        while (product > threshold) {
            product *= uniform_open(s);
            count += 1;
        }
        return count;
    }
    const ${T} sqrt_lambda = sqrt(lambda), log_lambda = log(lambda);
    const ${T} b = (${T})0.931 + (${T})2.53 * sqrt_lambda, a = (${T})-0.059 + (${T})0.02483 * b;
    const ${T} inv_alpha = (${T})1.1239 + (${T})1.1328 / (b - (${T})3.4), v_r = (${T})0.9277 - (${T})3.6224 / (b - 2);
    for (;;) {
        const ${T} u = uniform_open(s) - (${T})0.5, v = uniform_open(s), us = (${T})0.5 - fabs(u);
        const ${T} k = floor((2 * a / us + b) * u + lambda + (${T})0.43);
        if (us >= (${T})0.07 && v <= v_r) return k;
        if (k < 0 || (us < (${T})0.013 && v > us)) continue;
        if (log(v) + log(inv_alpha) - log(a / (us * us) + b) <= -lambda + k * log_lambda - lgamma(k + 1))
            return k;
    }
}

// successes among n trials of probability p <= 1/2 with n p < 10: count the geometric waiting
// times (failures before each success, plus one) that fit in n trials
inline ${T} binomial_inversion(${T} n, ${T} p, stream_t *s)
{
    const ${T} log_q = log1p(-p);
    ${T} trials = 0, successes = 0;
    for (;;) {
        trials += ceil(log(uniform_open(s)) / log_q);
        if (trials > n) return successes;
        successes += 1;
    }
}

// n p >= 10, p <= 1/2: Hormann's (1993) BTRS, "The generation of binomial random variates"
inline ${T} binomial_btrs(${T} n, ${T} p, stream_t *s)
{
    const ${T} q = 1 - p, spq = sqrt(n * p * q);
    const ${T} b = (${T})1.15 + (${T})2.53 * spq, a = (${T})-0.0873 + (${T})0.0248 * b + (${T})0.01 * p;
    const ${T} c = n * p + (${T})0.5, v_r = (${T})0.92 - (${T})4.2 / b;
    const ${T} alpha = ((${T})2.83 + (${T})5.1 / b) * spq, log_odds = log(p / q);
    const ${T} m = floor((n + 1) * p), h = lgamma(m + 1) + lgamma(n - m + 1);
    for (;;) {
        const ${T} u = uniform_open(s) - (${T})0.5, v = uniform_open(s), us = (${T})0.5 - fabs(u);
        const ${T} k = floor((2 * a / us + b) * u + c);
        if (k < 0 || k > n) continue;
        if (us >= (${T})0.07 && v <= v_r) return k;
        if (log(v * alpha / (a / (us * us) + b)) <= h - lgamma(k + 1) - lgamma(n - k + 1) + (k - m) * log_odds)
            return k;
    }
}

inline ${T} sample_binomial(${T} n, ${T} p, stream_t *s)
{
    if (!(n >= 0) || !(p >= 0 && p <= 1)) return NAN;
    if (n == 0 || p == 0) return 0;
    if (p == 1) return n;
    const ${T} q = (p <= (${T})0.5) ? p : 1 - p;
    const ${T} k = (n * q >= 10) ? binomial_btrs(n, q, s) : binomial_inversion(n, q, s);
    return (p <= (${T})0.5) ? k : n - k;
}

// von Mises angles around 0 of concentration kappa: Best and Fisher (1979), "Efficient simulation
// of the von Mises distribution", wrapped-Cauchy envelope of parameter rho; rho written without
// the cancellation of (tau - sqrt(2 tau)) / (2 kappa) at small kappa
inline ${T} sample_von_mises(${T} kappa, stream_t *s)
{
    if (!(kappa >= 0)) return NAN;
    const ${T} root = sqrt(1 + 4 * kappa * kappa), tau = 1 + root;
    const ${T} rho = 2 * kappa * tau / ((root + 1) * (tau + sqrt(2 * tau)));
    if (rho < ${"(double)1e-12" if T == "double" else "1e-6f"})
        return M_PI * (2 * uniform_open(s) - 1);   // kappa ~ 0: uniform on the circle
    const ${T} r = (1 + rho * rho) / (2 * rho);
    for (;;) {
        const ${T} z = cospi(uniform_open(s)), u2 = uniform_open(s);
        const ${T} f = (1 + r * z) / (r + z), c = kappa * (r - f);
        if (c * (2 - c) - u2 > 0 || log(c / u2) + 1 - c >= 0) {
            const ${T} theta = acos(clamp(f, (${T})-1, (${T})1));
            return (uniform_open(s) < (${T})0.5) ? -theta : theta;
        }
    }
}

// digamma for x > 0: the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 6, then the asymptotic series
inline ${T} digamma_positive(${T} x)
{
    ${T} shift = 0;
    while (x < 6) {
        shift -= 1 / x;
        x += 1;
    }
    const ${T} z = 1 / (x * x);
    return shift + log(x) - (${T})0.5 / x
           - z * ((${T})1 / 12 - z * ((${T})1 / 120 - z * ((${T})1 / 252 - z * ((${T})1 / 240 - z / 132))));
}

// d(sample)/d(alpha) of a standard gamma draw x, -(dP(alpha, x)/dalpha) / pdf(x; alpha) (the
// implicit reparameterisation). Differentiating P's series x^a e^-x sum_n x^n / Gamma(a + n + 1)
// term by term and dividing by the pdf gives -sum_n r_n (log x - psi(a + n + 1)), r_n = prod_{j<=n} x/(a+j).
// Above the median of a large alpha its terms cancel (1e-3 off in float at alpha = 100, measured);
// there the derivative of the Wilson-Hilferty transform a (1 - 1/(9a) + z/(3 sqrt a))^3 at fixed z
// is within 5e-4 from alpha = 50 on, and closer as alpha grows.
inline ${T} standard_gamma_grad(${T} a, ${T} x)
{
    if (a >= 50 && x > a) {
        const ${T} g = cbrt(x / a), z_over_2a = (g - 1 + 1 / (9 * a)) * (${T})1.5;
        return g * g * (g + 1 / (3 * a) - z_over_2a);
    }
    const ${T} log_x = log(x);
    ${T} psi = digamma_positive(a) + 1 / a, r = x / a, sum = 0;
    for (int k = 1; k < 100000; ++k) {
        const ${T} term = r * (log_x - psi);
        sum += term;
        if (a + k > x && r <= (${T})1e-10 * fabs(sum)) break;
        psi += 1 / (a + k);
        r *= x / (a + k);
    }
    return isnan(sum) ? 0 : -sum;
}

__kernel void ${kname}(${sig[kname]})
{
    const long i = get_global_id(0);
    if (i >= n) return;
    const ulong ctr = offset + (ulong)i;
    stream_t s = {(uint)ctr, (uint)(ctr >> 32), (uint)seed, (uint)(seed >> 32), 0u};
% if dist == "gamma":
    // NOTE: the smallest normal number instead of 0 (as PyTorch), so that log(sample) stays finite;
    // NaN (from a NaN or negative concentration) stays NaN
    const ${T} g = sample_gamma(${c.load(out_dtype, "p0", "i")}, &s);
    const ${T} v = isnan(g) ? g : fmax(g, ${"DBL_MIN" if T == "double" else "FLT_MIN"});
% elif dist == "poisson":
    const ${T} v = sample_poisson(${c.load(out_dtype, "p0", "i")}, &s);
% elif dist == "von_mises":
    const ${T} v = sample_von_mises(${c.load(out_dtype, "p0", "i")}, &s);
% elif dist == "gamma_grad":
    const ${T} v = standard_gamma_grad(${c.load(out_dtype, "p0", "i")}, ${c.load(out_dtype, "p1", "i")});
% elif dist == "binomial":
    const ${T} v = sample_binomial(${c.load(out_dtype, "p0", "i")}, ${c.load(out_dtype, "p1", "i")}, &s);
% endif
    ${c.store(out_dtype, "out", "i", "v")};
}
% else:
__kernel void ${kname}(${sig[kname]})
{
    const long i = get_global_id(0);
    if (i >= n) return;
    const ulong ctr = offset + (ulong)i;
    const uint4 r = philox4x32_10((uint4)((uint)ctr, (uint)(ctr >> 32), 0u, 0u),
                                  (uint2)((uint)seed, (uint)(seed >> 32)));
% if T == "double":
    const double u = (double)(((ulong)(r.x >> 5) << 26) | (ulong)(r.y >> 6)) * (1.0 / 9007199254740992.0);
    const double u_open = ((double)(((ulong)(r.z >> 5) << 26) | (ulong)(r.w >> 6)) + 1.0) * (1.0 / 9007199254740992.0);
% elif out_dtype.name == "bfloat16":
    const float u = (float)(r.x >> 24) * (1.0f / 256.0f);
    const float u_open = ((float)(r.z >> 8) + 1.0f) * (1.0f / 16777216.0f);
% elif out_dtype.name == "float16":
    const float u = (float)(r.x >> 21) * (1.0f / 2048.0f);
    const float u_open = ((float)(r.z >> 8) + 1.0f) * (1.0f / 16777216.0f);
% else:
    const ${T} u = (${T})(r.x >> 8) * (${T})(1.0f / 16777216.0f);
    const ${T} u_open = ((${T})(r.z >> 8) + (${T})1) * (${T})(1.0f / 16777216.0f);
% endif
% if dist == "uniform":
    const ${T} v = p0 + (p1 - p0) * u;
% elif dist == "normal":
    const ${T} v = p0 + p1 * sqrt((${T})-2 * log(u_open)) * cospi((${T})2 * u);
% elif dist == "randint":
    const ulong span = (ulong)(p1 - p0);
    const ulong bits = ((ulong)r.x << 32) | (ulong)r.y;
    const ${T} v = p0 + (${T})(bits % span);
% elif dist == "bernoulli":
    const ${T} v = (u < p0) ? 1 : 0;
% endif
    ${c.store(out_dtype, "out", "out_off + i", "v")};
}
% endif
