"""Generate docs/api_coverage.md: which PyTorch names cltensor provides, and where they come from.

    python tools/gen_api_coverage.py            # rewrite docs/api_coverage.md
    python tools/gen_api_coverage.py --check    # exit 1 if the committed file is out of date

It introspects cltensor (the elementwise op table ``cltensor.ops.elementwise.OPS``, the names
exported by ``cltensor``, the methods of ``cltensor.Tensor``, ``cltensor.nn``,
``nn.functional``, ``nn.init``, ``optim``, ``optim.lr_scheduler`` and ``utils.data``) and
compares it with the lists of PyTorch names below (kept here so PyTorch is not needed).
``tests/test_examples.py::test_api_coverage_doc_is_up_to_date`` fails when the committed file
differs from what this script writes.
"""
from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "api_coverage.md")

# ---- PyTorch's public names, by the sections of its documentation -----------------------------------
TORCH = {
    "Tensors": "is_tensor is_storage is_complex is_conj is_floating_point is_nonzero set_default_dtype "
               "get_default_dtype set_default_device get_default_device numel set_printoptions",
    "Creation": "tensor sparse_coo_tensor asarray as_tensor as_strided from_file from_numpy frombuffer zeros "
                "zeros_like ones ones_like arange range linspace logspace eye empty empty_like empty_strided full "
                "full_like quantize_per_tensor complex polar heaviside",
    "Indexing, slicing, joining, mutating": "adjoint argwhere cat concat concatenate conj chunk dsplit column_stack "
                                            "dstack gather hsplit hstack index_add index_copy index_reduce "
                                            "index_select masked_select movedim moveaxis narrow narrow_copy nonzero "
                                            "permute reshape row_stack select scatter diagonal_scatter "
                                            "select_scatter slice_scatter scatter_add scatter_reduce split squeeze "
                                            "stack swapaxes swapdims t take take_along_dim tensor_split tile "
                                            "transpose unbind unravel_index unsqueeze vsplit vstack where",
    "Random sampling": "Generator seed manual_seed initial_seed get_rng_state set_rng_state bernoulli multinomial "
                       "normal poisson rand rand_like randint randint_like randn randn_like randperm",
    "Serialization": "save load",
    "Gradient modes": "no_grad enable_grad set_grad_enabled is_grad_enabled inference_mode "
                      "is_inference_mode_enabled",
    "Pointwise math": "abs absolute acos arccos acosh arccosh add addcdiv addcmul angle asin arcsin asinh arcsinh "
                      "atan arctan atanh arctanh atan2 arctan2 bitwise_not bitwise_and bitwise_or bitwise_xor "
                      "bitwise_left_shift bitwise_right_shift ceil clamp clip conj_physical copysign cos cosh "
                      "deg2rad div divide digamma erf erfc erfinv exp exp2 expm1 fix float_power floor floor_divide "
                      "fmod frac frexp imag ldexp lerp lgamma log log10 log1p log2 logaddexp logaddexp2 logical_and "
                      "logical_not logical_or logical_xor logit hypot i0 igamma igammac mul multiply mvlgamma "
                      "nan_to_num neg negative nextafter polygamma positive pow rad2deg real reciprocal remainder "
                      "round rsqrt sigmoid sign sgn signbit sin sinc sinh softmax sqrt square sub subtract tan tanh "
                      "true_divide trunc xlogy",
    "Reductions": "argmax argmin amax amin aminmax all any max min dist logsumexp mean nanmean median nanmedian mode "
                  "norm nansum prod quantile nanquantile std std_mean sum unique unique_consecutive var var_mean "
                  "count_nonzero",
    "Comparison": "allclose argsort eq equal ge greater_equal gt greater isclose isfinite isin isinf isposinf "
                  "isneginf isnan isreal kthvalue le less_equal lt less maximum minimum fmax fmin ne not_equal sort "
                  "topk msort",
    "Other operations": "atleast_1d atleast_2d atleast_3d bincount block_diag broadcast_tensors broadcast_to "
                        "broadcast_shapes bucketize cartesian_prod cdist clone combinations corrcoef cov cross "
                        "cummax cummin cumprod cumsum diag diag_embed diagflat diagonal diff einsum flatten flip "
                        "fliplr flipud kron rot90 gcd histc histogram meshgrid lcm logcumsumexp ravel renorm "
                        "repeat_interleave roll searchsorted tensordot trace tril tril_indices triu triu_indices "
                        "unflatten vander view_as_real view_as_complex resolve_conj resolve_neg",
    "BLAS and LAPACK": "addbmm addmm addmv addr baddbmm bmm chain_matmul cholesky det dot inner inverse logdet "
                       "matmul matrix_power matrix_exp mm mv outer pinverse qr slogdet svd vdot",
}
TENSOR_METHODS = (
    "abs abs_ absolute acos acos_ add add_ addbmm addcdiv addcdiv_ addcmul addcmul_ addmm addmv addr all allclose "
    "amax amin any apply_ argmax argmin argsort argwhere as_strided asin asin_ atan atan2 atan_ backward baddbmm "
    "bernoulli bernoulli_ bfloat16 bincount bitwise_and bitwise_not bitwise_or bitwise_xor bmm bool byte ceil ceil_ "
    "char chunk clamp clamp_ clip clip_ clone contiguous copy_ cos cos_ cosh count_nonzero cpu cross cuda cummax "
    "cummin cumprod cumsum data data_ptr detach detach_ device diag diag_embed diagonal diff dim div div_ divide dot "
    "double dtype element_size eq eq_ equal erf erf_ exp exp_ expand expand_as expm1 exponential_ fill_ "
    "fill_diagonal_ fix flatten flip float floor floor_ floor_divide fmod frac gather ge ge_ geometric_ grad grad_fn "
    "gt gt_ half index_add_ index_copy_ index_fill_ index_put_ index_select int is_contiguous is_cuda "
    "is_floating_point is_leaf is_set_to isclose isfinite isinf isnan item kthvalue le le_ lerp lerp_ log log10 log1p "
    "log2 log_ log_normal_ logical_and logical_not logical_or logsumexp long lt lt_ masked_fill masked_fill_ "
    "masked_scatter_ masked_select matmul max maximum mean median min minimum mm mode moveaxis movedim mul mul_ "
    "multinomial mv nan_to_num nanmean nansum narrow ndim ndimension ne ne_ neg neg_ nelement new_empty new_full "
    "new_ones new_tensor new_zeros nonzero norm normal_ numel numpy outer permute pin_memory pow pow_ prod put_ "
    "random_ reciprocal reciprocal_ register_hook relu relu_ remainder repeat repeat_interleave requires_grad "
    "requires_grad_ reshape reshape_as resize_ retain_grad roll round round_ rsqrt scatter scatter_ scatter_add "
    "scatter_add_ select shape sigmoid sigmoid_ sign sin sin_ sinh size softmax sort split sqrt sqrt_ square "
    "squeeze squeeze_ std storage_offset stride sub sub_ sum sum_to_size t t_ take tan tanh tanh_ to tolist topk "
    "trace transpose transpose_ tril tril_ triu triu_ true_divide trunc type type_as unbind unflatten unfold "
    "uniform_ unique unsqueeze unsqueeze_ var view view_as where zero_ __getitem__ __setitem__ __matmul__ __len__ "
    "__iter__ __array__")
NN_MODULES = (
    "Module Sequential ModuleList ModuleDict ParameterList ParameterDict Parameter Identity Linear Bilinear "
    "LazyLinear Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d MaxPool1d MaxPool2d AvgPool1d AvgPool2d "
    "AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveMaxPool2d ELU Hardshrink Hardsigmoid Hardtanh Hardswish LeakyReLU "
    "LogSigmoid MultiheadAttention PReLU ReLU ReLU6 RReLU SELU CELU GELU Sigmoid SiLU Mish Softplus Softshrink "
    "Softsign Tanh Tanhshrink Threshold GLU Softmin Softmax LogSoftmax BatchNorm1d BatchNorm2d BatchNorm3d GroupNorm "
    "InstanceNorm1d InstanceNorm2d LayerNorm LocalResponseNorm RMSNorm RNN LSTM GRU RNNCell LSTMCell GRUCell "
    "Transformer TransformerEncoder TransformerEncoderLayer Dropout Dropout1d Dropout2d Dropout3d AlphaDropout "
    "Embedding EmbeddingBag CosineSimilarity PairwiseDistance L1Loss MSELoss CrossEntropyLoss CTCLoss NLLLoss "
    "PoissonNLLLoss GaussianNLLLoss KLDivLoss BCELoss BCEWithLogitsLoss MarginRankingLoss HingeEmbeddingLoss "
    "MultiLabelMarginLoss HuberLoss SmoothL1Loss SoftMarginLoss MultiLabelSoftMarginLoss CosineEmbeddingLoss "
    "MultiMarginLoss TripletMarginLoss PixelShuffle Upsample Flatten Unflatten")
NN_FUNCTIONAL = (
    "conv1d conv2d conv_transpose2d unfold fold avg_pool1d avg_pool2d max_pool1d max_pool2d adaptive_avg_pool2d "
    "adaptive_max_pool2d threshold relu relu_ hardtanh hardswish relu6 elu selu celu leaky_relu prelu rrelu glu gelu "
    "logsigmoid hardshrink tanhshrink softsign softplus softmin softmax softshrink gumbel_softmax log_softmax tanh "
    "sigmoid hardsigmoid silu mish batch_norm group_norm instance_norm layer_norm local_response_norm rms_norm "
    "normalize linear bilinear dropout alpha_dropout dropout1d dropout2d embedding one_hot pairwise_distance "
    "cosine_similarity pdist binary_cross_entropy binary_cross_entropy_with_logits poisson_nll_loss "
    "cosine_embedding_loss cross_entropy ctc_loss gaussian_nll_loss hinge_embedding_loss kl_div l1_loss mse_loss "
    "margin_ranking_loss multilabel_margin_loss multilabel_soft_margin_loss multi_margin_loss nll_loss huber_loss "
    "smooth_l1_loss soft_margin_loss triplet_margin_loss pixel_shuffle pad interpolate grid_sample "
    "scaled_dot_product_attention")
NN_INIT = ("calculate_gain uniform_ normal_ constant_ ones_ zeros_ eye_ dirac_ xavier_uniform_ xavier_normal_ "
           "kaiming_uniform_ kaiming_normal_ trunc_normal_ orthogonal_ sparse_")
OPTIM = "Optimizer SGD Adam AdamW RMSprop Adagrad Adadelta Adamax NAdam RAdam ASGD LBFGS Rprop SparseAdam"
LR_SCHEDULER = ("LRScheduler LambdaLR MultiplicativeLR StepLR MultiStepLR ConstantLR LinearLR ExponentialLR "
                "PolynomialLR CosineAnnealingLR ChainedScheduler SequentialLR ReduceLROnPlateau CyclicLR OneCycleLR "
                "CosineAnnealingWarmRestarts")
DATA = ("Dataset IterableDataset TensorDataset StackDataset ConcatDataset ChainDataset Subset DataLoader Sampler "
        "SequentialSampler RandomSampler SubsetRandomSampler WeightedRandomSampler BatchSampler random_split "
        "default_collate default_convert get_worker_info")


# ---- introspection ---------------------------------------------------------------------------------------
def _where(obj, ops) -> str:
    """Where a name comes from: 'op table `add`' for elementwise rows, else its module (short)."""
    target = obj.fget if isinstance(obj, property) else obj
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", "")
    if module == "cltensor.ops.elementwise" and name in ops:
        return f"op table `{name}`"
    if module == "cltensor.ops.elementwise":
        return "ops.elementwise"
    if not module.startswith("cltensor"):
        return "`Tensor` attribute" if module in ("", "builtins") else module
    return module.replace("cltensor.", "", 1) or "cltensor"


def _method_where(tensor_cls, name, ops) -> str:
    attr = None
    for klass in tensor_cls.__mro__:
        if name in vars(klass):
            attr = vars(klass)[name]
            break
    if attr is None:
        return ""
    if not isinstance(attr, property) and not callable(attr):
        return "tensor"  # a slot or plain attribute of the Tensor class
    # methods generated from an op row are lambdas defined in elementwise._install
    if getattr(attr, "__module__", "") == "cltensor.ops.elementwise" and \
            (name in ops or name.rstrip("_") in ops):
        return f"op table `{name.rstrip('_')}`"
    return _where(attr, ops)


def sections():
    """[(title, [(pytorch name, where in cltensor or '')])] in document order."""
    sys.path.insert(0, ROOT)
    import cltensor
    from cltensor import nn, optim
    from cltensor.nn import functional, init
    from cltensor.ops.elementwise import OPS
    from cltensor.optim import lr_scheduler
    from cltensor.utils import data

    def lookup(namespace, names, label):
        rows = []
        for n in names.split():
            obj = getattr(namespace, n, None)
            rows.append((f"{label}{n}", _where(obj, OPS) if obj is not None else ""))
        return rows

    out = [(f"torch: {title}", lookup(cltensor, names, "torch.")) for title, names in TORCH.items()]
    out.append(("Tensor methods and attributes",
                [(f"Tensor.{n}", _method_where(cltensor.Tensor, n, OPS)) for n in TENSOR_METHODS.split()]))
    out.append(("torch.nn", lookup(nn, NN_MODULES, "nn.")))
    out.append(("torch.nn.functional", lookup(functional, NN_FUNCTIONAL, "F.")))
    out.append(("torch.nn.init", lookup(init, NN_INIT, "init.")))
    out.append(("torch.optim", lookup(optim, OPTIM, "optim.")))
    out.append(("torch.optim.lr_scheduler", lookup(lr_scheduler, LR_SCHEDULER, "lr_scheduler.")))
    out.append(("torch.utils.data", lookup(data, DATA, "data.")))
    return out


def op_table_rows():
    from cltensor.ops.elementwise import OPS
    rows = []
    for name, op in sorted(OPS.items()):
        if name.startswith("_"):
            continue
        forms = [f"`{name}`"] + ([f"`Tensor.{name}`"] if op.method else []) + \
                ([f"`{name}_`"] if op.method and op.inplace else []) + [f"`{o}`" for o in op.operators]
        rows.append((name, op.arity, getattr(op.dtypes, "__name__", "?"), "yes" if op.vjp else "no", ", ".join(forms)))
    return rows


# ---- rendering -------------------------------------------------------------------------------------------
def render() -> str:
    secs = sections()
    covered = sum(1 for _, rows in secs for _, where in rows if where)
    total = sum(len(rows) for _, rows in secs)
    lines = ["# API coverage", "",
             "<!-- GENERATED FILE: do not edit. Regenerate with `python tools/gen_api_coverage.py`; "
             "tests/test_examples.py checks that it is current. -->", "",
             "Which PyTorch names `import cltensor as torch` provides, generated by `tools/gen_api_coverage.py` "
             "from the code itself (the elementwise op table `cltensor.ops.elementwise.OPS`, the `cltensor` "
             "namespace, `Tensor`'s methods, `nn`, `optim` and `utils.data`) against lists of PyTorch's public "
             "names kept in that script. *Where* names the op-table row or the module that provides a name; "
             "a dash means not implemented.", "",
             f"**{covered} of {total} listed PyTorch names are available.**", "",
             "| Area | Available | Listed |", "|---|---:|---:|"]
    for title, rows in secs:
        lines.append(f"| [{title}](#{_anchor(title)}) | {sum(1 for _, w in rows if w)} | {len(rows)} |")
    for title, rows in secs:
        lines += ["", f"## {title}", "", "| PyTorch | cltensor | Where |", "|---|:---:|---|"]
        lines += [f"| `{name}` | {'✓' if where else '—'} | {where} |" for name, where in rows]
    lines += ["", "## The elementwise op table", "",
              "Every row of `cltensor/ops/elementwise.py` (`defop(...)`), with the forms generated from it.", "",
              "| Op | Arity | Dtype rule | Backward | Generated forms |", "|---|---:|---|---|---|"]
    lines += [f"| `{n}` | {a} | {d} | {b} | {f} |" for n, a, d, b, f in op_table_rows()]
    return "\n".join(lines) + "\n"


def _anchor(title: str) -> str:
    return "".join(c for c in title.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if docs/api_coverage.md is out of date")
    args = p.parse_args(argv)
    text = render()
    if args.check:
        current = open(DOC, encoding="utf-8").read() if os.path.exists(DOC) else ""
        if current != text:
            print("docs/api_coverage.md is out of date: run python tools/gen_api_coverage.py")
            return 1
        return 0
    with open(DOC, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
