<%doc>
Sorting rows on the device, and binary search in sorted rows (`family`: 'sort' or 'search').

sort: a bitonic network over (key, original index) pairs. Comparing the index on equal keys
makes the order total, so the result is the stable sort for any network. The network is the
"flip" form, where every comparator puts its smaller element at the lower position: a row of
length n behaves as if padded with +infinity up to the next power of two N2, and comparators
whose upper element lies past n are skipped (padding never moves), so no padding is stored.
  sort_tile    sorts (full = 1) or finishes merging (full = 0, stages j < tile) each aligned
               tile of `tile` <= TILE elements in local memory, TILE/tile tiles per work-group.
  sort_global  one stage (block k, distance j) over whole rows, for distances j >= tile.
NaN sorts after every number ascending and before every number descending (PyTorch's order).

search: searchsorted/bucketize. `right` picks upper_bound; comparisons are written as
!(s >= v) / !(s > v) so that NaN values land after every element, as in PyTorch.
</%doc>
${c.preamble(dtypes)}
% if family == "sort":
<% K = key_dtype.compute_c; is_float = key_dtype.is_floating_point %>
inline int key_less(const ${K} a, const ${K} b)  // NaN greatest
{
% if is_float:
    return a < b || (!isnan(a) && isnan(b));
% else:
    return a < b;
% endif
}

inline int before(const ${K} ka, const long ia, const ${K} kb, const long ib, const int descending)
{
    if (descending ? key_less(kb, ka) : key_less(ka, kb)) return 1;
    if (descending ? key_less(ka, kb) : key_less(kb, ka)) return 0;
    return ia < ib;
}

__kernel void sort_tile(${sig["sort_tile"]})
{
    // A work-group of TILE/2 items holds TILE/tile consecutive segments (aligned tiles of rows),
    // so short rows share a group instead of each paying for one.
    __local ${K} lk[${TILE}];
    __local long li[${TILE}];  // -1 marks padding past the end of a row
    const int lid = get_local_id(0);
    const int tile = 1 << tile_shift;
    const int lane = lid & ((tile >> 1) - 1);
    const int window = (lid >> (tile_shift - 1)) << tile_shift;
    const long first = get_group_id(0) * (${TILE} >> tile_shift);
    for (int s = 0; s < 2; ++s) {
        const int p = lid + s * ${TILE // 2};
        const long seg = first + (p >> tile_shift);
        const long row = seg / tiles_per_row;
        const long pos = (seg % tiles_per_row) * tile + (p & (tile - 1));
        const int real = seg < segments && pos < n;
        lk[p] = real ? ${c.convert(key_dtype, c.load(key_dtype, "keys", "row * n + pos"))} : (${K})0;
        li[p] = real ? (full ? pos : idx[row * n + pos]) : -1;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    // k = 2^ks is the block being merged, j = 2^js the compare distance (powers of two: shifts)
    for (int ks = full ? 1 : tile_shift; ks <= tile_shift; ++ks) {
        for (int js = (full ? ks : tile_shift) - 1; js >= 0; --js) {
            const int j = 1 << js;
            int lo, hi;
            if (full && js == ks - 1) {  // the flip stage that opens block k
                lo = window + ((lane >> js) << ks) + (lane & (j - 1));
                hi = window + ((lane >> js) << ks) + (1 << ks) - 1 - (lane & (j - 1));
            } else {
                lo = window + ((lane >> js) << (js + 1)) + (lane & (j - 1));
                hi = lo + j;
            }
            const long ilo = li[lo], ihi = li[hi];
            if (ihi >= 0 && (ilo < 0 || before(lk[hi], ihi, lk[lo], ilo, descending))) {
                const ${K} t = lk[lo];
                lk[lo] = lk[hi];
                lk[hi] = t;
                li[lo] = ihi;
                li[hi] = ilo;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        if (!full) break;
    }
    for (int s = 0; s < 2; ++s) {
        const int p = lid + s * ${TILE // 2};
        const long seg = first + (p >> tile_shift);
        const long row = seg / tiles_per_row;
        const long pos = (seg % tiles_per_row) * tile + (p & (tile - 1));
        if (seg < segments && pos < n) {
            ${c.store(key_dtype, "keys", "row * n + pos", "lk[p]")};
            idx[row * n + pos] = li[p];
        }
    }
}

__kernel void sort_global(${sig["sort_global"]})
{
    const long gid = get_global_id(0);
    if (gid >= total) return;
    const long row = gid >> pairs_shift;
    const long t = gid & ((1L << pairs_shift) - 1);
    const long j = 1L << js;
    long lo, hi;
    if (flip) {
        lo = ((t >> js) << ks) + (t & (j - 1));
        hi = ((t >> js) << ks) + (1L << ks) - 1 - (t & (j - 1));
    } else {
        lo = ((t >> js) << (js + 1)) + (t & (j - 1));
        hi = lo + j;
    }
    if (hi >= n) return;
    __global ${key_dtype.c} *rk = keys + row * n;
    __global long *ri = idx + row * n;
    const ${K} klo = ${c.convert(key_dtype, c.load(key_dtype, "rk", "lo"))};
    const ${K} khi = ${c.convert(key_dtype, c.load(key_dtype, "rk", "hi"))};
    const long ilo = ri[lo], ihi = ri[hi];
    if (before(khi, ihi, klo, ilo, descending)) {
        ${c.store(key_dtype, "rk", "lo", "khi")};
        ${c.store(key_dtype, "rk", "hi", "klo")};
        ri[lo] = ihi;
        ri[hi] = ilo;
    }
}

% elif family == "search":
<% T = compute.compute_c %>
__kernel void searchsorted(${sig["searchsorted"]})
{
    const long i = get_global_id(0);
    if (i >= n) return;
    const ${T} v = ${c.convert(compute, c.load(val_dtype, "vals", "val_off + i"))};
    const long base = seq_off + (per_row ? (i / inner) * len : 0);
    long lo = 0, hi = len;
    while (lo < hi) {
        const long mid = lo + ((hi - lo) >> 1);
        const ${T} s = ${c.convert(compute, c.load(seq_dtype, "seq", "base + mid"))};
        const int go_right = right ? !(s > v) : !(s >= v);
        if (go_right) lo = mid + 1; else hi = mid;
    }
    out[i] = (${out_dtype.c})lo;
}
% endif
