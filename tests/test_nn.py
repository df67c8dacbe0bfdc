"""cltensor.nn modules: Module machinery (registration, iteration, modes, devices/dtypes, hooks),
state_dict round trips and PyTorch's error texts, reprs, containers, Parameter, layers against
numpy float64 references and real PyTorch (weights copied across), train/eval behaviour,
default initialisation and nn.init distributions. Layers compute in PRECISE (float64 where the device
has it); float64 itself (.double(), float64 checkpoints, finite-difference gradchecks) is needs_fp64."""
import copy
import math
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import cltensor as torch
import cltensor.nn as nn
import cltensor.nn.functional as F
from cltensor.autograd import gradcheck
from helpers import HAVE_TORCH, PRECISE, assert_close, needs_fp64, np_of, real_torch

RNG = np.random.default_rng(11)
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")


def arr(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape)


def tp(a, requires_grad=False):
    """A tensor in PRECISE (float64 where the device has it, else float32); references stay numpy float64."""
    return torch.tensor(a, dtype=PRECISE, requires_grad=requires_grad)


def t64(a, requires_grad=False):
    """float64 itself: for the tests of float64 (needs_fp64), such as finite-difference gradchecks."""
    return torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad)


def tight(rtol, atol):
    """A tolerance against PyTorch's float64 that holds in float64; in float32, assert_close's own."""
    return dict(rtol=rtol, atol=atol) if PRECISE is torch.float64 else {}


def copy_to_torch(module, torch_module):
    """Load module's state into a real PyTorch module (through numpy)."""
    state = {k: real_torch.from_numpy(np_of(v)) for k, v in module.state_dict().items()}
    torch_module.load_state_dict(state)
    return torch_module


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(3, 2, bias=False)
        self.register_buffer("scale", torch.ones(2))
        self.register_buffer("scratch", torch.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.bn(self.fc1(x)))) * self.scale


# ---- registration and iteration -------------------------------------------------------------------------
def test_registration_by_attribute_assignment():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias",
                                                      "fc2.weight"]
    assert [n for n, _ in net.named_buffers()] == ["scale", "scratch", "bn.running_mean", "bn.running_var",
                                                   "bn.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "act", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "bn", "act", "fc2"]
    assert len(list(net.parameters())) == 5 and len(list(net.parameters(recurse=False))) == 0
    assert [n for n, _ in net.named_buffers(recurse=False)] == ["scale", "scratch"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf for p in net.parameters())
    assert isinstance(net.fc1, nn.Linear) and net.fc2.bias is None
    assert net.get_submodule("bn") is net.bn and net.get_parameter("fc1.bias") is net.fc1.bias
    assert net.get_buffer("bn.running_var") is net.bn.running_var
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        net.get_submodule("nope")
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        net.missing


def test_shared_modules_and_parameters_are_listed_once():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert len(list(seq.named_modules(remove_duplicate=False))) == 4
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_reassignment_changes_kind_and_deletion():
    m = nn.Module()
    m.x = nn.Parameter(torch.ones(2))
    assert "x" in m._parameters
    m.x = None  # a parameter slot accepts None
    assert m.x is None and list(m.parameters()) == []
    with pytest.raises(TypeError, match=r"cannot assign 'torch.FloatTensor' as parameter 'x' "
                                        r"\(torch.nn.Parameter or None expected\)"):
        m.x = torch.ones(2)
    m.register_buffer("b", torch.zeros(1))
    m.b = torch.ones(3)  # buffers accept any tensor
    assert m.b.shape == (3,)
    with pytest.raises(TypeError, match="as buffer 'b'"):
        m.b = 3
    m.sub = nn.ReLU()
    with pytest.raises(TypeError, match="as child module 'sub'"):
        m.sub = 1
    m.plain = torch.zeros(1)  # a plain tensor attribute is neither parameter nor buffer
    assert "plain" not in m._buffers and "plain" not in m._parameters
    m.sub = nn.Parameter(torch.ones(1))  # a new kind replaces the old registration
    assert "sub" not in m._modules and "sub" in m._parameters
    del m.sub, m.b
    assert "sub" not in m._parameters and "b" not in m._buffers
    with pytest.raises(AttributeError):
        m.sub


def test_registration_errors():
    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(torch.ones(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        Early()
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="be empty string"):
        m.register_buffer("", None)
    with pytest.raises(TypeError, match="parameter name should be a string"):
        m.register_parameter(1, None)
    with pytest.raises(TypeError, match=r"cannot assign 'torch.FloatTensor' object to parameter 'w' "
                                        r"\(torch.nn.Parameter or None required\)"):
        m.register_parameter("w", torch.ones(1))
    with pytest.raises(TypeError, match="object to buffer 'w'"):
        m.register_buffer("w", [1.0])
    m.attr = 5
    with pytest.raises(KeyError, match="attribute 'attr' already exists"):
        m.register_buffer("attr", torch.ones(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    leaf = torch.ones(2, requires_grad=True)
    nonleaf = nn.Parameter(torch.ones(2))
    nonleaf.grad_fn = (leaf * 2).grad_fn
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'w'"):
        m.register_parameter("w", nonleaf)
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        m(torch.ones(1))


def test_train_eval_requires_grad_and_apply():
    net = Net()
    assert net.training and net.bn.training
    assert net.eval() is net and not net.training and not net.bn.training and not net.fc1.training
    net.train()
    assert net.bn.training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "BatchNorm1d", "ReLU", "Linear", "Net"]


def test_zero_grad():
    lin = nn.Linear(3, 2)
    lin.weight.grad = torch.ones(2, 3)
    lin.zero_grad(set_to_none=False)
    assert_close(lin.weight.grad, np.zeros((2, 3)))
    assert lin.bias.grad is None
    lin.zero_grad()
    assert lin.weight.grad is None


@pytest.mark.parametrize("method, dtype", [("half", torch.float16),
                                           pytest.param("double", torch.float64, marks=needs_fp64)],
                         ids=["half", "double"])
def test_to_dtype_keeps_parameter_identity_and_int_buffers(method, dtype):
    net = Net()
    w = net.fc1.weight
    w.grad = torch.ones(3, 4)
    assert getattr(net, method)() is net
    assert net.fc1.weight is w and w.dtype is dtype and isinstance(w, nn.Parameter) and w.requires_grad
    assert w.grad.dtype is dtype
    assert net.bn.running_mean.dtype is dtype
    assert net.bn.num_batches_tracked.dtype is torch.int64  # only floating point tensors convert
    net.to(torch.float32)
    assert w.dtype is torch.float32
    net.to("cpu", dtype).float()
    assert w.dtype is torch.float32 and w.device == torch.device("cpu")
    assert net.cpu() is net
    net.to(torch.zeros(1, dtype=dtype))
    assert w.dtype is dtype
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point or complex dtypes"):
        net.to(torch.int32)


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    pre = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    post = lin.register_forward_hook(lambda m, args, out: calls.append(np_of(args[0])) or out + 1)
    x = torch.ones(1, 2)
    out = lin(x)
    assert_close(calls[0], np.zeros((1, 2)))
    assert_close(out, np_of(lin.bias)[None] + 1)
    pre.remove()
    post.remove()
    assert_close(lin(x), np_of(F.linear(x, lin.weight, lin.bias)))
    with lin.register_forward_pre_hook(lambda m, a, kw: ((a[0] * 2,), kw), with_kwargs=True):
        assert_close(lin(x), np_of(F.linear(x * 2, lin.weight, lin.bias)))
    assert not lin._forward_pre_hooks and not lin._forward_pre_hooks_with_kwargs
    order = []
    lin.register_forward_hook(lambda *a: order.append("b"))
    lin.register_forward_hook(lambda *a: order.append("a"), prepend=True)
    lin(x)
    assert order == ["a", "b"]


# ---- state_dict -----------------------------------------------------------------------------------------
def test_state_dict_keys_values_and_round_trip():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean",
                        "bn.running_var", "bn.num_batches_tracked", "fc2.weight"]
    assert "scratch" not in sd  # non-persistent
    assert not sd["fc1.weight"].requires_grad and not isinstance(sd["fc1.weight"], nn.Parameter)
    assert sd["fc1.weight"]._storage is net.fc1.weight._storage  # detached, same memory
    assert isinstance(net.state_dict(keep_vars=True)["fc1.weight"], nn.Parameter)
    assert sd._metadata["bn"]["version"] == 2
    other = Net()
    result = other.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for k, v in other.state_dict().items():
        assert_close(v, np_of(sd[k]))
    assert other.fc1.weight._storage is not net.fc1.weight._storage  # copied into, not aliased


def test_state_dict_prefix_and_sequential_keys():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.BatchNorm1d(3))
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias", "2.running_mean",
                                      "2.running_var", "2.num_batches_tracked"]
    assert list(seq.state_dict(prefix="model."))[0] == "model.0.weight"


def test_load_state_dict_strict_errors():
    net = Net()
    sd = dict(net.state_dict())
    del sd["fc1.bias"]
    sd["fc9.weight"] = torch.zeros(1)
    sd["bn.extra"] = torch.zeros(1)
    with pytest.raises(RuntimeError) as info:
        Net().load_state_dict(sd)
    assert str(info.value) == (
        'Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: "fc1.bias". \n\t'
        'Unexpected key(s) in state_dict: "fc9.weight", "bn.extra". ')
    result = Net().load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc1.bias"] and result.unexpected_keys == ["fc9.weight", "bn.extra"]
    assert "missing_keys=['fc1.bias']" in repr(result)
    bad = net.state_dict()
    bad["fc1.weight"] = torch.zeros(2, 2)
    with pytest.raises(RuntimeError, match=r"size mismatch for fc1.weight: copying a param with shape "
                                           r"torch.Size\(\[2, 2\]\) from checkpoint, the shape in current model is "
                                           r"torch.Size\(\[3, 4\]\)."):
        Net().load_state_dict(bad)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        net.load_state_dict([1, 2])


def _old_batchnorm_checkpoint(dtype):
    """A pre-1.0 checkpoint: no num_batches_tracked, values in another dtype than the model's."""
    return {k: torch.tensor(v, dtype=dtype) for k, v in
            {"weight": [1.0, 2.0], "bias": [0.5, 0.5], "running_mean": [0.25, 0.5], "running_var": [1.5, 2.5]}.items()}


@needs_fp64
def test_load_state_dict_casts_a_float64_checkpoint():
    bn = nn.BatchNorm1d(2)
    bn.load_state_dict(_old_batchnorm_checkpoint(torch.float64))
    assert bn.weight.dtype is torch.float32 and bn.running_mean.dtype is torch.float32
    assert_close(bn.running_mean, [0.25, 0.5])
    assert int(bn.num_batches_tracked) == 0


def test_load_state_dict_casts_fills_batchnorm_counter_and_assign():
    bn = nn.BatchNorm1d(2)
    bn.load_state_dict(_old_batchnorm_checkpoint(torch.float16))
    assert bn.weight.dtype is torch.float32
    assert_close(bn.running_var, [1.5, 2.5])
    assert_close(bn.weight, [1.0, 2.0])
    assert int(bn.num_batches_tracked) == 0
    sd = bn.state_dict()
    del sd["num_batches_tracked"]  # with version-2 metadata the counter is required
    with pytest.raises(RuntimeError, match='Missing key.*"num_batches_tracked"'):
        nn.BatchNorm1d(2).load_state_dict(sd)
    lin = nn.Linear(2, 2)
    new_w = torch.ones(2, 2)
    lin.load_state_dict({"weight": new_w, "bias": torch.zeros(2)}, assign=True)
    assert lin.weight._storage is new_w._storage and isinstance(lin.weight, nn.Parameter)
    assert lin.weight.requires_grad


@needs_torch
def test_state_dict_matches_pytorch_keys_and_loads_both_ways():
    ours = nn.Sequential(OrderedDict(fc=nn.Linear(3, 4), bn=nn.BatchNorm1d(4), emb=nn.Embedding(5, 2),
                                     ln=nn.LayerNorm(4)))
    theirs = real_torch.nn.Sequential(OrderedDict(
        fc=real_torch.nn.Linear(3, 4), bn=real_torch.nn.BatchNorm1d(4), emb=real_torch.nn.Embedding(5, 2),
        ln=real_torch.nn.LayerNorm(4)))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_to_torch(ours, theirs)
    back = {k: torch.tensor(v.numpy()) for k, v in theirs.state_dict().items()}
    ours2 = copy.deepcopy(ours)
    ours2.load_state_dict(back)
    for k, v in ours.state_dict().items():
        assert_close(ours2.state_dict()[k], np_of(v))


# ---- reprs ----------------------------------------------------------------------------------------------
def test_repr_exact():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    assert repr(seq) == ("Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                         "  (1): ReLU()\n)")
    nested = nn.Sequential(OrderedDict(block=nn.Sequential(nn.Linear(1, 1, bias=False)), out=nn.Tanh()))
    assert repr(nested) == ("Sequential(\n  (block): Sequential(\n    (0): Linear(in_features=1, out_features=1, "
                            "bias=False)\n  )\n  (out): Tanh()\n)")
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()])) == (
        "ModuleList(\n  (0-1): 2 x ReLU()\n  (2): Tanh()\n)")
    assert repr(nn.ModuleList()) == "ModuleList()"
    assert repr(nn.Module()) == "Module()"


REPR_CASES = [
    ("Linear", (2, 3), {}), ("Linear", (2, 3), {"bias": False}), ("Bilinear", (2, 3, 4), {}), ("Identity", (), {}),
    ("Flatten", (), {}), ("Unflatten", (1, (2, 5)), {}), ("Embedding", (10, 3), {"padding_idx": -1}),
    ("Embedding", (10, 3), {"max_norm": 1.0, "norm_type": 1.0, "scale_grad_by_freq": True}),
    ("Dropout", (), {}), ("Dropout", (0.2, True), {}), ("Dropout2d", (0.3,), {}), ("LayerNorm", (4,), {}),
    ("LayerNorm", ((4, 5),), {"elementwise_affine": False, "bias": False}), ("BatchNorm1d", (3,), {}),
    ("BatchNorm1d", (3,), {"momentum": None, "affine": False, "track_running_stats": False}),
    ("BatchNorm2d", (3,), {}), ("GroupNorm", (2, 4), {}), ("RMSNorm", (4,), {}),
    ("ReLU", (), {}), ("ReLU", (True,), {}), ("LeakyReLU", (0.2,), {}), ("ELU", (), {}), ("CELU", (), {}),
    ("SELU", (), {}), ("GELU", (), {}), ("GELU", ("tanh",), {}), ("SiLU", (), {}), ("Mish", (), {}),
    ("Sigmoid", (), {}), ("Tanh", (), {}), ("Softmax", (1,), {}), ("LogSoftmax", (), {"dim": -1}),
    ("Softmin", (0,), {}), ("Softplus", (), {}), ("Softplus", (2.0, 10.0), {}), ("Hardtanh", (), {}),
    ("Hardtanh", (-2.0, 2.0, True), {}), ("ReLU6", (), {}), ("Hardswish", (), {}), ("Hardsigmoid", (), {}),
    ("Hardshrink", (), {}), ("Softshrink", (0.3,), {}), ("Threshold", (0.1, 2.0), {}), ("GLU", (), {}),
    ("PReLU", (3,), {}), ("LogSigmoid", (), {}), ("Softsign", (), {}), ("Tanhshrink", (), {}),
    ("MSELoss", (), {}), ("CrossEntropyLoss", (), {"label_smoothing": 0.1}), ("BCEWithLogitsLoss", (), {}),
    ("SmoothL1Loss", (), {}), ("HuberLoss", (), {}), ("NLLLoss", (), {}), ("KLDivLoss", (), {}),
    ("CosineSimilarity", (), {}), ("PairwiseDistance", (), {}), ("InstanceNorm1d", (3,), {}),
    ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True}), ("AlphaDropout", (0.2,), {}),
    ("RReLU", (), {}), ("RReLU", (0.1, 0.2, True), {}), ("PixelShuffle", (2,), {}), ("PixelUnshuffle", (3,), {}),
    ("PoissonNLLLoss", (), {}), ("GaussianNLLLoss", (), {}), ("HingeEmbeddingLoss", (), {}),
    ("CosineEmbeddingLoss", (), {}), ("TripletMarginLoss", (), {}), ("MultiLabelSoftMarginLoss", (), {}),
    ("MultiMarginLoss", (), {}), ("MultiheadAttention", (8, 2), {}), ("TransformerEncoderLayer", (8, 2, 16), {}),
]


@needs_torch
@pytest.mark.parametrize("name, args, kwargs", REPR_CASES, ids=[c[0] for c in REPR_CASES])
def test_repr_matches_pytorch(name, args, kwargs):
    ours = getattr(nn, name)(*args, **kwargs)
    theirs = getattr(real_torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)


@needs_torch
def test_container_reprs_match_pytorch():
    def build(lib):
        return lib.nn.Sequential(
            lib.nn.ModuleDict({"a": lib.nn.Linear(1, 2), "b": lib.nn.ModuleList([lib.nn.ReLU()] * 3)}),
            lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2, 3, device="cpu")),
                                  lib.nn.Parameter(lib.ones(1, device="cpu"))]),
            lib.nn.ParameterDict({"p": lib.nn.Parameter(lib.zeros(4, device="cpu"))}))
    assert repr(build(torch)) == repr(build(real_torch))


def test_parameter_basics():
    data = torch.tensor([1.0, 2.0])
    p = nn.Parameter(data)
    assert isinstance(p, torch.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p._storage is data._storage
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert not nn.Parameter(data, requires_grad=False).requires_grad
    assert not isinstance(p * 2, nn.Parameter) and not isinstance(p.data, nn.Parameter)
    assert not isinstance(p[0], nn.Parameter)
    assert nn.Parameter().shape == (0,)
    with torch.no_grad():
        data.add_(1)
    assert_close(p.detach(), [2.0, 3.0])  # shared memory
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad and q._storage is not p._storage
    assert_close(q.detach(), [2.0, 3.0])
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, nn.Parameter) and r.requires_grad
    assert_close(r.detach(), [2.0, 3.0])
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(torch.tensor([1, 2]))


def test_deepcopy_module_is_independent():
    net = Net()
    clone = copy.deepcopy(net)
    assert clone.fc1.weight is not net.fc1.weight and isinstance(clone.fc1.weight, nn.Parameter)
    with torch.no_grad():
        clone.fc1.weight.fill_(0)
    assert np.abs(np_of(net.fc1.weight)).sum() > 0
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in net.named_parameters()]


# ---- containers -----------------------------------------------------------------------------------------
def test_sequential():
    a, b, c = nn.Linear(2, 2), nn.ReLU(), nn.Tanh()
    seq = nn.Sequential(a, b)
    assert len(seq) == 2 and seq[0] is a and seq[-1] is b and list(seq) == [a, b]
    assert isinstance(seq[0:1], nn.Sequential) and list(seq[0:1]) == [a]
    seq.append(c)
    assert list(seq._modules) == ["0", "1", "2"] and seq[2] is c
    seq.insert(1, nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Linear", "Identity", "ReLU", "Tanh"]
    seq.insert(-1, nn.GELU())
    assert [type(m).__name__ for m in seq] == ["Linear", "Identity", "ReLU", "GELU", "Tanh"]
    del seq[3]
    with pytest.raises(IndexError, match="Index out of range: 9"):
        seq.insert(9, nn.ReLU())
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is b
    assert seq.pop(2) is c and len(seq) == 2
    seq[1] = c
    assert seq[1] is c
    seq.extend([b])
    assert len(seq) == 3
    assert len(seq + nn.Sequential(b)) == 4
    with pytest.raises(IndexError, match="index 7 is out of range"):
        seq[7]
    named = nn.Sequential(OrderedDict([("first", a), ("second", b)]))
    assert named.first is a and list(named._modules) == ["first", "second"]
    x = torch.tensor([[1.0, -2.0]])
    assert_close(nn.Sequential(nn.Identity(), nn.ReLU())(x), [[1.0, 0.0]])


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers.insert(0, nn.Identity())
    assert [type(m).__name__ for m in layers] == ["Identity", "Linear", "Linear", "Linear", "ReLU", "Tanh"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert list(layers._modules) == [str(i) for i in range(5)]
    assert isinstance(layers.pop(-1), nn.Tanh)
    layers += [nn.Sigmoid()]
    assert isinstance(layers[-1], nn.Sigmoid)
    d = nn.ModuleDict({"lin": nn.Linear(2, 2), "act": nn.ReLU()})
    assert list(d.keys()) == ["lin", "act"] and "lin" in d and len(d) == 2
    d["out"] = nn.Tanh()
    assert list(d) == ["lin", "act", "out"] and d["out"] is d.out
    d.update([("act", nn.GELU())])
    assert isinstance(d["act"], nn.GELU)
    assert isinstance(d.pop("act"), nn.GELU) and list(d) == ["lin", "out"]
    assert list(d.state_dict()) == ["lin.weight", "lin.bias"]
    d.clear()
    assert len(d) == 0


def test_parameter_list_and_dict():
    pl = nn.ParameterList([torch.ones(2), nn.Parameter(torch.zeros(3))])
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 2
    pl.append(torch.ones(1))
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    pd = nn.ParameterDict({"a": torch.ones(2)})
    pd["b"] = nn.Parameter(torch.zeros(1))
    assert list(pd.keys()) == ["a", "b"] and isinstance(pd["a"], nn.Parameter)
    assert list(pd.state_dict()) == ["a", "b"]


# ---- layers against references --------------------------------------------------------------------------
def test_linear_against_numpy():
    lin = nn.Linear(4, 3).to(PRECISE)
    w, b = np_of(lin.weight), np_of(lin.bias)
    x = arr(5, 4)
    assert_close(lin(tp(x)), x @ w.T + b)
    x3 = arr(2, 5, 4)
    assert_close(lin(tp(x3)), x3 @ w.T + b)  # leading batch dims
    assert_close(lin(tp(x[0])), x[0] @ w.T + b)  # unbatched
    nobias = nn.Linear(4, 3, bias=False).to(PRECISE)
    assert_close(nobias(tp(x)), x @ np_of(nobias.weight).T)
    out = lin(tp(x)).sum()
    out.backward()
    assert_close(lin.weight.grad, np.ones((5, 3)).T @ x)
    assert_close(lin.bias.grad, np.full(3, 5.0))


@needs_fp64
def test_linear_and_bilinear_gradcheck():
    lin = nn.Linear(4, 3).double()
    assert gradcheck(lambda x_, w_, b_: F.linear(x_, w_, b_), (t64(arr(3, 4), True), lin.weight, lin.bias))
    bil = nn.Bilinear(3, 2, 4).double()
    a1, a2 = t64(arr(2, 3), True), t64(arr(2, 2), True)
    assert gradcheck(lambda p, q, w_, b_: F.bilinear(p, q, w_, b_), (a1, a2, bil.weight, bil.bias))


@needs_torch
def test_layers_match_pytorch_forward_and_backward():
    x = arr(6, 4)
    for ours, theirs in ((nn.Linear(4, 3), real_torch.nn.Linear(4, 3)),
                         (nn.LayerNorm(4), real_torch.nn.LayerNorm(4)),
                         (nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 2)),
                          real_torch.nn.Sequential(real_torch.nn.Linear(4, 8), real_torch.nn.GELU(),
                                                   real_torch.nn.Linear(8, 2)))):
        ours.to(PRECISE)
        theirs.double()
        with torch.no_grad():
            for p in ours.parameters():
                p.copy_(tp(arr(*p.shape)))
        copy_to_torch(ours, theirs)
        out = ours(tp(x))
        ref = theirs(real_torch.tensor(x))
        assert_close(out, ref.detach().numpy())
        (out * out).sum().backward()
        (ref * ref).sum().backward()
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
            assert_close(p.grad, q.grad.numpy(), **tight(1e-9, 1e-9))


def test_bilinear():
    bil = nn.Bilinear(3, 2, 4).to(PRECISE)
    w, b = np_of(bil.weight), np_of(bil.bias)
    x1, x2 = arr(5, 3), arr(5, 2)
    assert_close(bil(tp(x1), tp(x2)), np.einsum("ni,kij,nj->nk", x1, w, x2) + b)
    x1b, x2b = arr(2, 5, 3), arr(2, 5, 2)
    assert_close(bil(tp(x1b), tp(x2b)), np.einsum("bni,kij,bnj->bnk", x1b, w, x2b) + b)
    with pytest.raises(RuntimeError, match="input1 size does not match weight size"):
        bil(tp(arr(5, 2)), tp(x2))


def test_flatten_unflatten_identity():
    x = torch.arange(24.0).reshape(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Unflatten(1, (3, 4))(nn.Flatten()(x)).shape == (2, 3, 4)
    assert nn.Unflatten(-1, [2, -1])(x).shape == (2, 3, 2, 2)
    assert nn.Identity(54, unused="x")(x) is x
    with pytest.raises(TypeError):
        nn.Unflatten(1, 3)


def test_embedding():
    emb = nn.Embedding(6, 3, padding_idx=1).to(PRECISE)
    w = np_of(emb.weight)
    assert_close(w[1], np.zeros(3))
    idx = torch.tensor([[0, 1, 5], [1, 1, 2]])
    out = emb(idx)
    assert out.shape == (2, 3, 3)
    assert_close(out, w[np_of(idx)])
    out.pow(2).sum().backward()
    expected = np.zeros((6, 3))
    np.add.at(expected, np_of(idx).reshape(-1), 2 * w[np_of(idx).reshape(-1)])
    expected[1] = 0
    assert_close(emb.weight.grad, expected)
    assert emb(torch.tensor(4)).shape == (3,)
    assert nn.Embedding(4, 2, padding_idx=-1).padding_idx == 3
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(4, 2, padding_idx=4)
    pre = nn.Embedding.from_pretrained(tp(arr(4, 2)))
    assert not pre.weight.requires_grad and pre.weight.shape == (4, 2)
    scaled = tp(w, True)
    F.embedding(idx, scaled, scale_grad_by_freq=True).sum().backward()
    counts = np.bincount(np_of(idx).reshape(-1), minlength=6)[:, None]
    assert_close(scaled.grad, np.where(counts > 0, 1.0, 0.0) * np.ones((6, 3)))


@needs_fp64
def test_embedding_gradcheck():
    idx = torch.tensor([[0, 1, 5], [1, 1, 2]])
    weight = t64(arr(6, 3), True)
    assert gradcheck(lambda w_: F.embedding(idx, w_), (weight,))  # (padding_idx/scale_grad_by_freq alter the
    # gradient on purpose: they are checked against numpy in test_embedding and against PyTorch below)


@needs_torch
def test_embedding_options_match_pytorch():
    w = arr(7, 3)
    idx = np.array([[0, 2, 2, 6], [3, 2, 0, 0]])
    ours = nn.Embedding.from_pretrained(tp(w), freeze=False, padding_idx=0, max_norm=1.0,
                                        scale_grad_by_freq=True)
    theirs = real_torch.nn.Embedding.from_pretrained(real_torch.tensor(w), freeze=False, padding_idx=0,
                                                     max_norm=1.0, scale_grad_by_freq=True)
    g = arr(2, 4, 3)
    out, ref = ours(torch.tensor(idx)), theirs(real_torch.tensor(idx))
    assert_close(out, ref.detach().numpy(), **tight(1e-6, 1e-7))
    assert_close(ours.weight, theirs.weight.detach().numpy(), **tight(1e-6, 1e-7))  # renormalised in place
    out.backward(tp(g))
    ref.backward(real_torch.tensor(g))
    assert_close(ours.weight.grad, theirs.weight.grad.numpy(), **tight(1e-6, 1e-7))


def test_dropout_train_eval():
    torch.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = torch.ones(200, 100)
    y = np_of(drop(x))
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    assert_close(y[kept], np.full(kept.sum(), 1 / 0.75))
    drop.eval()
    assert drop(x) is x
    torch.manual_seed(3)
    a = np_of(F.dropout(x, 0.5))
    torch.manual_seed(3)
    assert np.array_equal(a, np_of(F.dropout(x, 0.5)))  # the seed reproduces the mask
    assert_close(F.dropout(x, 1.0), np.zeros((200, 100)))
    assert F.dropout(x, 0.0) is x
    xg = torch.ones(10, requires_grad=True)
    out = F.dropout(xg, 0.5)
    out.sum().backward()
    assert_close(xg.grad, np_of(out))  # the gradient is the scaled mask
    xi = torch.ones(50, 40)
    assert F.dropout(xi, 0.5, inplace=True) is xi and (np_of(xi) == 0).any()
    channel = np_of(nn.Dropout2d(0.5)(torch.ones(8, 16, 3, 3)))
    assert np.all(channel.min(axis=(2, 3)) == channel.max(axis=(2, 3)))  # whole channels
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


def test_layer_norm_module():
    ln = nn.LayerNorm((3, 4)).to(PRECISE)
    with torch.no_grad():
        ln.weight.copy_(tp(arr(3, 4)))
        ln.bias.copy_(tp(arr(3, 4)))
    x = arr(2, 3, 4)
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    assert_close(ln(tp(x)), (x - mean) / np.sqrt(var + 1e-5) * np_of(ln.weight) + np_of(ln.bias))
    plain = nn.LayerNorm(4, elementwise_affine=False)
    assert list(plain.parameters()) == []
    assert_close(plain(torch.tensor(x, dtype=torch.float32)),
                 (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5), rtol=1e-5, atol=1e-5)


def _bn_reference(x, mean_rm, var_rv, momentum, steps):
    axes = (0,) + tuple(range(2, x.ndim))
    n = x.size // x.shape[1]
    rm, rv = mean_rm.copy(), var_rv.copy()
    for _ in range(steps):
        rm = (1 - momentum) * rm + momentum * x.mean(axis=axes)
        rv = (1 - momentum) * rv + momentum * x.var(axis=axes) * n / (n - 1)
    return rm, rv


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
def test_batch_norm_train_eval_running_stats(shape):
    bn = nn.BatchNorm1d(3).to(PRECISE)
    with torch.no_grad():
        bn.weight.copy_(tp([1.0, 2.0, 0.5]))
        bn.bias.copy_(tp([0.0, -1.0, 0.25]))
    x = arr(*shape) * 3 + 1
    axes = (0,) + tuple(range(2, x.ndim))
    view = (1, 3) + (1,) * (x.ndim - 2)
    w, b = np_of(bn.weight).reshape(view), np_of(bn.bias).reshape(view)
    train_ref = (x - x.mean(axis=axes).reshape(view)) / np.sqrt(x.var(axis=axes).reshape(view) + 1e-5) * w + b
    for _ in range(3):
        out = bn(tp(x))
    assert_close(out, train_ref)
    rm, rv = _bn_reference(x, np.zeros(3), np.ones(3), 0.1, 3)
    assert_close(bn.running_mean, rm)
    assert_close(bn.running_var, rv)
    assert int(bn.num_batches_tracked) == 3
    bn.eval()
    eval_ref = (x - rm.reshape(view)) / np.sqrt(rv.reshape(view) + 1e-5) * w + b
    assert_close(bn(tp(x)), eval_ref)
    assert int(bn.num_batches_tracked) == 3  # eval leaves the statistics alone
    assert_close(bn.running_mean, rm)


def test_batch_norm_options():
    x = arr(6, 2)
    cma = nn.BatchNorm1d(2, momentum=None).to(PRECISE)
    x2 = arr(6, 2)
    cma(tp(x))
    cma(tp(x2))
    assert_close(cma.running_mean, (x.mean(0) + x2.mean(0)) / 2)  # cumulative average
    free = nn.BatchNorm1d(2, affine=False, track_running_stats=False).to(PRECISE)
    assert list(free.parameters()) == [] and free.running_mean is None
    free.eval()  # without running statistics the batch statistics are used in eval mode too
    assert_close(free(tp(x)), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5))
    assert list(free.state_dict()) == []
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(2)(torch.zeros(2, 2, 2, 2))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(2)(torch.zeros(1, 2))
    bn2 = nn.BatchNorm2d(2).to(PRECISE)
    x4 = arr(2, 2, 3, 3)
    ref = (x4 - x4.mean(axis=(0, 2, 3), keepdims=True)) / np.sqrt(x4.var(axis=(0, 2, 3), keepdims=True) + 1e-5)
    assert_close(bn2(tp(x4)), ref)


@needs_torch
def test_batch_norm_matches_pytorch_over_steps():
    ours = nn.BatchNorm1d(4, momentum=0.3).to(PRECISE)
    theirs = real_torch.nn.BatchNorm1d(4, momentum=0.3).double()
    for _ in range(3):
        x = arr(5, 4, 2)
        out, ref = ours(tp(x)), theirs(real_torch.tensor(x))
        assert_close(out, ref.detach().numpy())
    for k, v in theirs.state_dict().items():
        assert_close(ours.state_dict()[k], v.numpy())
    ours.eval()
    theirs.eval()
    x = arr(5, 4, 2)
    assert_close(ours(tp(x)), theirs(real_torch.tensor(x)).detach().numpy())


def test_group_norm_and_rms_norm():
    gn = nn.GroupNorm(2, 4).to(PRECISE)
    x = arr(3, 4, 5)
    g = x.reshape(3, 2, -1)
    ref = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(x.shape)
    assert_close(gn(tp(x)), ref)
    with pytest.raises(ValueError, match="num_channels"):
        nn.GroupNorm(3, 4)
    rms = nn.RMSNorm(5, eps=1e-6).to(PRECISE)
    assert_close(rms(tp(x)), x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6))


ACTIVATION_MODULES = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)), (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))), (nn.Tanh(), np.tanh),
    (nn.Softplus(2.0), lambda x: np.log1p(np.exp(2 * x)) / 2), (nn.Hardtanh(-0.5, 0.5), lambda x: np.clip(x, -.5, .5)),
    (nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))), (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=1), lambda x: x - np.log(np.exp(x).sum(1, keepdims=True))),
]


@pytest.mark.parametrize("module, ref", ACTIVATION_MODULES, ids=[type(m).__name__ for m, _ in ACTIVATION_MODULES])
def test_activation_modules(module, ref):
    x = arr(3, 4)
    assert_close(module(tp(x)), ref(x))


def test_inplace_activation_modules_write_their_input():
    x = torch.tensor([-1.0, 2.0])
    assert nn.ReLU(inplace=True)(x) is x
    assert_close(x, [0.0, 2.0])
    y = torch.tensor([-1.0, 2.0])
    nn.LeakyReLU(0.5, inplace=True)(y)
    assert_close(y, [-0.5, 2.0])
    leaf = torch.tensor([-1.0, 2.0], requires_grad=True)
    z = leaf * 1
    nn.ELU(inplace=True)(z)
    z.sum().backward()
    assert_close(leaf.grad, [math.exp(-1.0), 1.0])


def test_training_a_small_mlp_reduces_the_loss():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(64, 2)), dtype=torch.float32)
    y = torch.tensor((rng.normal(size=64) > 0).astype(np.int64))
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(20):
        model.zero_grad()
        loss = loss_fn(model(x + y.unsqueeze(1) * 2.0), y)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p.sub_(p.grad * 0.5)
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# ---- initialisation -------------------------------------------------------------------------------------
def test_default_initialisation_distributions():
    torch.manual_seed(1)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = np_of(lin.weight), np_of(lin.bias)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound and abs(w.mean()) < 0.01 * bound
    assert np.abs(w).max() > 0.99 * bound
    emb = np_of(nn.Embedding(500, 100).weight)
    assert abs(emb.mean()) < 0.02 and abs(emb.std() - 1) < 0.02
    bil = np_of(nn.Bilinear(50, 30, 20).weight)
    assert np.abs(bil).max() <= 1 / math.sqrt(50) and abs(bil.std() - 1 / math.sqrt(150)) < 0.003
    ln = nn.LayerNorm(3)
    assert_close(ln.weight, np.ones(3))
    assert_close(ln.bias, np.zeros(3))
    bn = nn.BatchNorm1d(3)
    assert_close(bn.weight, np.ones(3))
    assert_close(bn.running_var, np.ones(3))
    torch.manual_seed(5)
    first = np_of(nn.Linear(3, 3).weight)
    torch.manual_seed(5)
    assert np.array_equal(first, np_of(nn.Linear(3, 3).weight))


INIT_CASES = [
    ("uniform_", {"a": -0.5, "b": 1.5}, 0.5, 2 / math.sqrt(12), (-0.5, 1.5)),
    ("normal_", {"mean": 1.0, "std": 0.5}, 1.0, 0.5, None),
    ("xavier_uniform_", {"gain": 2.0}, 0.0, 2.0 * math.sqrt(2 / 500),
     (-2 * math.sqrt(6 / 500), 2 * math.sqrt(6 / 500))),
    ("xavier_normal_", {}, 0.0, math.sqrt(2 / 500), None),
    ("kaiming_uniform_", {"a": math.sqrt(5)}, 0.0, 1 / math.sqrt(3 * 200), (-1 / math.sqrt(200), 1 / math.sqrt(200))),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, 0.0, math.sqrt(2 / 300), None),
    ("trunc_normal_", {"mean": 0.5, "std": 1.0, "a": -1.0, "b": 1.0}, 0.5 - 0.0 * 0, None, (-1.0, 1.0)),
]


@pytest.mark.parametrize("name, kwargs, mean, std, bounds", INIT_CASES, ids=[c[0] for c in INIT_CASES])
def test_init_distributions(name, kwargs, mean, std, bounds):
    torch.manual_seed(2)
    w = torch.empty(300, 200, requires_grad=True)
    out = getattr(nn.init, name)(w, **kwargs)
    assert out is w and w.requires_grad and w.grad_fn is None
    v = np_of(w)
    if name == "trunc_normal_":  # N(0.5, 1) truncated to [-1, 1]: moments from scipy-free formulas
        from math import erf, exp, pi, sqrt
        alpha, beta = -1.5, 0.5
        phi = lambda z: exp(-z * z / 2) / sqrt(2 * pi)  # noqa: E731
        cdf = lambda z: (1 + erf(z / sqrt(2))) / 2  # noqa: E731
        z = cdf(beta) - cdf(alpha)
        mean = 0.5 + (phi(alpha) - phi(beta)) / z
        std = sqrt(1 + (alpha * phi(alpha) - beta * phi(beta)) / z - ((phi(alpha) - phi(beta)) / z) ** 2)
    assert abs(v.mean() - mean) < 0.01 * max(std, 1) + 3 * std / math.sqrt(v.size)
    assert abs(v.std() - std) < 0.01 * std
    if bounds is not None:
        assert v.min() >= bounds[0] and v.max() <= bounds[1]
        assert v.min() < bounds[0] + 0.01 * (bounds[1] - bounds[0])


def test_init_misc_and_errors():
    w = torch.empty(3, 4)
    assert_close(nn.init.constant_(w, 0.3), np.full((3, 4), 0.3))
    assert_close(nn.init.ones_(w), np.ones((3, 4)))
    assert_close(nn.init.zeros_(w), np.zeros((3, 4)))
    assert_close(nn.init.eye_(w), np.eye(3, 4))
    assert nn.init._calculate_fan_in_and_fan_out(torch.empty(5, 3, 2, 2)) == (12, 20)
    assert nn.init.calculate_gain("relu") == math.sqrt(2)
    assert nn.init.calculate_gain("tanh") == 5.0 / 3
    assert nn.init.calculate_gain("conv2d") == 1 and nn.init.calculate_gain("selu") == 0.75
    assert nn.init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        nn.init.calculate_gain("foo")
    with pytest.raises(ValueError, match="negative_slope"):
        nn.init.calculate_gain("leaky_relu", "x")
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with fewer than 2"):
        nn.init.xavier_uniform_(torch.empty(3))
    with pytest.raises(ValueError, match=r"Mode fan_x not supported, please use one of \['fan_in', 'fan_out'\]"):
        nn.init.kaiming_uniform_(torch.empty(2, 2), mode="fan_x")
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        nn.init.eye_(torch.empty(2, 2, 2))
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        nn.init.kaiming_uniform_(torch.empty(0, 3))
    gen = torch.Generator().manual_seed(4)
    a = np_of(nn.init.normal_(torch.empty(5), generator=gen))
    gen.manual_seed(4)
    assert np.array_equal(a, np_of(nn.init.normal_(torch.empty(5), generator=gen)))


@needs_torch
def test_init_gains_and_erfinv_match_pytorch():
    for name in ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu"):
        assert nn.init.calculate_gain(name) == real_torch.nn.init.calculate_gain(name)
    u = np.linspace(-0.999, 0.999, 41)
    u = u.astype(PRECISE.np)  # both sides from the same values
    ours = nn.init._erfinv_(tp(u))
    assert_close(ours, real_torch.special.erfinv(real_torch.tensor(u.astype(np.float64))).numpy(),
                 **tight(1e-10, 1e-12))


def _cl_device():
    try:
        return torch.device("cl:0")
    except Exception:  # noqa: BLE001 - no OpenCL device besides host memory
        return None


@pytest.mark.skipif(_cl_device() is None, reason="no cl:0 device")
def test_module_to_device_and_back():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).cpu()
    w = net[0].weight
    ref = np_of(net(torch.ones(5, 3, device="cpu")))
    assert net.to("cl:0") is net and net[0].weight is w
    assert all(t.device == torch.device("cl:0") for t in list(net.parameters()) + list(net.buffers()))
    out = net(torch.ones(5, 3, device="cl:0"))
    assert out.device == torch.device("cl:0")
    out.sum().backward()
    assert w.grad.device == torch.device("cl:0")
    net.cpu()
    assert w.device == torch.device("cpu") and w.grad.device == torch.device("cpu")
    net.eval()
    assert np_of(net(torch.ones(5, 3, device="cpu"))).shape == ref.shape


# ---- nn.utils -------------------------------------------------------------------------------------------
def test_clip_grad_norm_and_value():
    params = [nn.Parameter(tp(arr(3, 2))), nn.Parameter(tp(arr(4))), nn.Parameter(tp(arr(2)))]
    grads = [arr(3, 2) * 3, arr(4) * 3]
    for p, g in zip(params, grads):
        p.grad = tp(g)
    total = np.sqrt(sum((g ** 2).sum() for g in grads))
    out = nn.utils.clip_grad_norm_(params, 1.0)
    assert_close(out, total)
    for p, g in zip(params, grads):
        assert_close(p.grad, g * min(1.0, 1.0 / (total + 1e-6)))
    assert params[2].grad is None
    inf_total = nn.utils.clip_grad_norm_(params[:2], 10.0, norm_type="inf")
    assert_close(inf_total, np.abs(np.concatenate([np_of(p.grad).ravel() for p in params[:2]])).max())
    params[0].grad = tp(np.full((3, 2), 5.0))
    nn.utils.clip_grad_value_(params[0], 2.0)
    assert_close(params[0].grad, np.full((3, 2), 2.0))
    params[1].grad = tp(np.array([np.inf, 1.0, 0.0, 0.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(params[1], 1.0, error_if_nonfinite=True)


@needs_torch
def test_clip_grad_norm_matches_pytorch():
    grads = [arr(3, 2) * 4, arr(5)]
    ours = [nn.Parameter(tp(np.zeros_like(g))) for g in grads]
    theirs = [real_torch.nn.Parameter(real_torch.zeros(g.shape, dtype=real_torch.float64)) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = tp(g), real_torch.tensor(g)
    for norm_type in (2.0, 1.0):
        assert_close(nn.utils.clip_grad_norm_(ours, 0.5, norm_type),
                     real_torch.nn.utils.clip_grad_norm_(theirs, 0.5, norm_type).numpy())
        for p, q in zip(ours, theirs):
            assert_close(p.grad, q.grad.numpy())


def test_parameters_to_vector_round_trip():
    lin = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(lin.parameters())
    assert vec.shape == (8,)
    assert_close(vec, np.concatenate([np_of(lin.weight).ravel(), np_of(lin.bias)]))
    nn.utils.vector_to_parameters(torch.arange(8.0), lin.parameters())
    assert_close(lin.weight, np.arange(6.0).reshape(2, 3))
    assert_close(lin.bias, [6.0, 7.0])


# ---- attention and transformer layers -------------------------------------------------------------------
MHA_CASES = [({}, {}), ({"batch_first": True}, {"key_padding_mask": True}),
             ({"kdim": 4, "vdim": 6}, {"attn_mask": True}),
             ({"bias": False}, {"need_weights": False, "attn_mask": True, "key_padding_mask": True}),
             ({}, {"average_attn_weights": False, "attn_mask": "float"})]
MHA_IDS = ["plain", "batch_first_kpm", "kdim_vdim_mask", "no_bias_sdpa", "per_head_weights"]


@needs_torch
@pytest.mark.parametrize("options, call", MHA_CASES, ids=MHA_IDS)
def test_multihead_attention_matches_pytorch(options, call):
    ours = nn.MultiheadAttention(8, 2, **options).to(PRECISE)
    theirs = real_torch.nn.MultiheadAttention(8, 2, **options).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_to_torch(ours, theirs)
    batch_first = options.get("batch_first", False)
    q = arr(3, 5, 8) if batch_first else arr(5, 3, 8)
    k = arr(*((3, 7) if batch_first else (7, 3)), options.get("kdim", 8))
    v = arr(*((3, 7) if batch_first else (7, 3)), options.get("vdim", 8))
    ours_kw, their_kw = {}, {}
    for key, value in call.items():
        if value is True or value == "float":
            mask = RNG.random((3, 7) if key == "key_padding_mask" else (5, 7)) > 0.7
            mask[..., 0] = False
            if value == "float":
                mask = np.where(mask, -1.5, 0.0)
            ours_kw[key], their_kw[key] = torch.tensor(mask) if value is True else tp(mask), real_torch.tensor(mask)
        else:
            ours_kw[key] = their_kw[key] = value
    inputs = [tp(a, True) for a in (q, k, v)]
    their_inputs = [real_torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out, weights = ours(*inputs, **ours_kw)
    ref, ref_weights = theirs(*their_inputs, **their_kw)
    assert_close(out, ref.detach().numpy())
    assert (weights is None) == (ref_weights is None)
    if weights is not None:
        assert_close(weights, ref_weights.detach().numpy())
    g = arr(*out.shape)
    out.backward(tp(g))
    ref.backward(real_torch.tensor(g))
    for a, b in zip(inputs, their_inputs):
        assert_close(a.grad, b.grad.numpy(), **tight(1e-8, 1e-10))
    for (name, p), q_ in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, q_.grad.numpy(), **tight(1e-8, 1e-10))


def test_multihead_attention_unbatched_and_errors():
    mha = nn.MultiheadAttention(4, 2).to(PRECISE)
    x = tp(arr(5, 4))
    out, weights = mha(x, x, x)
    batched, batched_w = mha(x.unsqueeze(1), x.unsqueeze(1), x.unsqueeze(1))
    assert out.shape == (5, 4) and weights.shape == (5, 5)
    assert_close(out, np_of(batched)[:, 0])
    assert_close(weights, np_of(batched_w)[0])
    assert_close(np_of(weights).sum(-1), np.ones(5))
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(5, 2)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \(2, 2\), but should be \(5, 5\)."):
        mha(x, x, x, attn_mask=torch.zeros(2, 2, dtype=torch.bool))


@needs_torch
@pytest.mark.parametrize("norm_first, activation", [(False, "relu"), (True, "gelu")])
def test_transformer_encoder_matches_pytorch(norm_first, activation):
    kwargs = dict(dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=norm_first, activation=activation)
    layer = nn.TransformerEncoderLayer(8, 2, **kwargs)
    ours = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8)).to(PRECISE)
    theirs = real_torch.nn.TransformerEncoder(real_torch.nn.TransformerEncoderLayer(8, 2, **kwargs), 2,
                                              norm=real_torch.nn.LayerNorm(8), enable_nested_tensor=False).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_to_torch(ours, theirs)
    assert repr(ours) == repr(theirs)
    x = arr(3, 5, 8)
    kpm = RNG.random((3, 5)) > 0.7
    kpm[:, 0] = False
    causal = np.triu(np.full((5, 5), -np.inf), 1)
    xt = tp(x, True)
    tx = real_torch.tensor(x, requires_grad=True)
    out = ours(xt, mask=tp(causal), src_key_padding_mask=torch.tensor(kpm))
    ref = theirs(tx, mask=real_torch.tensor(causal), src_key_padding_mask=real_torch.tensor(kpm))
    assert_close(out, ref.detach().numpy(), **tight(1e-9, 1e-10))
    out.sum().backward()
    ref.sum().backward()
    assert_close(xt.grad, tx.grad.numpy(), **tight(1e-8, 1e-9))
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad.numpy(), **tight(1e-8, 1e-9))
