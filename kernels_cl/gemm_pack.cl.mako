<%doc>
Packs the B operand of the CPU GEMM ('vec' variant, mode 'nn') into column panels:
    P[p, k, j] = B[k, p * NR + j]   (0 where p * NR + j >= N)
so that the micro-kernel streams one contiguous panel per work-item instead of K rows N elements
apart (rows a power of two apart alias in every cache level and cost a TLB entry each).
B is read through its strides; elements are moved as raw bits of their size.
</%doc>
__kernel void ${kname}(${sig[kname]})
{
    const int k = get_global_id(0), p = get_global_id(1);
    if (k >= K) return;
    const long row = b_off + (long)k * b_sk;
    __global ${U} *dst = P + ((long)p * K + k) * ${NR};
    const int n0 = p * ${NR};
    if (n0 + ${NR} <= N && b_sn == 1) {
        for (int j = 0; j < ${NR}; ++j)
            dst[j] = B[row + n0 + j];
    } else {
        for (int j = 0; j < ${NR}; ++j)
            dst[j] = n0 + j < N ? B[row + (long)(n0 + j) * b_sn] : (${U})0;
    }
}
