<%doc>
The dense factorisation family: per-matrix factorisations that one work-group carries out on one
matrix of a batch (group id 1 picks the matrix), in place in global memory. Every matrix is read
through (offset, row stride, column stride, batch stride), so transposed and broadcast operands
need no copy. Only the dtype (float32 or float64) is a template parameter; sizes are arguments.
  potrf  Cholesky A = L L^T of the lower triangle (left-looking, unblocked; the launcher runs it
         on the diagonal blocks of a blocked factorisation and updates the trailing matrix with
         the GEMM). info[b] gets the order of the first leading minor that is not positive-definite
         (plus `shift`, the block's place), only where it is still 0.
  getrf  LU with partial pivoting of an m x n matrix or panel (LAPACK's getf2: the first largest |a|
         is the pivot; a zero pivot sets info and skips the scaling, as LAPACK does). Pivots and
         info are 1-based rows of the whole matrix: `shift` is the panel's first row.
  laswp  applies a panel's row swaps to the columns outside it, or pivots (or their inverse) to a
         right-hand side (one work-item per column).
  trsm   B <- T^-1 B for a triangular T (lower/upper, unit diagonal or not): one work-item per
         column of B, global id 0 over columns, so left/right and transposed solves are strides.
  Local memory (pivot search) comes in as arguments sized by the launcher from the device.
</%doc>
<% T = dtype.c %>
${c.preamble([dtype])}
#define AT(p, i, j) p[(long)(i) * rs + (long)(j) * cs]

__kernel void potrf(const int n, __global ${T} *A, const long off, const long rs, const long cs, const long bs,
                    __global int *info, const int shift, __local int *ok)
{
    /* left-looking (Cholesky-Crout): column j is a dot product of rows of L already final, read
       along their unit stride, so the inner loops vectorise */
    const int b = get_group_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    __global ${T} *a = A + off + b * bs;
    for (int j = 0; j < n; ++j) {
        if (lid == 0) {
            ${T} d = AT(a, j, j);
            for (int k = 0; k < j; ++k) d -= AT(a, j, k) * AT(a, j, k);
            *ok = d > 0;  /* NaN fails too */
            if (*ok) AT(a, j, j) = sqrt(d);
            else if (info[b] == 0) info[b] = j + 1 + shift;
        }
        barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
        if (!*ok) return;  /* the same flag for every item of the group */
        const ${T} djj = AT(a, j, j);
        for (int i = j + 1 + lid; i < n; i += lsz) {
            ${T} s = AT(a, i, j);
            for (int k = 0; k < j; ++k) s -= AT(a, i, k) * AT(a, j, k);
            AT(a, i, j) = s / djj;
        }
        barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
    }
}

__kernel void getrf(const int m, const int n, __global ${T} *A, const long off, const long rs, const long cs,
                    const long bs, __global int *pivots, const long piv_off, const long piv_bs,
                    __global int *info, const int shift, __local ${T} *best, __local int *best_at)
{
    const int b = get_group_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    __global ${T} *a = A + off + b * bs;
    __global int *piv = pivots + piv_off + b * piv_bs;
    for (int j = 0; j < min(m, n); ++j) {
        /* pivot search: each item's first largest |a| in its rows, then a tree over the group
           that keeps the smaller row on ties (lsz is a power of two) */
        ${T} v = -1;
        int at = j;
        for (int i = j + lid; i < m; i += lsz) {
            const ${T} x = fabs(AT(a, i, j));
            if (x > v) { v = x; at = i; }
        }
        best[lid] = v;
        best_at[lid] = at;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int h = lsz / 2; h > 0; h /= 2) {
            if (lid < h) {
                const ${T} w = best[lid + h];
                const int wat = best_at[lid + h];
                if (w > best[lid] || (w == best[lid] && wat < best_at[lid])) { best[lid] = w; best_at[lid] = wat; }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        const int p = best[0] < 0 ? j : best_at[0];  /* a NaN column keeps its row */
        const ${T} pv = AT(a, p, j);
        barrier(CLK_GLOBAL_MEM_FENCE);  /* every item holds the pivot before the rows move */
        if (lid == 0) {
            piv[j] = p + 1 + shift;
            if (pv == 0 && info[b] == 0) info[b] = j + 1 + shift;
        }
        if (p != j) {
            for (int k = lid; k < n; k += lsz) {
                const ${T} t = AT(a, j, k);
                AT(a, j, k) = AT(a, p, k);
                AT(a, p, k) = t;
            }
        }
        barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
        if (pv != 0) {  /* each row is scaled and updated by the item that owns it: no barrier between */
            for (int i = j + 1 + lid; i < m; i += lsz) {
                const ${T} f = AT(a, i, j) / pv;
                AT(a, i, j) = f;
                for (int k = j + 1; k < n; ++k) AT(a, i, k) -= f * AT(a, j, k);
            }
            barrier(CLK_GLOBAL_MEM_FENCE);
        }
    }
}

__kernel void trsm(const int n, const int k, const int lower, const int unit,
                   __global const ${T} *Tm, const long t_off, const long t_rs, const long t_cs, const long t_bs,
                   __global ${T} *B, const long b_off, const long b_rs, const long b_cs, const long b_bs)
{
    const int col = get_global_id(0), b = get_global_id(1);
    if (col >= k) return;
    __global const ${T} *t = Tm + t_off + b * t_bs;
    __global ${T} *x = B + b_off + b * b_bs + (long)col * b_cs;
    for (int step = 0; step < n; ++step) {
        const int i = lower ? step : n - 1 - step;
        ${T} s = x[(long)i * b_rs];
        if (lower) {
            for (int j = 0; j < i; ++j) s -= t[(long)i * t_rs + (long)j * t_cs] * x[(long)j * b_rs];
        } else {
            for (int j = i + 1; j < n; ++j) s -= t[(long)i * t_rs + (long)j * t_cs] * x[(long)j * b_rs];
        }
        x[(long)i * b_rs] = unit ? s : s / t[(long)i * t_rs + (long)i * t_cs];
    }
}

__kernel void laswp(const int n, const int j0, const int jb, const int mode,
                    __global ${T} *A, const long off, const long rs, const long cs, const long bs,
                    __global const int *pivots, const long piv_off, const long piv_bs)
{
    /* mode 0: the swaps of rows j0..j0+jb-1 in order, skipping the panel's own columns;
       mode 1: the same over every column; mode 2: undone (reverse order) over every column */
    const int col = get_global_id(0), b = get_global_id(1);
    if (col >= n || (mode == 0 && col >= j0 && col < j0 + jb)) return;
    __global ${T} *a = A + off + b * bs;
    __global const int *piv = pivots + piv_off + b * piv_bs;
    for (int step = 0; step < jb; ++step) {
        const int i = mode == 2 ? j0 + jb - 1 - step : j0 + step;
        const int p = piv[i - j0] - 1;
        if (p != i) {
            const ${T} t = AT(a, i, col);
            AT(a, i, col) = AT(a, p, col);
            AT(a, p, col) = t;
        }
    }
}
