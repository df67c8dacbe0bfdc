<%doc>
Counter-based random numbers (Philox4x32-10, Salmon et al. 2011): element i of a draw uses
counter (offset + i), key = seed, so a seed gives the same numbers on every device and for
every launch geometry. `dist` picks the transform of the raw 32-bit words.
</%doc>
${c.preamble([out_dtype])}

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

__kernel void ${kname}(const long n, __global ${out_dtype.c} *out, const long out_off,
                       const ulong seed, const ulong offset, const ${T} p0, const ${T} p1)
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
