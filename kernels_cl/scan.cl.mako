<%doc>
Inclusive scans (cumsum, cumprod, logcumsumexp) along one dim, the op injected as `combine`
(a C expression of x and y, type A, associative) with its identity `neutral`.

The input is [M kept positions] x [L positions along the dim]; each row of L is split into S
chunks of `chunk` elements, one work-item per (row, chunk), so short rows need one phase and
long rows three:
    phase 'total'  each item combines its chunk           -> part[s * M + o]
    phase 'carry'  each row turns its S totals into exclusive prefixes, in place
    phase 'scan'   each item scans its chunk starting from its carry (or neutral when S == 1)
`reverse` scans from the end of the dim (its chunks' carries come from the later chunks).
</%doc>
${c.preamble([T, A_dtype, in_dtype, out_dtype])}
typedef ${T.compute_c} T;
typedef ${A} A;
${helpers}
inline A scan_combine(const A x, const A y) { return ${combine}; }

<%def name="scan_loop(src_lane, dst_lane)">
  % if reverse:
    for (${IDX} l = hi - 1; l >= lo; --l) {
  % else:
    for (${IDX} l = lo; l < hi; ++l) {
  % endif
        for (int j = 0; j < ${V}; ++j) {
            const A a = (A)(${c.convert(T, c.load(in_dtype, "src", src_lane + " + l * src_lst"))});
            acc[j] = scan_combine(acc[j], a);
  % if phase == 'scan':
            ${c.store(out_dtype, "dst", dst_lane + " + l * dst_lst", "acc[j]")};
  % endif
        }
    }
</%def>

__kernel void ${kname}(${sig[kname]})
{
    const ${IDX} gid = get_global_id(0);
% if phase == 'carry':
    if (gid >= M) return;
    A acc = ${neutral};
    for (${IDX} k = 0; k < S; ++k) {
        const ${IDX} p = (${"S - 1 - k" if reverse else "k"}) * M + gid;
        const A t = part[p];
        part[p] = acc;
        acc = scan_combine(acc, t);
    }
% else:
<% views = ['src', 'dst'] if phase == 'scan' else ['src'] %>
    ## work-item gid: rows o0 .. o0 + V - 1 (V > 1 on CPUs where rows sit side by side in memory:
    ## every read then uses a whole cache line), chunk sidx of the dim
    const ${IDX} nob = (M + ${V - 1}) / ${V};
    if (gid >= nob * S) return;
    const ${IDX} o0 = (gid % nob) * ${V}, sidx = gid / nob;
    const int nv = (M - o0 < ${V}) ? (int)(M - o0) : ${V};
  % for v in views:
    ${IDX} b_${v}[${V}];
  % endfor
    bool side_by_side = true;
    for (int j = 0; j < ${V}; ++j) {
        ## lanes past the last row repeat it (same values to the same places)
        ${IDX} rest = o0 + (j < nv ? j : nv - 1);
  % for v in views:
        ${IDX} e_${v} = ${v}_off;
  % endfor
  % for d in reversed(range(nk)):
        {
            const ${IDX} q = rest % ks${d};
            rest /= ks${d};
    % for v in views:
            e_${v} += q * ${v}_kst${d};
    % endfor
        }
  % endfor
  % for v in views:
        b_${v}[j] = e_${v};
        side_by_side &= (e_${v} == b_${v}[0] + j);
  % endfor
    }
    const ${IDX} lo = sidx * chunk;
    const ${IDX} hi = (L - lo < chunk) ? L : lo + chunk;
    A acc[${V}];
    for (int j = 0; j < ${V}; ++j) {
  % if phase == 'scan' and carry:
        acc[j] = part[sidx * M + o0 + (j < nv ? j : nv - 1)];
  % else:
        acc[j] = ${neutral};
  % endif
    }
  % if V > 1:
    if (side_by_side) {
        ${scan_loop("b_src[0] + j", "b_dst[0] + j")}
    } else {
        ${scan_loop("b_src[j]", "b_dst[j]")}
    }
  % else:
    ${scan_loop("b_src[0]", "b_dst[0]")}
  % endif
  % if phase == 'total':
    for (int j = 0; j < nv; ++j) part[sidx * M + o0 + j] = acc[j];
  % endif
% endif
}
