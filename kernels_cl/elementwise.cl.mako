<%doc>
One template for every n-ary elementwise op. The op is a C expression over the inputs
a, b, c... (already converted to the compute type T) and extra scalars named in `params`.

Operand kinds:  'c' contiguous tensor (read at off + i), 's' a single element broadcast to
every i (read at off), 'v' a Python scalar passed by value, 't' strided tensor (strided path).
The contiguous path is one work-item per element with plain indexing so the compiler
vectorises; the strided path maps the linear index to per-operand offsets through sizes and
strides (ndim is a template parameter, the sizes are kernel arguments).
With VEC > 1 (contiguous path only) each work-item handles VEC consecutive elements through
vloadN/vstoreN, the expression applied per component (`i` stays the element's linear index);
the work-item that meets the end finishes the tail element by element.
With TILE > 0 (strided path on CPU devices) each work-item walks a TILE x TILE block of the two
innermost dims (TILE*TILE consecutive elements when ndim is 1) with loops: the index arithmetic
is paid once per block, and a transposed operand is read from a block that stays in L1 (a
4096x1024 transpose: 27 ms -> 4.5 ms on PoCL, measured).
</%doc>
${c.preamble([out_dtype, compute] + list(in_dtypes))}
${helpers}
<% names = "abcdefgh" %>
__kernel void ${kname}(${sig[kname]})
{
% if VEC > 1:
<% comps = "0123456789abcdef" %>
    typedef ${compute.compute_c} T;
  % for k, (dt, kind) in enumerate(zip(in_dtypes, in_kinds)):
    % if kind == 'v':
    const T ${names[k]} = ${names[k]}_val;
    % elif kind == 's':
    const T ${names[k]} = ${c.convert(compute, c.load(dt, names[k] + "_ptr", names[k] + "_off"))};
    % endif
  % endfor
    const ${IDX} i0 = (${IDX})get_global_id(0) * ${VEC};
    if (i0 + ${VEC} <= n) {
  % for k, (dt, kind) in enumerate(zip(in_dtypes, in_kinds)):
    % if kind == 'c':
        const ${c.vtype(dt, VEC)} ${names[k]}_v = ${c.vload(dt, VEC, names[k] + "_ptr + " + names[k] + "_off + i0")};
    % endif
  % endfor
        ${c.vtype(out_dtype, VEC)} r;
  % for j in range(VEC):
        {
            const ${IDX} i = i0 + ${j};
    % for k, (dt, kind) in enumerate(zip(in_dtypes, in_kinds)):
      % if kind == 'c':
            const T ${names[k]} = ${c.convert(compute, names[k] + "_v.s" + comps[j])};
      % endif
    % endfor
            r.s${comps[j]} = ${c.vstore_component(out_dtype, expr)};
        }
  % endfor
        ${c.vstore(out_dtype, VEC, "r", "out + out_off + i0")};
    } else {
        for (${IDX} i = i0; i < n; ++i) {
  % for k, (dt, kind) in enumerate(zip(in_dtypes, in_kinds)):
    % if kind == 'c':
            const T ${names[k]} = ${c.convert(compute, c.load(dt, names[k] + "_ptr", names[k] + "_off + i"))};
    % endif
  % endfor
            ${c.store(out_dtype, "out", "out_off + i", expr)};
        }
    }
% elif TILE:
<% L = ndim - 1 %>
    typedef ${compute.compute_c} T;
  % for k, (dt, kind) in enumerate(zip(in_dtypes, in_kinds)):
    % if kind == 'v':
    const T ${names[k]} = ${names[k]}_val;
    % endif
  % endfor
  % if ndim == 1:
    const ${IDX} start = (${IDX})get_global_id(0) * ${TILE * TILE};
    if (start >= n) return;
    const ${IDX} stop = (n - start < ${TILE * TILE}) ? n : start + ${TILE * TILE};
    for (${IDX} i = start; i < stop; ++i) {
    % for k, (dt, kind) in enumerate(zip(in_dtypes, in_kinds)):
      % if kind == 't':
        const T ${names[k]} = ${c.convert(compute, c.load(dt, names[k] + "_ptr", names[k] + "_off + i * " + names[k] + "_st0"))};
      % endif
    % endfor
        ${c.store(out_dtype, "out", "out_off + i * out_st0", expr)};
    }
  % else:
    const ${IDX} nb1 = (size${L} + ${TILE - 1}) / ${TILE}, nb0 = (size${L - 1} + ${TILE - 1}) / ${TILE};
    ${IDX} rest = get_global_id(0);
    const ${IDX} b1 = rest % nb1;
    rest /= nb1;
    const ${IDX} b0 = rest % nb0;
    rest /= nb0;
    if (rest >= n / (size${L - 1} * size${L})) return;
    const ${IDX} outer = rest;
    ${IDX} o_out = out_off;
    % for k, kind in enumerate(in_kinds):
      % if kind == 't':
    ${IDX} o_${names[k]} = ${names[k]}_off;
      % endif
    % endfor
    % for d in reversed(range(ndim - 2)):
    {
        const ${IDX} q = rest % size${d};
        rest /= size${d};
        o_out += q * out_st${d};
      % for k, kind in enumerate(in_kinds):
        % if kind == 't':
        o_${names[k]} += q * ${names[k]}_st${d};
        % endif
      % endfor
    }
    % endfor
    const ${IDX} r0 = b0 * ${TILE}, c0 = b1 * ${TILE};
    const ${IDX} r1 = min(r0 + ${TILE}, size${L - 1}), c1 = min(c0 + ${TILE}, size${L});
    for (${IDX} tr = r0; tr < r1; ++tr) {
        for (${IDX} tc = c0; tc < c1; ++tc) {
            const ${IDX} i = (outer * size${L - 1} + tr) * size${L} + tc;
    % for k, (dt, kind) in enumerate(zip(in_dtypes, in_kinds)):
      % if kind == 't':
            const T ${names[k]} = ${c.convert(compute, c.load(dt, names[k] + "_ptr", "o_" + names[k] + " + tr * " + names[k] + "_st" + str(L - 1) + " + tc * " + names[k] + "_st" + str(L)))};
      % endif
    % endfor
            ${c.store(out_dtype, "out", "o_out + tr * out_st" + str(L - 1) + " + tc * out_st" + str(L), expr)};
        }
    }
  % endif
% else:
    const ${IDX} i = get_global_id(0);
    if (i >= n) return;
% if ndim:
    ${IDX} rest = i, o_out = out_off;
  % for k, kind in enumerate(in_kinds):
    % if kind == 't':
    ${IDX} o_${names[k]} = ${names[k]}_off;
    % endif
  % endfor
  % for d in reversed(range(ndim)):
    {
        const ${IDX} q = rest % size${d};
        rest /= size${d};
        o_out += q * out_st${d};
    % for k, kind in enumerate(in_kinds):
      % if kind == 't':
        o_${names[k]} += q * ${names[k]}_st${d};
      % endif
    % endfor
    }
  % endfor
<% out_index = "o_out" %>
% else:
<% out_index = "out_off + i" %>
% endif
    typedef ${compute.compute_c} T;
% for k, (dt, kind) in enumerate(zip(in_dtypes, in_kinds)):
  % if kind == 'v':
    const T ${names[k]} = ${names[k]}_val;
  % elif kind == 's':
    const T ${names[k]} = ${c.convert(compute, c.load(dt, names[k] + "_ptr", names[k] + "_off"))};
  % elif kind == 't':
    const T ${names[k]} = ${c.convert(compute, c.load(dt, names[k] + "_ptr", "o_" + names[k]))};
  % else:
    const T ${names[k]} = ${c.convert(compute, c.load(dt, names[k] + "_ptr", names[k] + "_off + i"))};
  % endif
% endfor
    ${c.store(out_dtype, "out", out_index, expr)};
% endif
}
