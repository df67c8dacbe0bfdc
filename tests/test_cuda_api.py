"""torch.cuda / torch.accelerator over OpenCL GPUs, torch.backends flags, torch.onnx, torch.compile,
nn.DataParallel and distributed without a process group: the API real scripts touch besides the maths.

This machine may have no OpenCL GPU: the no-GPU behaviour is tested with CLTENSOR_CUDA_DEVICES=""
(no device is 'cuda'), and the GPU path by letting OpenCL device cl:0 pose as one
(CLTENSOR_CUDA_DEVICES=cl:0), so 'cuda' resolves onto a real OpenCL device here.
"""
import io
import zipfile

import numpy as np
import pyopencl as cl
import pytest

import cltensor as torch
from helpers import HAVE_TORCH, real_torch

TORCH_WITHOUT_CUDA = HAVE_TORCH and not real_torch.cuda.is_available()


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setenv("CLTENSOR_CUDA_DEVICES", "")


@pytest.fixture
def gpu(monkeypatch):
    """'cuda' names OpenCL device cl:0 for the test."""
    monkeypatch.setenv("CLTENSOR_CUDA_DEVICES", "cl:0")
    yield torch.device("cl:0")
    from cltensor.device import set_current_cuda_index
    set_current_cuda_index(0)


# ---- discovery -----------------------------------------------------------------------------------------------
def test_is_available_reads_the_platform_list(monkeypatch):
    monkeypatch.delenv("CLTENSOR_CUDA_DEVICES", raising=False)
    gpus = [d for p in cl.get_platforms() for d in p.get_devices() if d.type & cl.device_type.GPU]
    assert torch.cuda.is_available() == bool(gpus) == torch.accelerator.is_available()
    assert torch.cuda.device_count() == len(gpus) == torch.accelerator.device_count()


def test_bad_device_list_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CLTENSOR_CUDA_DEVICES", "cl:99")
    with pytest.raises(RuntimeError, match="CLTENSOR_CUDA_DEVICES='cl:99'"):
        torch.cuda.is_available()


# ---- without a GPU: PyTorch without CUDA -------------------------------------------------------------------
NEEDS_DEVICE = {
    "zeros(device='cuda')": lambda t: t.zeros(1, device="cuda"),
    "tensor.cuda()": lambda t: t.ones(2).cuda(),
    "module.cuda()": lambda t: t.nn.Linear(2, 2).cuda(),
    "current_device": lambda t: t.cuda.current_device(),
    "get_device_name": lambda t: t.cuda.get_device_name(),
    "get_device_properties": lambda t: t.cuda.get_device_properties(0),
    "get_device_capability": lambda t: t.cuda.get_device_capability(),
    "synchronize": lambda t: t.cuda.synchronize(),
    "initial_seed": lambda t: t.cuda.initial_seed(),
    "get_rng_state": lambda t: t.cuda.get_rng_state(),
    "ipc_collect": lambda t: t.cuda.ipc_collect(),
}


@pytest.mark.parametrize("call", list(NEEDS_DEVICE.values()), ids=list(NEEDS_DEVICE))
def test_without_gpu_using_cuda_raises_assertion_error_naming_the_fix(no_gpu, call):
    with pytest.raises(AssertionError, match="no OpenCL GPU.*CLTENSOR_CUDA_DEVICES"):
        call(torch)
    if TORCH_WITHOUT_CUDA:
        with pytest.raises(AssertionError, match="not compiled with CUDA"):
            call(real_torch)


def test_without_gpu_queries_answer_as_pytorch(no_gpu):
    answers = lambda t: (t.cuda.is_available(), t.cuda.device_count(), t.cuda.is_bf16_supported(),  # noqa: E731
                         t.cuda.memory_allocated(), t.cuda.memory_reserved(), t.cuda.max_memory_allocated(),
                         t.cuda.manual_seed_all(3), t.cuda.manual_seed(3), t.cuda.seed(), t.cuda.empty_cache(),
                         repr(t.device("cuda")), repr(t.device("cuda:1")), repr(t.device("cuda", 2)),
                         t.accelerator.is_available(), t.accelerator.current_accelerator(),
                         t.accelerator.device_count(), t.cuda.get_rng_state_all(), t.cuda.memory_stats())
    ours = answers(torch)
    assert ours == (False, 0, False, 0, 0, 0, None, None, None, None, "device(type='cuda')",
                    "device(type='cuda', index=1)", "device(type='cuda', index=2)", False, None, 0, [], {})
    if TORCH_WITHOUT_CUDA:
        assert ours == answers(real_torch)
    assert not torch.ones(1).is_cuda


@pytest.mark.parametrize("name", ["current_device_index", "synchronize", "set_device_index"])
def test_without_gpu_accelerator_raises_pytorchs_error(no_gpu, name):
    args = (0,) if name == "set_device_index" else ()
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
        getattr(torch.accelerator, name)(*args)
    if TORCH_WITHOUT_CUDA:
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
            getattr(real_torch.accelerator, name)(*args)


def test_without_gpu_seeding_the_gpu_leaves_the_default_generator_alone(no_gpu):
    torch.manual_seed(11)
    first = torch.rand(3).cpu().numpy()
    torch.manual_seed(11)
    torch.cuda.manual_seed_all(12345)
    np.testing.assert_array_equal(torch.rand(3).cpu().numpy(), first)


# ---- with a GPU ('cuda' posed by cl:0) -------------------------------------------------------------------------
def test_cuda_device_strings_resolve_to_the_opencl_gpu(gpu):
    assert torch.cuda.is_available() and torch.cuda.device_count() == 1
    for spec in ("cuda", "cuda:0", torch.device("cuda", 0)):
        assert torch.device(spec) is gpu
    assert repr(torch.device("cuda")) == "device(type='cl', index=0)" and str(torch.device("cuda:0")) == "cl:0"
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        torch.device("cuda:1")
    assert gpu == "cuda" and torch.device("cuda").is_cuda and not torch.device("cpu").is_cuda


def test_tensors_on_cuda_compute_on_the_opencl_device(gpu):
    host = np.arange(7 * 5, dtype=np.float32).reshape(7, 5)[:, 1::2]  # a strided view of odd extents
    x = torch.tensor(host, device="cuda")
    y = torch.from_numpy(host).cuda()
    z = torch.from_numpy(host).to("cuda:0")
    for t in (x, y, z):
        assert t.device is gpu and t.is_cuda and t.get_device() == 0
    assert not torch.from_numpy(host).is_cuda
    np.testing.assert_allclose((x * 2 + y - z).sum(dim=0).cpu().numpy(), (host * 2).sum(axis=0), rtol=1e-6)
    model = torch.nn.Linear(2, 3).cuda()
    assert model.weight.is_cuda and model.weight.device is gpu
    out = model(x)
    assert out.is_cuda and out.shape == (7, 3)
    assert torch.zeros(2).cuda(0).is_cuda and torch.zeros(2).cuda("cuda:0").device is gpu


def test_device_queries_on_a_gpu(gpu):
    assert torch.cuda.current_device() == 0 and torch.accelerator.current_device_index() == 0
    assert torch.cuda.get_device_name() == torch.cuda.get_device_name(0) == torch.cl.get_device_name(0)
    props = torch.cuda.get_device_properties(0)
    cl_dev = gpu.backend.cl_device
    assert props.name == cl_dev.name.strip() and props.total_memory == cl_dev.global_mem_size
    assert props.multi_processor_count == cl_dev.max_compute_units > 0
    major, minor = torch.cuda.get_device_capability("cuda:0")
    assert (props.major, props.minor) == (major, minor) and cl_dev.version.startswith(f"OpenCL {major}.{minor}")
    assert "_CudaDeviceProperties(name=" in repr(props)
    assert torch.cuda.is_bf16_supported() == hasattr(torch, "bfloat16")
    assert torch.accelerator.current_accelerator() is gpu
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        torch.cuda.set_device(3)
    torch.cuda.set_device("cuda:0")
    with torch.cuda.device(0), torch.accelerator.device_index(0):
        assert torch.cuda.current_device() == 0
    torch.cuda.synchronize()
    torch.accelerator.synchronize()


def test_memory_statistics_follow_the_allocator(gpu):
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    x = torch.empty(1 << 16, device="cuda")
    assert torch.cuda.memory_allocated() >= before + x.numel() * 4
    assert torch.cuda.max_memory_allocated() >= torch.cuda.memory_allocated()
    assert torch.cuda.memory_reserved() >= torch.cuda.memory_allocated()
    assert torch.accelerator.memory_allocated() == torch.cuda.memory_allocated()
    free, total = torch.cuda.mem_get_info()
    assert 0 < free <= total
    del x
    torch.cuda.empty_cache()


def test_seeding_the_gpu_makes_its_draws_reproducible(gpu):
    torch.cuda.manual_seed_all(5)
    a = torch.rand(6, device="cuda").cpu().numpy()
    torch.cuda.manual_seed(5)
    assert torch.cuda.initial_seed() == 5
    np.testing.assert_array_equal(torch.rand(6, device="cuda").cpu().numpy(), a)
    states = torch.cuda.get_rng_state_all()
    b = torch.rand(4, device="cuda").cpu().numpy()
    torch.cuda.set_rng_state_all(states)
    np.testing.assert_array_equal(torch.rand(4, device="cuda").cpu().numpy(), b)
    assert torch.cuda.memory_stats()["allocated_bytes.all.current"] == torch.cuda.memory_allocated()


def test_gpu_tensors_save_as_cuda_and_load_back(gpu, tmp_path):
    x = torch.arange(6.).reshape(2, 3).cuda()
    path = tmp_path / "gpu.pt"
    torch.save({"x": x}, path)
    with zipfile.ZipFile(path) as zf:
        assert b"cuda:0" in zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    back = torch.load(path)["x"]
    assert back.device is gpu and back.tolist() == x.tolist()
    for where in ("cuda", "cuda:0", lambda storage, loc: storage.cuda(0), {"cuda:0": "cuda"}):
        assert torch.load(path, map_location=where)["x"].device is gpu
    cpu_file = tmp_path / "cpu.pt"
    torch.save({"x": x.cpu()}, cpu_file)
    assert torch.load(cpu_file, map_location=lambda storage, loc: storage.cuda())["x"].is_cuda
    if HAVE_TORCH:
        assert real_torch.load(path, map_location="cpu")["x"].tolist() == x.tolist()


def test_gpu_file_without_gpu_asks_for_map_location(gpu, monkeypatch):
    buf = io.BytesIO()
    torch.save({"x": torch.ones(2).cuda()}, buf)
    monkeypatch.setenv("CLTENSOR_CUDA_DEVICES", "")
    with pytest.raises(RuntimeError, match="map_location"):
        torch.load(io.BytesIO(buf.getvalue()))
    assert torch.load(io.BytesIO(buf.getvalue()), map_location="cpu")["x"].device == torch.device("cpu")


# ---- backends flags and process-wide switches -------------------------------------------------------------------
FLAGS = [("cudnn", "enabled"), ("cudnn", "benchmark"), ("cudnn", "deterministic"), ("cudnn", "allow_tf32"),
         ("mkldnn", "enabled"), ("cuda.matmul", "allow_tf32"),
         ("cuda.matmul", "allow_fp16_reduced_precision_reduction")]


def _flag_owner(lib, path):
    owner = lib.backends
    for part in path.split("."):
        owner = getattr(owner, part)
    return owner


@pytest.mark.parametrize("path,name", FLAGS, ids=[f"{p}.{n}" for p, n in FLAGS])
def test_backend_flags_have_pytorchs_defaults_and_are_settable(path, name):
    owner = _flag_owner(torch, path)
    default = getattr(owner, name)
    if HAVE_TORCH:
        assert default == getattr(_flag_owner(real_torch, path), name)
    try:
        setattr(owner, name, not default)
        assert getattr(owner, name) == (not default)
    finally:
        setattr(owner, name, default)


def test_backend_availability_and_flags_context():
    answers = lambda t: (t.backends.mps.is_available(), t.backends.cudnn.is_available(),  # noqa: E731
                         t.backends.cuda.is_built(), t.version.cuda)
    assert answers(torch) == (False, False, False, None)
    if TORCH_WITHOUT_CUDA:
        assert answers(real_torch) == answers(torch)
    assert isinstance(torch.backends.mkldnn.is_available(), bool) and isinstance(torch.backends.openmp.is_available(),
                                                                                bool)
    with torch.backends.cudnn.flags(enabled=False, benchmark=True):
        assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.enabled
    assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.enabled


def test_matmul_precision_determinism_and_threads():
    assert torch.get_float32_matmul_precision() == "highest"
    try:
        torch.set_float32_matmul_precision("high")
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision("highest")
    with pytest.raises(RuntimeError, match="'fastest'"):
        torch.set_float32_matmul_precision("fastest")
    assert not torch.are_deterministic_algorithms_enabled()
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
    threads = torch.get_num_threads()
    assert isinstance(threads, int) and threads >= 1
    for lib in [torch] + ([real_torch] if HAVE_TORCH else []):
        with pytest.raises(RuntimeError, match="set_num_threads expects a positive integer"):
            lib.set_num_threads(0)
    assert torch.__version__.startswith("2.13.0+cltensor") and torch.version.__version__ == torch.__version__


# ---- onnx, distributed, DataParallel, compile -------------------------------------------------------------------
def test_onnx_imports_and_export_says_it_is_unsupported(tmp_path):
    import cltensor.onnx
    with pytest.raises(RuntimeError, match="ONNX export is not supported by cltensor"):
        cltensor.onnx.export(torch.nn.Linear(2, 2), torch.zeros(1, 2), str(tmp_path / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()


def test_distributed_without_a_process_group_says_so():
    """cltensor.distributed is real now (tests/test_distributed.py runs it under mpirun); without
    init_process_group its calls raise PyTorch's error."""
    import importlib.util
    assert torch.distributed.is_available() == (importlib.util.find_spec("mpi4py") is not None)
    assert not torch.distributed.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))


def test_data_parallel_is_the_module_with_prefixed_state():
    torch.manual_seed(0)
    inner = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    model = torch.nn.DataParallel(inner)
    assert model.module is inner
    keys = list(model.state_dict())
    assert keys == ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias"]
    x = torch.randn(5, 3)
    np.testing.assert_array_equal(model(x).detach().cpu().numpy(), inner(x).detach().cpu().numpy())
    model(x).sum().backward()
    assert inner[0].weight.grad is not None and len(list(model.parameters())) == 4
    if HAVE_TORCH:
        real = real_torch.nn.DataParallel(real_torch.nn.Sequential(real_torch.nn.Linear(3, 4), real_torch.nn.ReLU(),
                                                                   real_torch.nn.Linear(4, 2)))
        assert list(real.state_dict()) == keys and repr(real) == repr(model)
        real.load_state_dict({k: real_torch.tensor(v.cpu().numpy()) for k, v in model.state_dict().items()})


def test_compile_returns_an_eager_equivalent():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    compiled = torch.compile(model, mode="reduce-overhead")
    assert isinstance(compiled, torch.nn.Module) and compiled._orig_mod is model
    assert compiled.in_features == 3 and list(compiled.state_dict()) == ["_orig_mod.weight", "_orig_mod.bias"]
    x = torch.randn(4, 3)
    np.testing.assert_array_equal(compiled(x).detach().cpu().numpy(), model(x).detach().cpu().numpy())
    compiled(x).sum().backward()
    np.testing.assert_allclose(model.bias.grad.cpu().numpy(), [4.0, 4.0])
    # PyTorch's repr (its torch.compile is not called here: importing dynamo takes ~12 s)
    assert repr(compiled) == "OptimizedModule(\n  (_orig_mod): Linear(in_features=3, out_features=2, bias=True)\n)"

    def double(t):
        """Twice t."""
        return t * 2

    fast = torch.compile(double, fullgraph=True)
    assert fast.__doc__ == "Twice t." and fast(x).tolist() == (x * 2).tolist()

    @torch.compile(dynamic=True)
    def plus_one(t):
        return t + 1

    assert plus_one(x).tolist() == (x + 1).tolist()


def test_cuda_amp_names_are_the_cuda_autocast_and_scaler():
    import cltensor.cuda.amp as cuda_amp
    from cltensor.cuda.amp import GradScaler, autocast
    assert torch.cuda.amp is cuda_amp
    with pytest.warns(FutureWarning, match="torch.cuda.amp.autocast"):
        region = autocast()
    assert isinstance(region, torch.amp.autocast) and region.device == "cuda" and region.fast_dtype is torch.float16
    with pytest.warns(FutureWarning, match="torch.cuda.amp.GradScaler"):
        scaler = GradScaler(init_scale=8.0, enabled=False)
    assert isinstance(scaler, torch.amp.GradScaler) and not scaler.is_enabled()


def test_events_time_gpu_work_and_streams_are_the_queue(gpu):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with pytest.raises(RuntimeError, match="recorded"):
        start.elapsed_time(end)
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        start.record()
        y = torch.ones(1 << 16, device="cuda") * 3
        end.record(s)
    end.synchronize()
    assert end.query() and start.elapsed_time(end) >= 0.0
    assert y.sum().item() == 3 * (1 << 16)
    with pytest.raises(RuntimeError, match="enable_timing=True"):
        torch.cuda.Event().elapsed_time(end)
    assert torch.cuda.current_stream() == torch.cuda.default_stream() == s
    s.wait_stream(torch.cuda.current_stream())
    s.record_event().synchronize()
    s.synchronize()
