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

__kernel void potrf(${sig["potrf"]})
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

__kernel void getrf(${sig["getrf"]})
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

__kernel void trsm(${sig["trsm"]})
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

__kernel void laswp(${sig["laswp"]})
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

__kernel void geqrf(${sig["geqrf"]})
{
    /* Householder QR (LAPACK's geqr2): R on and above the diagonal, the reflectors' v (v[j] = 1
       implied) below it, tau per column; H = I - tau v v^T, tau = 0 where the column is already zero */
    const int b = get_group_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    __global ${T} *a = A + off + b * bs;
    __global ${T} *tau = taus + b * tau_bs;
    for (int j = 0; j < min(m, n); ++j) {
        ${T} s = 0;
        for (int i = j + 1 + lid; i < m; i += lsz) s += AT(a, i, j) * AT(a, i, j);
        partial[lid] = s;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int h = lsz / 2; h > 0; h /= 2) {
            if (lid < h) partial[lid] += partial[lid + h];
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        const ${T} sigma = partial[0];
        const ${T} alpha = AT(a, j, j);
        const ${T} beta = sigma == 0 ? alpha : -copysign(sqrt(alpha * alpha + sigma), alpha);
        const ${T} tj = sigma == 0 ? 0 : (beta - alpha) / beta;
        barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);  /* all items hold alpha before it changes */
        if (tj != 0) {
            const ${T} scale = 1 / (alpha - beta);
            for (int i = j + 1 + lid; i < m; i += lsz) AT(a, i, j) *= scale;
        }
        if (lid == 0) {
            tau[j] = tj;
            AT(a, j, j) = beta;
        }
        barrier(CLK_GLOBAL_MEM_FENCE);
        if (tj != 0) {
            for (int k = j + 1 + lid; k < n; k += lsz) {
                ${T} w = AT(a, j, k);
                for (int i = j + 1; i < m; ++i) w += AT(a, i, j) * AT(a, i, k);
                w *= tj;
                AT(a, j, k) -= w;
                for (int i = j + 1; i < m; ++i) AT(a, i, k) -= w * AT(a, i, j);
            }
        }
        barrier(CLK_GLOBAL_MEM_FENCE);
    }
}

__kernel void ormqr(${sig["ormqr"]})
{
    /* C <- H_0 H_1 ... H_{k-1} C (backward order; householder_product starts from an identity),
       or H_{k-1} ... H_0 C = Q^T C (forward). One work-item per column of C: no barriers. */
    const int col = get_global_id(0), b = get_global_id(1);
    if (col >= ncols) return;
    __global const ${T} *v = V + v_off + b * v_bs;
    __global const ${T} *tau = taus + tau_off + b * tau_bs;
    __global ${T} *c = C + c_off + b * c_bs + (long)col * c_cs;
    for (int step = 0; step < k; ++step) {
        const int j = forward ? step : k - 1 - step;
        const ${T} tj = tau[j];
        if (tj == 0) continue;
        ${T} w = c[(long)j * c_rs];
        for (int i = j + 1; i < m; ++i) w += v[(long)i * v_rs + (long)j * v_cs] * c[(long)i * c_rs];
        w *= tj;
        c[(long)j * c_rs] -= w;
        for (int i = j + 1; i < m; ++i) c[(long)i * c_rs] -= w * v[(long)i * v_rs + (long)j * v_cs];
    }
}

/* The pair that slot `pair` of round r plays in a round-robin over np (even) players. */
inline void tournament(const int r, const int pair, const int np, int *p, int *q)
{
    const int last = np - 1;
    *p = pair == 0 ? 0 : (pair - 1 + r) % last + 1;
    *q = (np - 2 - pair + r) % last + 1;
}

__kernel void gesvj(${sig["gesvj"]})
{
    /* One-sided Jacobi (Hestenes): rotate pairs of columns of U (m x n) until all are orthogonal,
       accumulating the rotations in V (an identity on entry). Then U = (left vectors) * S and
       A = U V^T. A round rotates n/2 disjoint pairs at once (one per item). */
    const int b = get_group_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    __global ${T} *u = U + u_off + b * u_bs;
    __global ${T} *v = Vm + v_off + b * v_bs;
    const int np = n + (n & 1);  /* an odd n plays with a dummy column n */
    for (int sweep = 0; sweep < max_sweeps; ++sweep) {
        if (lid == 0) *rotated = 0;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int r = 0; r < np - 1; ++r) {
            for (int pair = lid; pair < np / 2; pair += lsz) {
                int p, q;
                tournament(r, pair, np, &p, &q);
                if (p >= n || q >= n) continue;
                ${T} alpha = 0, beta = 0, gamma = 0;
                for (int i = 0; i < m; ++i) {
                    const ${T} x = u[(long)i * u_rs + (long)p * u_cs], y = u[(long)i * u_rs + (long)q * u_cs];
                    alpha += x * x;
                    beta += y * y;
                    gamma += x * y;
                }
                if (gamma == 0 || fabs(gamma) <= tol * sqrt(alpha * beta)) continue;
                const ${T} zeta = (beta - alpha) / (2 * gamma);
                const ${T} t = copysign((${T})1, zeta) / (fabs(zeta) + sqrt(1 + zeta * zeta));
                const ${T} cs_ = 1 / sqrt(1 + t * t), sn = cs_ * t;
                for (int i = 0; i < m; ++i) {
                    __global ${T} *x = u + (long)i * u_rs + (long)p * u_cs, *y = u + (long)i * u_rs + (long)q * u_cs;
                    const ${T} xv = *x, yv = *y;
                    *x = cs_ * xv - sn * yv;
                    *y = sn * xv + cs_ * yv;
                }
                for (int i = 0; i < n; ++i) {
                    __global ${T} *x = v + (long)i * v_rs + (long)p * v_cs, *y = v + (long)i * v_rs + (long)q * v_cs;
                    const ${T} xv = *x, yv = *y;
                    *x = cs_ * xv - sn * yv;
                    *y = sn * xv + cs_ * yv;
                }
                *rotated = 1;
            }
            barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);
        }
        const int again = *rotated;
        barrier(CLK_LOCAL_MEM_FENCE);
        if (!again) return;
    }
}

/* sytrf: A = P L D L^T P^T of a symmetric matrix (its lower triangle), Bunch-Kaufman pivoting as
   LAPACK's sytf2 (lower): 1x1 and 2x2 diagonal blocks, pivots 1-based, negative for a 2x2 block.
   One work-item per matrix of the batch: the pivot choice is a serial chain. */
#define SWAP(x, y) { const ${T} t_ = (x); (x) = (y); (y) = t_; }
__kernel void sytrf(${sig["sytrf"]})
{
    const int b = get_global_id(0);
    if (b >= batch) return;
    __global ${T} *a = A + off + b * bs;
    __global int *piv = pivots + piv_off + b * piv_bs;
    const ${T} alpha = ((${T})1 + sqrt((${T})17)) / (${T})8;
    for (int k = 0; k < n; ) {
        int kstep = 1, kp = k, imax = k;
        const ${T} absakk = fabs(AT(a, k, k));
        ${T} colmax = 0;
        for (int i = k + 1; i < n; ++i) {
            const ${T} v = fabs(AT(a, i, k));
            if (v > colmax) { colmax = v; imax = i; }
        }
        if (max(absakk, colmax) == 0 || isnan(absakk)) {
            if (info[b] == 0) info[b] = k + 1;
        } else {
            if (absakk < alpha * colmax) {
                ${T} rowmax = 0;
                for (int j = k; j < imax; ++j) rowmax = max(rowmax, fabs(AT(a, imax, j)));
                for (int j = imax + 1; j < n; ++j) rowmax = max(rowmax, fabs(AT(a, j, imax)));
                if (absakk >= alpha * colmax * (colmax / rowmax)) kp = k;
                else if (fabs(AT(a, imax, imax)) >= alpha * rowmax) kp = imax;
                else { kp = imax; kstep = 2; }
            }
            const int kk = k + kstep - 1;
            if (kp != kk) {
                for (int i = kp + 1; i < n; ++i) SWAP(AT(a, i, kk), AT(a, i, kp));
                for (int j = kk + 1; j < kp; ++j) SWAP(AT(a, j, kk), AT(a, kp, j));
                SWAP(AT(a, kk, kk), AT(a, kp, kp));
                if (kstep == 2) SWAP(AT(a, k + 1, k), AT(a, kp, k));
            }
            if (kstep == 1) {
                const ${T} d11 = (${T})1 / AT(a, k, k);
                for (int j = k + 1; j < n; ++j) {
                    const ${T} xj = AT(a, j, k);
                    for (int i = j; i < n; ++i) AT(a, i, j) -= d11 * AT(a, i, k) * xj;
                }
                for (int i = k + 1; i < n; ++i) AT(a, i, k) *= d11;
            } else if (k < n - 2) {
                ${T} d21 = AT(a, k + 1, k);
                const ${T} d11 = AT(a, k + 1, k + 1) / d21, d22 = AT(a, k, k) / d21;
                d21 = ((${T})1 / (d11 * d22 - (${T})1)) / d21;
                for (int j = k + 2; j < n; ++j) {
                    const ${T} wk = d21 * (d11 * AT(a, j, k) - AT(a, j, k + 1));
                    const ${T} wkp1 = d21 * (d22 * AT(a, j, k + 1) - AT(a, j, k));
                    for (int i = j; i < n; ++i) AT(a, i, j) -= AT(a, i, k) * wk + AT(a, i, k + 1) * wkp1;
                    AT(a, j, k) = wk;
                    AT(a, j, k + 1) = wkp1;
                }
            }
        }
        piv[k] = kstep == 1 ? kp + 1 : -(kp + 1);
        if (kstep == 2) piv[k + 1] = -(kp + 1);
        k += kstep;
    }
}

/* sytrs: B <- A^-1 B from sytrf's factors (LAPACK's sytrs, lower): one work-item per column of B
   (global id 0), matrix b of the batch (global id 1); X is read through its strides. */
__kernel void sytrs(${sig["sytrs"]})
{
    const int col = get_global_id(0), b = get_global_id(1);
    if (col >= k) return;
    __global const ${T} *a = L + l_off + b * l_bs;
    __global const int *piv = pivots + piv_off + b * piv_bs;
    __global ${T} *x = X + x_off + b * x_bs + (long)col * x_cs;
#define XR(i) x[(long)(i) * x_rs]
#define LA(i, j) a[(long)(i) * l_rs + (long)(j) * l_cs]
    for (int i = 0; i < n; ) {  /* L D y = P^T b */
        if (piv[i] > 0) {
            const int p = piv[i] - 1;
            if (p != i) SWAP(XR(i), XR(p));
            for (int r = i + 1; r < n; ++r) XR(r) -= LA(r, i) * XR(i);
            XR(i) /= LA(i, i);
            i += 1;
        } else {
            const int p = -piv[i] - 1;
            if (p != i + 1) SWAP(XR(i + 1), XR(p));
            for (int r = i + 2; r < n; ++r) XR(r) -= LA(r, i) * XR(i) + LA(r, i + 1) * XR(i + 1);
            const ${T} akm1k = LA(i + 1, i), akm1 = LA(i, i) / akm1k, ak = LA(i + 1, i + 1) / akm1k;
            const ${T} denom = akm1 * ak - (${T})1, bkm1 = XR(i) / akm1k, bk = XR(i + 1) / akm1k;
            XR(i) = (ak * bkm1 - bk) / denom;
            XR(i + 1) = (akm1 * bk - bkm1) / denom;
            i += 2;
        }
    }
    for (int i = n - 1; i >= 0; ) {  /* L^T P^T x = y */
        if (piv[i] > 0) {
            for (int r = i + 1; r < n; ++r) XR(i) -= LA(r, i) * XR(r);
            const int p = piv[i] - 1;
            if (p != i) SWAP(XR(i), XR(p));
            i -= 1;
        } else {
            for (int r = i + 1; r < n; ++r) {
                XR(i) -= LA(r, i) * XR(r);
                XR(i - 1) -= LA(r, i - 1) * XR(r);
            }
            const int p = -piv[i] - 1;
            if (p != i) SWAP(XR(i), XR(p));
            i -= 2;
        }
    }
#undef XR
#undef LA
}
