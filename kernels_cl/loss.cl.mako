<%doc>
Fused cross entropy (cltensor/ops/loss.py launches it): the loss of logits x over a class dim of C
classes, with class-index targets (probs False: ignore_index, per-class weights, label smoothing)
or class-probability targets of x's shape (probs True). Every row (a position of the kept dims,
collapsed to at most three) is one work-item; the per-row results live in `rows`, laid out
[4, M]: loss, the row's weight in the mean's denominator, logsumexp, and S = the row's summed
target weights (sum over c of u_c, u_c the weight of class c in the target distribution).

    ce_rows   max over the row, then sum(exp(x - max)) and sum(u_c (x_c - max)) in one pass:
              loss = S log(sum) - sum(u_c (x_c - max)) = -sum(u_c log p_c); flags a bad target
    ce_total  one work-group: the reduction over rows ('mean' divides by the summed weights) or
              the copy of the per-row losses ('none'); the first bad target as the offender
    ce_grad   one work-item per element: scale * (p_c S - u_c), p = exp(x - logsumexp)

Targets outside [0, C) other than ignore_index count as ignored here (nothing is read out of
bounds) and are reported through the offender (checks.py raises at the next host read).
</%doc>
<%
    Tc = T.compute_c
    kept = range(3)
    def offset(view, var):
        return " + ".join([f"{view}_off"] + [f"q{d} * {view}_k{d}" for d in kept])
%>
${c.preamble([T, A_dtype] + ([W_dtype] if weighted else []) + [target_dtype])}
typedef ${A} A;

<%def name="split_row(var)">
    ## the kept position `var` as coordinates q0..q2 over the collapsed kept sizes ks0..ks2
    const ${IDX} q2 = ${var} % ks2, q1 = (${var} / ks2) % ks1, q0 = ${var} / (ks2 * ks1);
</%def>

<%def name="class_weight(cvar)">\
% if weighted:
(A)(${c.convert(A_dtype, c.load(W_dtype, "w", f"w_off + ({cvar}) * w_c"))})\
% else:
(A)1\
% endif
</%def>

<%def name="target_prob(cvar)">\
(A)(${c.convert(A_dtype, c.load(target_dtype, "t", f"tb + ({cvar}) * t_c"))})\
</%def>

<%def name="kept_args(view)">
    , const ${IDX} ${view}_off, const ${IDX} ${view}_k0, const ${IDX} ${view}_k1, const ${IDX} ${view}_k2, \
const ${IDX} ${view}_c
</%def>

__kernel void ce_rows(const ${IDX} M, const ${IDX} C, const ${IDX} ks0, const ${IDX} ks1, const ${IDX} ks2,
    __global const ${T.c} *x ${kept_args("x")},
    __global const ${target_dtype.c} *t ${kept_args("t")},
    __global const ${W_dtype.c if weighted else "uchar"} *w, const ${IDX} w_off, const ${IDX} w_c,
    const long ignore_index, const A eps,
    __global A *rows, __global long *flags)
{
    const ${IDX} m = get_global_id(0);
    if (m >= M) return;
    ${split_row("m")}
    const ${IDX} xb = ${offset("x", "m")};
    const ${IDX} tb = ${offset("t", "m")};
    A mx = -INFINITY;
    for (${IDX} k = 0; k < C; ++k) {
        const A v = ${c.convert(A_dtype, c.load(T, "x", "xb + k * x_c"))};
        mx = (v > mx || v != v) ? v : mx;
    }
    A sum = 0, dot = 0, S = 0, row_weight = 1;
% if probs:
    for (${IDX} k = 0; k < C; ++k) {
        const A d = ${c.convert(A_dtype, c.load(T, "x", "xb + k * x_c"))} - mx;
        const A u = ${class_weight("k")} * ((1 - eps) * ${target_prob("k")} + eps / C);
        sum += exp(d);
        dot += u * d;
        S += u;
    }
% else:
    const long target = (long)${c.load(target_dtype, "t", "tb")};
    const bool in_range = target >= 0 && target < C;
    flags[m] = (in_range || target == ignore_index) ? LONG_MAX : (long)m;
    if (!in_range || target == ignore_index) {
        rows[m] = 0; rows[M + m] = 0; rows[2 * M + m] = 0; rows[3 * M + m] = 0;
        return;
    }
    A smooth = 0, all_weights = 0;
    for (${IDX} k = 0; k < C; ++k) {
        const A d = ${c.convert(A_dtype, c.load(T, "x", "xb + k * x_c"))} - mx;
        sum += exp(d);
        if (eps != 0) {
            const A wk = ${class_weight("k")};
            smooth += wk * d;
            all_weights += wk;
        }
    }
    row_weight = ${class_weight("target")};
    const A picked = ${c.convert(A_dtype, c.load(T, "x", "xb + target * x_c"))} - mx;
    ## NOTE: the picked term alone when eps == 0: a -inf logit of another class must not turn 0 * -inf into nan
    dot = (1 - eps) * row_weight * picked + (eps != 0 ? eps / C * smooth : 0);
    S = (1 - eps) * row_weight + eps / C * all_weights;
% endif
    const A log_sum = log(sum);
    rows[m] = S * log_sum - dot;
    rows[M + m] = row_weight;
    rows[2 * M + m] = mx + log_sum;
    rows[3 * M + m] = S;
}

__kernel __attribute__((reqd_work_group_size(${WG}, 1, 1)))
void ce_total(const ${IDX} M, const ${IDX} ks0, const ${IDX} ks1, const ${IDX} ks2,
    __global const A *rows, __global const long *flags,
    __global const ${target_dtype.c} *t ${kept_args("t")},
    const int reduction, __global ${T.c} *out, __global A *total, __global long *offender)
{
    ## reduction: 0 none (out has M elements), 1 mean, 2 sum
    __local A loss_part[${WG}], weight_part[${WG}];
    __local long flag_part[${WG}];
    const int lid = get_local_id(0);
    A loss = 0, weight = 0;
    long first_bad = LONG_MAX;
    for (${IDX} m = lid; m < M; m += ${WG}) {
        loss += rows[m];
        weight += rows[M + m];
% if not probs:
        first_bad = min(first_bad, flags[m]);
% endif
        if (reduction == 0) ${c.store(T, "out", "m", "rows[m]")};
    }
    loss_part[lid] = loss; weight_part[lid] = weight; flag_part[lid] = first_bad;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = ${WG // 2}; h > 0; h >>= 1) {
        if (lid < h) {
            loss_part[lid] += loss_part[lid + h];
            weight_part[lid] += weight_part[lid + h];
            flag_part[lid] = min(flag_part[lid], flag_part[lid + h]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        if (reduction != 0) ${c.store(T, "out", "0", "reduction == 1 ? loss_part[0] / weight_part[0] : loss_part[0]")};
        total[0] = weight_part[0];
% if not probs:
        const long bad = flag_part[0];
        if (bad == LONG_MAX) {
            offender[0] = LONG_MIN;
        } else {
            ${split_row("(" + IDX + ")bad")}
            offender[0] = (long)${c.load(target_dtype, "t", offset("t", "bad"))};
        }
% endif
    }
}

__kernel void ce_grad(const ${IDX} n, const ${IDX} C, const ${IDX} ks0, const ${IDX} ks1, const ${IDX} ks2,
    __global const ${T.c} *x ${kept_args("x")},
    __global const ${target_dtype.c} *t ${kept_args("t")},
    __global ${T.c} *gx ${kept_args("gx")},
    __global const ${T.c} *g ${kept_args("g")},
    __global const ${W_dtype.c if weighted else "uchar"} *w, const ${IDX} w_off, const ${IDX} w_c,
    const long ignore_index, const A eps, const ${IDX} M,
    __global const A *rows, __global const A *total, const int mean)
{
    const ${IDX} gid = get_global_id(0);
    if (gid >= n) return;
    const ${IDX} m = gid / C, k = gid % C;
    ${split_row("m")}
    const ${IDX} tb = ${offset("t", "m")};
    A scale = ${c.convert(A_dtype, c.load(T, "g", offset("g", "m")))};
    if (mean) scale /= total[0];
    const A p = exp(${c.convert(A_dtype, c.load(T, "x", offset("x", "m") + " + k * x_c"))} - rows[2 * M + m]);
% if probs:
    const A u = ${class_weight("k")} * ((1 - eps) * ${target_prob("k")} + eps / C);
    const A grad = scale * (p * rows[3 * M + m] - u);
% else:
    const long target = (long)${c.load(target_dtype, "t", "tb")};
    const bool counted = target >= 0 && target < C && target != ignore_index;
    const A u = (k == target ? (1 - eps) * rows[M + m] : 0) + (eps != 0 ? eps / C * ${class_weight("k")} : 0);
    const A grad = counted ? scale * (p * rows[3 * M + m] - u) : 0;
% endif
    ${c.store(T, "gx", offset("gx", "m") + " + k * gx_c", "grad")};
}
