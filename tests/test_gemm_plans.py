"""The GEMM launcher caches its launch setup per operand layout (launch.gemm.gemm, GemmPlan): a cached
plan must serve new tensors of the same layout, wherever they lie in their buffers, and whatever
alpha and beta are. Results are checked bit for bit against a first, uncached launch or float64."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

import cltensor as torch
from cltensor import launch, gemm_tuning
from helpers import assert_close, np_of


def _rand(shape, seed):
    return torch.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _ref(a, b):
    return np_of(a).astype(np.float64) @ np_of(b).astype(np.float64)


def test_plan_serves_new_tensors_of_the_same_layout():
    for seed in range(3):  # the first call builds the plan, the next ones reuse it
        a, b = _rand((40, 24), seed), _rand((24, 36), seed + 10)
        assert_close(a @ b, _ref(a, b), torch.float32)


def test_plan_reads_each_call_s_offsets():
    base_a, base_b = _rand((50, 30), 1), _rand((30, 50), 2)
    for start in (0, 3, 7):  # same shapes and strides, different offsets into the buffers
        a, b = base_a[start:start + 20, 2:22], base_b[start:start + 20, 5:25]
        assert_close(a.mm(b), _ref(a, b), torch.float32)


def test_swapped_operands_keep_their_order_when_cached():
    # both column-major: the launcher computes (b^T @ a^T)^T; a cached plan must not swap a and b back
    for seed in range(3):
        a, b = _rand((30, 40), seed).t(), _rand((50, 30), seed + 5).t()
        assert_close(a @ b, _ref(a, b), torch.float32)


def test_alpha_and_beta_change_under_one_plan():
    bias, a, b = _rand((20, 32), 3), _rand((20, 12), 4), _rand((12, 32), 5)
    ref = _ref(a, b)
    for alpha, beta in ((1, 1), (0.5, 2.0), (-3, 0.25)):
        got = torch.addmm(bias, a, b, beta=beta, alpha=alpha)
        assert_close(got, alpha * ref + beta * np_of(bias).astype(np.float64), torch.float32, rtol=1e-5, atol=1e-4)


def test_small_k_transposed_b_is_bitwise_the_contiguous_product():
    # g @ w.T with K below the vector width runs the 'nn' kernel over b's strides, not 'dot'. The width
    # is the device's (4 floats on rusticl's llvmpipe, 8 on PoCL with AVX2, 16 with AVX-512): a fixed K
    # would run 'dot' on some devices, whose other summation order differs in the last bits
    p = gemm_tuning.params_for(torch.device("cpu").backend, torch.float32)
    k = min(10, p["VW"] - 1) if p["variant"] == "vec" else 10
    g, w = _rand((64, k), 6), _rand((100, k), 7)
    strided = g @ w.t()
    contiguous = g @ w.t().contiguous()
    assert np.array_equal(np_of(strided), np_of(contiguous))
    assert_close(strided, _ref(g, w.t()), torch.float32)


def test_copied_operand_is_not_cached_as_its_source():
    # a column-major a with a wide b is copied first; each call must read its own a
    for seed in range(2):
        a, b = _rand((16, 140), seed).t(), _rand((16, 150), seed + 1)
        out = torch.empty(140, 150)
        launch.gemm.gemm(a, b, out)
        assert_close(out, _ref(a, b), torch.float32, rtol=1e-5, atol=1e-4)


def test_a_plan_made_with_one_tensor_in_two_places_reads_each_call_s_operands():
    # a @ a caches a plan; b @ c of the same layouts must read b and c, not one of them twice
    for shape in ((2, 4, 4), (5, 5), (3, 70, 70)):
        a, b, c = _rand(shape, 1), _rand(shape, 2), _rand(shape, 3)
        assert_close(a @ a, _ref(a, a), torch.float32)
        assert_close(b @ c, _ref(b, c), torch.float32)
        assert_close(c @ c.transpose(-1, -2), _ref(c, c.transpose(-1, -2)), torch.float32)
        assert_close(b @ c.transpose(-1, -2), _ref(b, c.transpose(-1, -2)), torch.float32)
    x = _rand((6, 6), 4)
    out = torch.empty(6, 6)
    torch.addmm(x, x, x, out=out)
    y, z, w = _rand((6, 6), 5), _rand((6, 6), 6), _rand((6, 6), 7)
    assert_close(torch.addmm(y, z, w, out=out), np_of(y) + _ref(z, w), torch.float32)


# ---- the first-use GEMM search (gemm_tuning.autotune) ---------------------------------------------
@pytest.fixture
def untuned_device(tmp_path, monkeypatch):
    """The default device as if it were unknown: no shipped entry, an empty tuning file, no resolved
    parameters; a short search. Afterwards the real resolution comes back."""
    monkeypatch.setattr(gemm_tuning, "SHIPPED", {})
    monkeypatch.setattr(gemm_tuning, "TUNING_FILE", str(tmp_path / "gemm_tuning.json"))
    monkeypatch.setattr(gemm_tuning, "_user_table", None)
    monkeypatch.setattr(gemm_tuning, "AUTOTUNE_SIZE", 64)
    monkeypatch.setattr(gemm_tuning, "AUTOTUNE_SECONDS", 0.5)
    backend = torch.get_default_device().backend
    # its own kind of kernels (CLTENSOR_TUNING may force the other kind, which is never searched)
    monkeypatch.setattr(backend, "cpu_tuned", gemm_tuning._natural_variant(backend) == "vec")
    gemm_tuning._resolved.clear()
    yield tmp_path / "gemm_tuning.json"
    gemm_tuning._resolved.clear()


def test_first_gemm_on_an_unknown_device_tunes_once_and_records_it(untuned_device, capsys, monkeypatch):
    monkeypatch.delenv("CLTENSOR_AUTOTUNE", raising=False)
    a, b = _rand((33, 17), 0), _rand((17, 29), 1)
    assert_close(a @ b, _ref(a, b), torch.float32)
    recorded = json.loads(untuned_device.read_text())
    backend = torch.get_default_device().backend
    assert recorded[backend.name]["float32"]["variant"] == gemm_tuning._natural_variant(backend)
    said = capsys.readouterr().err
    assert said.count("cltensor: tuning GEMM tiles") == 1 and "GFLOP/s" in said
    assert_close(b.t() @ a.t(), _ref(b.t(), a.t()), torch.float32)  # other layouts: no second search
    assert "tuning GEMM" not in capsys.readouterr().err


def test_a_bounded_search_on_a_slow_device_shrinks_its_product_and_skips_slow_builds(monkeypatch):
    """A device computing at 0.1 GFLOP/s whose kernels take seconds to build (llvmpipe under rusticl)
    gets a product it can time within the budget, and no unrolled candidate (10x the build time)."""
    from cltensor.launch import gemm_search
    timed = []

    def slow_device(a, b, params, reps=3):  # times without running; the first call builds for 1.2 s
        if not timed:
            time.sleep(1.2)
        timed.append((a.shape[0], params.get("KU", 1)))
        return 2 * a.shape[0] ** 3 / 1e8

    monkeypatch.setattr(gemm_search, "time_gemm", slow_device)
    backend = torch.device("cpu").backend
    started = time.perf_counter()
    best, _ = gemm_search.search(backend, torch.float32, 512, "vec", seconds=3.0)
    assert time.perf_counter() - started < 30
    assert len(timed) >= 2 and {size for size, _ in timed} == {128}  # the probe's size: 512^3 would take 2.7 s a run
    assert all(ku == 1 for _, ku in timed[1:]) and best.get("KU", 1) == 1


def test_autotune_off_takes_the_defaults(untuned_device, capsys, monkeypatch):
    monkeypatch.setenv("CLTENSOR_AUTOTUNE", "0")
    a, b = _rand((20, 10), 2), _rand((10, 30), 3)
    assert_close(a @ b, _ref(a, b), torch.float32)
    assert not untuned_device.exists() and "tuning" not in capsys.readouterr().err
    backend = torch.get_default_device().backend
    default = gemm_tuning.DEFAULT_VEC if backend.cpu_tuned else gemm_tuning.DEFAULT_TILED
    assert gemm_tuning.params_for(backend, torch.float32) == gemm_tuning.complete(backend, torch.float32, default)


def test_the_command_line_search_records_every_dtype_asked_for(untuned_device, tmp_path, capsys):
    """python -m cltensor.launch.gemm_search, as tools/gpu_run.sh calls it: a bounded search per dtype,
    recorded in the tuning file and in --out."""
    from cltensor.launch import gemm_search
    out = tmp_path / "winners.json"
    assert gemm_search.main(["64", "--dtype", "float32", "--dtype", "float16", "--seconds", "0.5",
                             "--out", str(out)]) == 0
    backend = torch.get_default_device().backend
    for table in (json.loads(out.read_text()), json.loads(untuned_device.read_text())):
        assert set(table[backend.name]) == {"float32", "float16"}
        assert table[backend.name]["float32"]["variant"] == gemm_tuning._natural_variant(backend)
    assert "GFLOP/s" in capsys.readouterr().out


def test_a_forced_variant_is_never_searched(untuned_device, capsys, monkeypatch):
    monkeypatch.delenv("CLTENSOR_AUTOTUNE", raising=False)
    with gemm_tuning.forced_variant("tiled"):
        a, b = _rand((20, 10), 4), _rand((10, 30), 5)
        assert_close(a @ b, _ref(a, b), torch.float32)
    assert "tuning" not in capsys.readouterr().err


def test_transposed_b_of_a_short_a_is_packed_and_exact(launches):
    # grad_h @ w1.T (64 rows, B read along k): the CPU kernel packs W.T into column panels (one
    # pack launch) instead of running 'dot'; strided, offset and tail-column B against float64
    names = launches
    params = {"variant": "vec", "PACK": True}
    for seed, (m, k, n) in enumerate(((64, 100, 300), (33, 70, 130), (40, 20, 1000))):
        a, w = _rand((m, k), seed), _rand((2 * n + 3, k + 5), seed + 20)[3::2, 5:]  # W.T: k-stride 1
        for _ in range(2):  # the pack writes a new buffer each call
            names.clear()
            out = torch.empty(m, n)
            launch.gemm.gemm(a, w.t(), out, params=params)
            assert "gemm_pack" in names, names
            assert_close(out, _ref(a, w.t()), torch.float32, rtol=1e-5, atol=1e-4)
    # a short a (8 rows) keeps 'dot': the pack would cost more than it saves
    names.clear()
    a, w = _rand((8, 64), 1), _rand((64, 64), 2)
    launch.gemm.gemm(a, w.t(), torch.empty(8, 64), params=params)
    assert "gemm_pack" not in names, names


def test_column_block_crossing_n_is_the_last_whole_block_stored_from_its_own_columns():
    # N not a multiple of the block width: the CPU kernel computes the last block as N - NR .. N
    # (overlapping its neighbour) and stores only its own columns; with a bias and epilogue, into a
    # transposed output, and in place over the bias it reads (the overlap must not store twice)
    for seed, (m, k, n) in enumerate(((13, 20, 37), (7, 5, 19), (30, 64, 100))):
        a, b = _rand((m, k), seed), _rand((k, n), seed + 10)
        assert_close(a @ b, _ref(a, b), torch.float32, rtol=1e-5, atol=1e-4)
    out_t = torch.empty(n, m).t()  # m-stride 1
    launch.gemm.gemm(a, b, out_t)
    assert_close(out_t, _ref(a, b), torch.float32, rtol=1e-5, atol=1e-4)
    bias = _rand((m, n), 20)
    want = np.maximum(2 * _ref(a, b) + 0.5 * np_of(bias).astype(np.float64), 0)
    launch.gemm.gemm(a, b, bias, alpha=2, beta=0.5, bias=bias, epilogue="relu")  # out is bias
    assert_close(bias, want, torch.float32, rtol=1e-5, atol=1e-4)
