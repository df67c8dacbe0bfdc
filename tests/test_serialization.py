"""save/load: round trips of tensors and containers, map_location, PyTorch interop, and hostile or
damaged files."""
import io
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import cltensor as torch
from helpers import ALL_DTYPES, HAVE_TORCH, needs_fp64, random_array, real_torch

# every dtype; float64 runs fully where the device has cl_khr_fp64 and must raise where it has not
EVERY_DTYPE = [pytest.param(d, marks=needs_fp64, id=d.name) if d is torch.float64 else pytest.param(d, id=d.name)
               for d in ALL_DTYPES]


def _round_trip(obj, **load_kwargs):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return torch.load(io.BytesIO(buf.getvalue()), **load_kwargs)


def _same(a, b):
    assert a.dtype is b.dtype and a.shape == b.shape and a.device == b.device
    np.testing.assert_array_equal(a.detach().cpu().numpy(), b.detach().cpu().numpy())


@pytest.mark.parametrize("dtype", EVERY_DTYPE)
def test_tensor_round_trip_every_dtype(dtype):
    t = torch.tensor(random_array((3, 4), dtype))
    _same(_round_trip(t), t)


@pytest.mark.parametrize("make", [lambda: torch.tensor(2.5), lambda: torch.zeros(0, 3), lambda: torch.ones(2, 0, 1),
                                  lambda: torch.arange(24.).reshape(4, 6).t(), lambda: torch.arange(10)[1::3],
                                  lambda: torch.arange(3.).expand(4, 3), lambda: torch.arange(12.).reshape(3, 4)[1]],
                         ids=["0-d", "empty", "empty-3d", "transposed", "stepped", "expanded", "offset"])
def test_layouts_round_trip(make):
    t = make()
    back = _round_trip(t)
    _same(back, t)
    assert back.stride() == t.stride() and back.storage_offset() == t.storage_offset()


def test_views_share_one_storage_record():
    base = torch.arange(1000.)
    views = {"a": base, "b": base[10:20], "c": base.reshape(10, 100).t(), "d": base[::7]}
    buf = io.BytesIO()
    torch.save(views, buf)
    assert len(buf.getvalue()) < 4000 + 1500  # one 4000-byte storage, not four
    back = torch.load(io.BytesIO(buf.getvalue()))
    for k in views:
        _same(back[k], views[k])
    assert len({id(v._storage) for v in back.values()}) == 1
    back["b"].fill_(-1)  # the views alias after loading, as they did before saving
    assert back["a"][15].item() == -1


def test_nested_containers_and_plain_values():
    obj = OrderedDict(w=torch.ones(2), meta={"epoch": 3, "lr": 1e-3, "name": "run", "done": False, "none": None,
                                              "shape": torch.Size([2, 3]), "dtype": torch.float16,
                                              "dev": torch.device("cpu"), "tags": ("a", "b"), "raw": b"\x00\x01",
                                              "big": 2 ** 70, "ids": {1, 2}},
                      history=[torch.zeros(3, dtype=torch.int32), [torch.tensor(True)]])
    back = _round_trip(obj)
    assert isinstance(back, OrderedDict) and list(back) == ["w", "meta", "history"]
    assert back["meta"] == {k: v for k, v in obj["meta"].items()}
    assert isinstance(back["meta"]["shape"], torch.Size) and back["meta"]["dtype"] is torch.float16
    _same(back["history"][0], obj["history"][0])
    _same(back["history"][1][0], obj["history"][1][0])


def test_requires_grad_and_parameters_round_trip():
    p = torch.nn.Parameter(torch.randn(3))
    t = torch.randn(2, requires_grad=True)
    back = _round_trip({"p": p, "t": t})
    assert isinstance(back["p"], torch.nn.Parameter) and back["p"].requires_grad
    assert back["t"].requires_grad and back["t"].is_leaf and type(back["t"]) is torch.Tensor
    _same(back["p"], p)


def test_module_state_dict_round_trip_keeps_metadata():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    sd = model.state_dict()
    back = _round_trip(sd)
    assert list(back) == list(sd) and hasattr(back, "_metadata")
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    fresh.load_state_dict(back)
    for a, b in zip(model.parameters(), fresh.parameters()):
        _same(a, b)


def test_optimizer_state_round_trip():
    w = torch.randn(3, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.1)
    w.grad = torch.ones(3)
    opt.step()
    back = _round_trip(opt.state_dict())
    assert back["param_groups"][0]["betas"] == (0.9, 0.999) and back["state"][0]["step"] == 1
    _same(back["state"][0]["exp_avg"], opt.state[w]["exp_avg"])


def test_whole_module_needs_weights_only_false():
    model = torch.nn.Linear(2, 3)
    buf = io.BytesIO()
    torch.save(model, buf)
    with pytest.raises(pickle.UnpicklingError, match="weights_only"):
        torch.load(io.BytesIO(buf.getvalue()))
    back = torch.load(io.BytesIO(buf.getvalue()), weights_only=False)
    assert isinstance(back, torch.nn.Linear) and isinstance(back.weight, torch.nn.Parameter)
    _same(back.weight, model.weight)


def test_save_to_a_path(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"x": torch.arange(4)}, path)
    assert zipfile.is_zipfile(path)
    assert torch.load(str(path))["x"].tolist() == [0, 1, 2, 3]
    with zipfile.ZipFile(path) as zf:  # the documented layout; data records 64-byte aligned
        names = zf.namelist()
        assert {"archive/data.pkl", "archive/version", "archive/byteorder", "archive/data/0"} <= set(names)
        info = zf.getinfo("archive/data/0")
        data_start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        assert data_start % 64 == 0
        assert zf.read("archive/data/0") == np.arange(4, dtype="<i8").tobytes()


# ---- map_location ----------------------------------------------------------------------------------------
def _cl_checkpoint():
    buf = io.BytesIO()
    x = torch.arange(6.).reshape(2, 3).to("cl:0")
    torch.save({"x": x, "xt": x.t()}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("map_location,expected", [
    (None, "cl:0"), ("cpu", "cpu"), (torch.device("cpu"), "cpu"), ({"cl:0": "cpu"}, "cpu"), ({"cl:5": "cpu"}, "cl:0"),
    (lambda storage, loc: storage, "cpu"), (lambda storage, loc: storage.cl(0), "cl:0"),
    (lambda storage, loc: None, "cl:0"), (lambda storage, loc: "cpu", "cpu")])
def test_map_location(map_location, expected):
    back = torch.load(io.BytesIO(_cl_checkpoint()), map_location=map_location)
    assert back["x"].device == torch.device(expected) and back["xt"].device == torch.device(expected)
    assert back["xt"].tolist() == [[0, 3], [1, 4], [2, 5]]
    assert back["x"]._storage is back["xt"]._storage


def _repack(data: bytes, edit) -> bytes:
    """The archive with data.pkl rewritten by edit (a valid zip again, CRCs included)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        records = {name: zf.read(name) for name in zf.namelist()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in records.items():
            zf.writestr(name, edit(blob) if name.endswith("data.pkl") else blob)
    return buf.getvalue()


def test_unknown_saved_location_asks_for_map_location():
    data = _repack(_cl_checkpoint(), lambda pkl: pkl.replace(b"cl:0", b"cl:9"))
    with pytest.raises(RuntimeError, match="map_location"):
        torch.load(io.BytesIO(data))
    assert torch.load(io.BytesIO(data), map_location="cpu")["x"].device == torch.device("cpu")


# ---- PyTorch interop -----------------------------------------------------------------------------------------
@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
def test_pytorch_reads_our_files_and_we_read_theirs():
    ours = {"w": torch.arange(6.).reshape(2, 3).t(), "i": torch.tensor([1, 2], dtype=torch.int16), "s": torch.Size([3])}
    buf = io.BytesIO()
    torch.save(ours, buf)
    theirs = real_torch.load(io.BytesIO(buf.getvalue()))  # PyTorch's own weights_only loader
    assert theirs["w"].tolist() == ours["w"].tolist() and theirs["i"].dtype == real_torch.int16
    assert theirs["w"].stride() == (1, 3) and theirs["s"] == real_torch.Size([3])

    model = real_torch.nn.Linear(3, 2)
    buf = io.BytesIO()
    real_torch.save({"model": model.state_dict(), "half": real_torch.ones(2, dtype=real_torch.float16)}, buf)
    back = torch.load(io.BytesIO(buf.getvalue()))
    np.testing.assert_array_equal(back["model"]["weight"].cpu().numpy(), model.weight.detach().cpu().numpy())
    assert back["half"].dtype is torch.float16


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
def test_unsupported_pytorch_dtype_is_a_clear_error():
    buf = io.BytesIO()
    real_torch.save({"c": real_torch.ones(2, dtype=real_torch.complex64)}, buf)
    with pytest.raises(RuntimeError, match="ComplexFloat"):
        torch.load(io.BytesIO(buf.getvalue()))


def test_bfloat16_round_trip_keeps_the_bits():
    t = torch.tensor([1.5, -2.25, 3e38, 0.0], dtype=torch.bfloat16)
    view = torch.arange(8.).to(torch.bfloat16)[1::3]
    back = _round_trip({"t": t, "v": view})
    assert back["t"].dtype is torch.bfloat16 and back["v"].stride() == (3,)
    assert back["t"].float().tolist() == t.float().tolist() and back["v"].float().tolist() == [1.0, 4.0, 7.0]


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
def test_bfloat16_files_move_between_pytorch_and_cltensor():
    values = [1.5, -2.25, 3e38, 1e-3]
    theirs = real_torch.tensor(values, dtype=real_torch.bfloat16)
    buf = io.BytesIO()
    real_torch.save(theirs, buf)
    ours = torch.load(io.BytesIO(buf.getvalue()))
    assert ours.dtype is torch.bfloat16 and ours.float().tolist() == theirs.float().tolist()
    back = real_torch.load(io.BytesIO(_saved(ours)))
    assert back.dtype == real_torch.bfloat16 and real_torch.equal(back, theirs)


# ---- hostile and damaged files -------------------------------------------------------------------------------------
def _archive(pickled: bytes, extra=None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickled)
        for name, data in (extra or {}).items():
            zf.writestr(f"archive/{name}", data)
    return buf.getvalue()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("protocol", [2, 5])
def test_hostile_pickle_is_refused_without_running(tmp_path, protocol):
    marker = tmp_path / "pwned"
    data = _archive(pickle.dumps({"weights": [1, 2], "x": _Evil(marker)}, protocol=protocol))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        torch.load(io.BytesIO(data))
    assert not marker.exists()
    torch.load(io.BytesIO(data), weights_only=False)  # trusted mode runs it: that is what the flag means
    assert marker.exists()


def test_hostile_tensor_metadata_is_refused():
    good = io.BytesIO()
    torch.save(torch.arange(4.), good)
    # size (4,) -> (64,): past the end of the storage, which would read foreign memory
    huge = _repack(good.getvalue(), lambda pkl: pkl.replace(b"K\x04\x85", b"K\x40\x85"))
    assert huge != _repack(good.getvalue(), lambda pkl: pkl)
    with pytest.raises(RuntimeError, match="corrupted checkpoint"):
        torch.load(io.BytesIO(huge))
    # torch.Size((1,)) followed by BUILD with {'a': 1}: setting state is refused on anything but OrderedDict
    build = b"\x80\x02ctorch\nSize\n((K\x01ttR}(X\x01\x00\x00\x00aK\x01ub."
    with pytest.raises(pickle.UnpicklingError, match="state of a Size"):
        torch.load(io.BytesIO(_archive(build)))


@pytest.mark.parametrize("cut", [0.05, 0.5, 0.97])
def test_truncated_file_raises_runtime_error(cut):
    buf = io.BytesIO()
    torch.save({"w": torch.randn(200)}, buf)
    data = buf.getvalue()
    with pytest.raises(RuntimeError, match="truncated|corrupted"):
        torch.load(io.BytesIO(data[:int(len(data) * cut)]))


def test_corrupted_and_foreign_files():
    buf = io.BytesIO()
    torch.save({"w": torch.randn(200)}, buf)
    data = bytearray(buf.getvalue())
    data[data.index(b"archive/data/0") + 400] ^= 0xFF  # a flipped bit in the tensor bytes: CRC mismatch
    with pytest.raises(RuntimeError, match="corrupted"):
        torch.load(io.BytesIO(bytes(data)))
    with pytest.raises(RuntimeError, match="plain pickle"):
        torch.load(io.BytesIO(pickle.dumps([1, 2])))
    with pytest.raises(RuntimeError, match="not a valid checkpoint"):
        torch.load(io.BytesIO(b"definitely not a checkpoint"))
    with pytest.raises(RuntimeError, match="data.pkl"):
        torch.load(io.BytesIO(_zip_without_pickle()))
    with pytest.raises(RuntimeError, match="lacks record"):
        torch.load(io.BytesIO(_archive(_pickle_of_tensor_without_blob())))
    with pytest.raises(pickle.UnpicklingError):
        torch.load(io.BytesIO(_archive(b"\x80\x02}q\x00(")))  # a pickle cut short


def _zip_without_pickle():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def _pickle_of_tensor_without_blob():
    buf = io.BytesIO()
    torch.save(torch.ones(2), buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        return zf.read("archive/data.pkl")


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __reduce__(self):
        return Point, (self.x, self.y)


def test_safe_globals_extend_the_allowlist():
    from cltensor import serialization
    buf = io.BytesIO()
    torch.save({"p": Point(1, 2)}, buf)
    with pytest.raises(pickle.UnpicklingError, match="Point"):
        torch.load(io.BytesIO(buf.getvalue()))
    serialization.add_safe_globals([Point])
    try:
        assert torch.load(io.BytesIO(buf.getvalue()))["p"].y == 2
    finally:
        serialization.clear_safe_globals()


# ---- whole models: PyTorch's class names, user classes, safe globals ------------------------------------------
class UserNet(torch.nn.Module):
    """A model defined in the user's script: a layer, an activation and a buffer."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)
        self.act = torch.nn.ReLU()
        self.register_buffer("shift", torch.arange(2.))

    def forward(self, x):
        return self.act(self.fc(x)) + self.shift


def _pickle_of(buf: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(buf)) as zf:
        return zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))


def _input_for(model, lib, x):
    """x on the device of the model's state: a loaded model stays where its file put it ('cpu' for
    PyTorch's files), as in PyTorch, whatever the default device is."""
    state = list(model.state_dict().values())
    return lib.tensor(x, device=state[0].device if state else None)


def _saved(obj, lib=torch) -> bytes:
    buf = io.BytesIO()
    lib.save(obj, buf)
    return buf.getvalue()


def test_whole_model_is_pickled_under_pytorch_names():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.BatchNorm1d(2))
    pkl = _pickle_of(_saved(model))
    for path in (b"torch.nn.modules.container\nSequential", b"torch.nn.modules.linear\nLinear",
                 b"torch.nn.modules.activation\nReLU", b"torch.nn.modules.batchnorm\nBatchNorm1d"):
        assert path in pkl
    assert b"cltensor" not in pkl


def test_user_model_round_trip_keeps_parameters_buffers_and_training_flag():
    model = UserNet().eval()
    model.fc.weight.requires_grad_(False)
    back = torch.load(io.BytesIO(_saved(model)), weights_only=False)
    assert type(back) is UserNet and type(back.fc) is torch.nn.Linear and not back.training
    assert isinstance(back.fc.bias, torch.nn.Parameter) and back.fc.bias.requires_grad
    assert not back.fc.weight.requires_grad
    assert list(back.state_dict()) == ["shift", "fc.weight", "fc.bias"] == list(model.state_dict())
    x = torch.randn(4, 3)
    np.testing.assert_array_equal(back(x).detach().cpu().numpy(), model(x).detach().cpu().numpy())


def test_safe_globals_allow_a_whole_model_with_weights_only():
    from cltensor import serialization
    data = _saved(UserNet())
    with pytest.raises(pickle.UnpicklingError, match="UserNet.*add_safe_globals"):
        torch.load(io.BytesIO(data))
    allowed = [UserNet, torch.nn.Linear, torch.nn.ReLU]
    with serialization.safe_globals(allowed):
        assert set(serialization.get_safe_globals()) == set(allowed)
        back = torch.load(io.BytesIO(data), weights_only=True)
    assert type(back) is UserNet and back.shift.tolist() == [0.0, 1.0]
    assert serialization.get_safe_globals() == []
    with pytest.raises(pickle.UnpicklingError, match="Linear"):
        with serialization.safe_globals([UserNet]):
            torch.load(io.BytesIO(data))
    serialization.add_safe_globals(allowed)
    try:
        assert type(torch.load(io.BytesIO(data))) is UserNet
    finally:
        serialization.clear_safe_globals()


def test_unknown_pytorch_name_in_a_model_file_is_a_clear_error():
    data = _repack(_saved(torch.nn.Linear(2, 2)), lambda pkl: pkl.replace(b"\nLinear\n", b"\nLinearX\n"))
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.linear.LinearX.*cltensor does not have"):
        torch.load(io.BytesIO(data), weights_only=False)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
def test_every_nn_layer_is_written_under_the_name_pytorch_gives_it():
    from cltensor._pickle_names import torch_path
    checked = 0
    for name in dir(torch.nn):
        cls = getattr(torch.nn, name)
        real = getattr(real_torch.nn, name, None)
        if isinstance(cls, type) and issubclass(cls, torch.nn.Module) and isinstance(real, type):
            assert torch_path(cls) == (real.__module__, real.__qualname__), name
            checked += 1
    assert checked > 40


# (name, constructor arguments, input shape or None): layers whose state PyTorch and cltensor must share
MODEL_FILES = [("Linear", (3, 2), (4, 3)), ("BatchNorm1d", (3,), (4, 3)), ("LayerNorm", (3,), (2, 3)),
               ("Embedding", (5, 2), None), ("GELU", (), (2, 3)), ("LSTM", (3, 4, 2), (2, 1, 3)),
               ("MultiheadAttention", (4, 2), None), ("Conv2d", (2, 3, 3), (1, 2, 5, 5)),
               ("MaxPool2d", (2,), (1, 1, 4, 4))]


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
@pytest.mark.parametrize("name,args,shape", MODEL_FILES, ids=[c[0] for c in MODEL_FILES])
@pytest.mark.parametrize("direction", ["pytorch-to-cltensor", "cltensor-to-pytorch"])
def test_whole_model_files_move_between_pytorch_and_cltensor(name, args, shape, direction):
    if not hasattr(torch.nn, name):
        pytest.skip(f"cltensor.nn.{name} does not exist yet")
    src, dst = (real_torch, torch) if direction == "pytorch-to-cltensor" else (torch, real_torch)
    src.manual_seed(0)
    model = getattr(src.nn, name)(*args).eval()
    back = dst.load(io.BytesIO(_saved(model, src)), weights_only=False).eval()
    assert type(back) is getattr(dst.nn, name)
    assert list(back.state_dict()) == list(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[k].cpu().numpy(), v.cpu().numpy())
    if shape is not None:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        out_src, out_dst = model(_input_for(model, src, x)), back(_input_for(back, dst, x))
        out_src, out_dst = [o[0] if isinstance(o, tuple) else o for o in (out_src, out_dst)]
        np.testing.assert_allclose(out_dst.detach().cpu().numpy(), out_src.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
def test_user_model_files_move_between_pytorch_and_cltensor(monkeypatch):
    """A script's own Module subclass: each library pickles it by its module path, and the loading
    script defines a class of that name on its own library (here one fake module plays both scripts)."""
    import sys
    import types
    script = types.ModuleType("user_script")
    monkeypatch.setitem(sys.modules, "user_script", script)

    def define(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.body = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))
                self.register_buffer("scale", lib.full((2,), 0.5))

            def forward(self, x):
                return self.body(x) * self.scale
        Net.__module__, Net.__qualname__ = "user_script", "Net"
        script.Net = Net
        return Net

    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    theirs = define(real_torch)()
    data = _saved(theirs, real_torch)
    ours_cls = define(torch)
    ours = torch.load(io.BytesIO(data), weights_only=False)
    assert type(ours) is ours_cls and type(ours.body[0]) is torch.nn.Linear
    expected = theirs(real_torch.tensor(x)).detach().cpu().numpy()
    np.testing.assert_allclose(ours(_input_for(ours, torch, x)).detach().cpu().numpy(), expected, rtol=1e-5, atol=1e-6)

    data = _saved(ours)
    theirs_cls = define(real_torch)
    with real_torch.serialization.safe_globals([theirs_cls, real_torch.nn.Sequential, real_torch.nn.Linear,
                                                real_torch.nn.Tanh]):
        back = real_torch.load(io.BytesIO(data))  # PyTorch's weights_only loader accepts our file
    assert type(back) is theirs_cls
    np.testing.assert_allclose(back(real_torch.tensor(x)).detach().cpu().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_nn_modules_paths_import_as_in_pytorch():
    """Scripts import from PyTorch's nn file layout; every torch.nn.modules.<file> name resolves by name."""
    from cltensor.nn.modules.batchnorm import BatchNorm1d
    from cltensor.nn.modules.container import Sequential
    from cltensor.nn.modules.linear import Linear
    from cltensor.nn.modules.module import Module
    from cltensor.nn.modules.utils import _pair, _triple
    assert (Linear, Sequential, BatchNorm1d, Module) == (torch.nn.Linear, torch.nn.Sequential, torch.nn.BatchNorm1d,
                                                         torch.nn.Module)
    assert torch.nn.modules.activation.ReLU is torch.nn.ReLU and torch.nn.modules.Linear is torch.nn.Linear
    assert _pair(3) == (3, 3) and _triple((1, 2, 3)) == (1, 2, 3)
    with pytest.raises(ImportError, match="NoSuchLayer"):
        from cltensor.nn.modules.linear import NoSuchLayer  # noqa: F401
