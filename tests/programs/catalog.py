"""The third-party programs of tests/programs/: how each is run, which line holds its final metric,
and how a cltensor run is judged against the PyTorch run recorded in reference.json.

Judging rules (``check``):
  ("rel", tol)     |cltensor - pytorch| <= tol * |pytorch|   (runs are not bit-comparable: cltensor's
                   RNG streams differ from PyTorch's, so inits and batches differ; tol says how far a
                   different seed moves the metric under PyTorch itself)
  ("abs", tol)     |cltensor - pytorch| <= tol, per number
  ("min", margin)  cltensor >= pytorch - margin   (accuracy-like)
  ("max", bound)   cltensor <= bound, a quality bound the PyTorch run meets as well
  ("equal", None)  the printed text is identical
"""
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(HERE, "_shim")
DATA = os.path.join(HERE, "_data")
REFERENCE = os.path.join(HERE, "reference.json")
NUMBER = r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"


@dataclass
class Program:
    name: str
    folder: str
    script: str
    args: list = field(default_factory=list)
    metric: str = ""            # regex; its groups (last match in stdout) are the metric
    check: tuple = ("rel", 0.05)
    needs: list = field(default_factory=list)   # cltensor names the program uses that may not exist yet
    setup: list = field(default_factory=list)   # commands run first in the work folder (same torch)
    fp64: bool = False
    timeout: int = 120


PROGRAMS = [
    Program("examples_regression", "examples_regression", "main.py",
            metric=r"Loss: (%s) after" % NUMBER, check=("max", 1e-3)),
    Program("tutorials_polynomial_nn", "tutorials_polynomial_nn", "polynomial_nn.py",
            metric=r"Result: y = (%s) \+ (%s) x \+ (%s) x\^2 \+ (%s) x\^3" % ((NUMBER,) * 4), check=("abs", 0.05)),
    Program("tutorials_polynomial_optim", "tutorials_polynomial_optim", "polynomial_optim.py",
            metric=r"Result: y = (%s) \+ (%s) x \+ (%s) x\^2 \+ (%s) x\^3" % ((NUMBER,) * 4), check=("abs", 0.05)),
    Program("tutorials_word_embeddings", "tutorials_word_embeddings", "word_embeddings_tutorial.py",
            metric=r", (%s)\]\n" % NUMBER, check=("rel", 0.03)),
    Program("tutorials_sequence_models", "tutorials_sequence_models", "sequence_models_tutorial.py",
            metric=r"predicted tags: (\[.*\])", check=("equal", None), needs=["nn.LSTM", "autograd.Variable"]),
    Program("tutorials_quickstart", "tutorials_quickstart", "quickstart_tutorial.py",
            metric=r"Accuracy: (%s)%%" % NUMBER, check=("min", 5.0), needs=["cuda", "backends.mps"]),
    Program("examples_vae", "examples_vae", "main.py", args=["--epochs", "2", "--log-interval", "100"],
            metric=r"====> Test set loss: (%s)" % NUMBER, check=("rel", 0.05), needs=["accelerator"]),
    Program("examples_mnist", "examples_mnist", "main.py",
            args=["--epochs", "1", "--test-batch-size", "300", "--log-interval", "100"],
            metric=r"Accuracy: \d+/\d+ \((%s)%%\)" % NUMBER, check=("min", 5.0),
            needs=["accelerator", "nn.Conv2d", "nn.functional.max_pool2d", "optim.Adadelta"]),
    Program("examples_word_language_model_lstm", "examples_word_language_model", "main.py",
            args=["--data", "corpus", "--epochs", "2", "--emsize", "32", "--nhid", "32", "--nlayers", "1",
                  "--bptt", "20", "--batch_size", "10", "--log-interval", "50"],
            setup=[[os.path.join(DATA, "make_corpus.py"), "corpus"]],
            metric=r"End of training \| test loss +%s \| test ppl +(%s)" % (NUMBER, NUMBER), check=("rel", 0.15),
            needs=["onnx", "accelerator", "nn.LSTM", "nn.modules.rnn.LSTM", "nn.modules.rnn.GRU", "nn.modules.rnn.RNN",
                   "serialization.safe_globals"]),
    Program("examples_word_language_model_transformer", "examples_word_language_model", "main.py",
            args=["--data", "corpus", "--model", "Transformer", "--epochs", "2", "--emsize", "32", "--nhid", "32",
                  "--nlayers", "1", "--nhead", "2", "--lr", "5", "--bptt", "20", "--batch_size", "10",
                  "--log-interval", "50"],
            setup=[[os.path.join(DATA, "make_corpus.py"), "corpus"]],
            metric=r"End of training \| test loss +%s \| test ppl +(%s)" % (NUMBER, NUMBER), check=("rel", 0.15),
            # main.py names these classes (PyTorch's module paths) for torch.load's safe_globals
            needs=["onnx", "accelerator", "nn.modules.transformer.TransformerEncoder",
                   "nn.modules.activation.MultiheadAttention",
                   "nn.modules.linear.NonDynamicallyQuantizableLinear", "serialization.safe_globals"]),
    Program("examples_time_sequence_prediction", "examples_time_sequence_prediction", "train.py",
            args=["--steps", "2"], setup=[["generate_sine_wave.py"]],
            metric=r"test loss: (%s)" % NUMBER, check=("max", 0.05), fp64=True,
            needs=["nn.LSTMCell", "optim.LBFGS"]),
    Program("ng_video_lecture_gpt", "ng_video_lecture_gpt", "gpt.py",
            metric=r"step 99: train loss %s, val loss (%s)" % (NUMBER, NUMBER), check=("rel", 0.05),
            needs=["cuda", "multinomial"]),
]
BY_NAME = {p.name: p for p in PROGRAMS}


def missing_features(program):
    """The names in ``program.needs`` that cltensor does not provide yet (checked by import/getattr)."""
    import importlib
    import cltensor
    missing = []
    for dotted in program.needs:
        obj, parts = cltensor, dotted.split(".")
        for i, part in enumerate(parts):
            nxt = getattr(obj, part, None)
            if nxt is None:
                try:
                    nxt = importlib.import_module("cltensor." + ".".join(parts[:i + 1]))
                except ImportError:
                    pass
            if nxt is None:
                missing.append(dotted)
                break
            obj = nxt
    return missing


def prepare(program, workdir):
    """Copies the program's folder into ``workdir`` (runs write files there)."""
    import shutil
    src = os.path.join(HERE, program.folder)
    for name in os.listdir(src):
        if name != "__pycache__":
            shutil.copy(os.path.join(src, name), workdir)
    for name in ("results",):
        os.makedirs(os.path.join(workdir, name), exist_ok=True)


def run(program, workdir, under_cltensor, timeout=None, extra_env=None):
    """Runs the program in ``workdir`` under cltensor (through the shim) or PyTorch.

    Returns (stdout, stderr, returncode, seconds); the setup commands run first, under the same torch.
    """
    env = dict(os.environ)
    path = [DATA] + ([SHIM] if under_cltensor else [])
    env["PYTHONPATH"] = os.pathsep.join(path + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(extra_env or {})
    for cmd in program.setup:
        subprocess.run([sys.executable] + cmd, cwd=workdir, env=env, check=True,
                       capture_output=True, timeout=timeout or program.timeout)
    # CLTENSOR_PROGRAM_TIMEOUT raises the limit on slow drivers (rusticl launches cost ~0.5 ms each)
    limit = timeout or max(program.timeout, int(os.environ.get("CLTENSOR_PROGRAM_TIMEOUT", 0)))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, program.script] + program.args, cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=limit)
    return proc.stdout, proc.stderr, proc.returncode, time.perf_counter() - start


def metric(program, stdout):
    """The metric's groups from the last match in ``stdout`` (floats where they parse), or None."""
    matches = list(re.finditer(program.metric, stdout))
    if not matches:
        return None
    out = []
    for g in matches[-1].groups():
        try:
            out.append(float(g))
        except ValueError:
            out.append(g)
    return out


def judge(program, got, ref):
    """None when ``got`` passes against the PyTorch reference ``ref``, else a message saying why."""
    kind, tol = program.check
    if kind == "equal":
        ok = got == ref
    elif kind == "rel":
        ok = all(abs(g - r) <= tol * abs(r) for g, r in zip(got, ref))
    elif kind == "abs":
        ok = all(abs(g - r) <= tol for g, r in zip(got, ref))
    elif kind == "min":
        ok = all(g >= r - tol for g, r in zip(got, ref))
    elif kind == "max":  # a quality bound that PyTorch meets too (e.g. a loss below a threshold)
        ok = all(g <= tol for g in got) and all(r <= tol for r in ref)
    else:
        raise ValueError(kind)
    return None if ok else f"{program.name}: cltensor {got} vs PyTorch {ref} ({kind}, {tol})"
