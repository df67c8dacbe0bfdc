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
    ce_grad   one work-item per row and block of classes: scale * (p_c S - u_c), p = exp(x - logsumexp)

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

<%def name="x_at(base, k)">${c.convert(A_dtype, c.load(T, "x", f"{base} + ({k})" if unit_class else f"{base} + ({k}) * x_c"))}</%def>

__kernel void ce_rows(${sig["ce_rows"]})
{
    ## the class loops run V independent lanes (the compiler vectorises them), merged at the end
    const ${IDX} m = get_global_id(0);
    if (m >= M) return;
    ${split_row("m")}
    const ${IDX} xb = ${offset("x", "m")};
    const ${IDX} tb = ${offset("t", "m")};
    const ${IDX} whole = C - C % ${V};
    A lane_max[${V}];
    for (int j = 0; j < ${V}; ++j) lane_max[j] = -INFINITY;
    for (${IDX} k = 0; k < whole; k += ${V}) {
        for (int j = 0; j < ${V}; ++j) {
            const A v = ${x_at("xb", "k + j")};
            lane_max[j] = (v > lane_max[j] || v != v) ? v : lane_max[j];
        }
    }
    for (${IDX} k = whole; k < C; ++k) {
        const A v = ${x_at("xb", "k")};
        lane_max[0] = (v > lane_max[0] || v != v) ? v : lane_max[0];
    }
    A mx = lane_max[0];
    for (int j = 1; j < ${V}; ++j) mx = (lane_max[j] > mx || lane_max[j] != lane_max[j]) ? lane_max[j] : mx;
    A lane_sum[${V}], lane_dot[${V}], lane_S[${V}];
    for (int j = 0; j < ${V}; ++j) { lane_sum[j] = 0; lane_dot[j] = 0; lane_S[j] = 0; }
% if probs:
<%def name="probs_term(k, j)">{
        const A d = ${x_at("xb", k)} - mx;
        const A u = ${class_weight(k)} * ((1 - eps) * ${target_prob(k)} + eps / C);
        lane_sum[${j}] += exp(d); lane_dot[${j}] += u * d; lane_S[${j}] += u;
    }</%def>
    for (${IDX} k = 0; k < whole; k += ${V})
        for (int j = 0; j < ${V}; ++j) ${probs_term("k + j", "j")}
    for (${IDX} k = whole; k < C; ++k) ${probs_term("k", "0")}
    A row_weight = 1;
% else:
    const long target = (long)${c.load(target_dtype, "t", "tb")};
    const bool in_range = target >= 0 && target < C;
    flags[m] = (in_range || target == ignore_index) ? LONG_MAX : (long)m;
    if (!in_range || target == ignore_index) {
        rows[m] = 0; rows[M + m] = 0; rows[2 * M + m] = 0; rows[3 * M + m] = 0;
        return;
    }
    ## lane_dot: sum of w_c (x_c - max) and lane_S: sum of w_c, the smoothing terms (only when eps != 0)
<%def name="class_term(k, j)">{
        const A d = ${x_at("xb", k)} - mx;
        lane_sum[${j}] += exp(d);
        if (smoothing) { const A wk = ${class_weight(k)}; lane_dot[${j}] += wk * d; lane_S[${j}] += wk; }
    }</%def>
    const bool smoothing = eps != 0;
    for (${IDX} k = 0; k < whole; k += ${V})
        for (int j = 0; j < ${V}; ++j) ${class_term("k + j", "j")}
    for (${IDX} k = whole; k < C; ++k) ${class_term("k", "0")}
% endif
    A sum = 0, dot = 0, S = 0;
    for (int j = 0; j < ${V}; ++j) { sum += lane_sum[j]; dot += lane_dot[j]; S += lane_S[j]; }
% if not probs:
    const A row_weight = ${class_weight("target")};
    const A picked = ${x_at("xb", "target")} - mx;
    ## NOTE: the picked term alone when eps == 0: a -inf logit of another class must not turn 0 * -inf into nan
    dot = (1 - eps) * row_weight * picked + (smoothing ? eps / C * dot : 0);
    S = (1 - eps) * row_weight + eps / C * S;
% endif
    const A log_sum = log(sum);
    rows[m] = S * log_sum - dot;
    rows[M + m] = row_weight;
    rows[2 * M + m] = mx + log_sum;
    rows[3 * M + m] = S;
}

__kernel __attribute__((reqd_work_group_size(${WG}, 1, 1)))
void ce_total(${sig["ce_total"]})
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

__kernel void ce_grad(${sig["ce_grad"]})
{
    ## work-item gid: row m, classes [k0, k0 + ${CB}) (no division per element; the loop vectorises)
    const ${IDX} blocks = (C + ${CB - 1}) / ${CB};
    const ${IDX} gid = get_global_id(0);
    if (gid >= M * blocks) return;
    const ${IDX} m = gid / blocks, k0 = (gid % blocks) * ${CB};
    const ${IDX} k1 = (C - k0 < ${CB}) ? C : k0 + ${CB};
    ${split_row("m")}
    const ${IDX} tb = ${offset("t", "m")};
    const ${IDX} xb = ${offset("x", "m")};
    const ${IDX} gb = ${offset("gx", "m")};
    A scale = ${c.convert(A_dtype, c.load(T, "g", offset("g", "m")))};
    if (mean) scale /= total[0];
    const A lse = rows[2 * M + m], S = rows[3 * M + m];
% if probs:
    for (${IDX} k = k0; k < k1; ++k) {
        const A p = exp(${x_at("xb", "k")} - lse);
        const A u = ${class_weight("k")} * ((1 - eps) * ${target_prob("k")} + eps / C);
        ${c.store(T, "gx", "gb + k" if unit_class else "gb + k * gx_c", "scale * (p * S - u)")};
    }
% else:
    const long target = (long)${c.load(target_dtype, "t", "tb")};
    const bool counted = target >= 0 && target < C && target != ignore_index;
    const A picked = (1 - eps) * rows[M + m];
    const A spread = eps / C;
    if (!counted) scale = 0;
    for (${IDX} k = k0; k < k1; ++k) {
        const A p = exp(${x_at("xb", "k")} - lse);
        const A u = (k == target ? picked : 0) + (spread != 0 ? spread * ${class_weight("k")} : 0);
        ## NOTE: 0, not scale * (...), for an uncounted row: its (unused) lse may be anything
        const A grad = counted ? scale * (p * S - u) : 0;
        ${c.store(T, "gx", "gb + k" if unit_class else "gb + k * gx_c", "grad")};
    }
% endif
}
