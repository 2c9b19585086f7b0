"""eingrad with several `%` pairs on TensorFlow, PyTorch and JAX: closed forms, the strategy chosen, memory."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from tests import pairs_cases as C
from tests.ein_harness import compile_and_import

REPO = Path(__file__).resolve().parent.parent


def _generated(target: str):
    return compile_and_import(C.SPEC, "pairs.ein", target)[0]


def _tf_models():
    import tensorflow as tf

    ns = types.SimpleNamespace(
        tanh=tf.tanh,
        const=lambda array: tf.constant(array, tf.float64),
        mean0=lambda z: tf.reduce_mean(z, 0),
        reshape=tf.reshape,
        matvec=tf.linalg.matvec,
    )
    return C.models(ns)


@pytest.mark.parametrize("mode", ["eager", "tf.function"])
@pytest.mark.parametrize("name", C.NAMES)
def test_tensorflow(name, mode):
    tf = pytest.importorskip("tensorflow")
    fn = getattr(_generated("tensorflow"), name)
    args = C.arguments(name, _tf_models(), lambda a: tf.constant(a, tf.float64))
    run = fn if mode == "eager" else tf.function(lambda *a: fn(*args))
    out = run(*args)
    np.testing.assert_allclose(out.numpy(), C.expected(name), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", C.NAMES)
def test_torch(name):
    torch = pytest.importorskip("torch")
    ns = types.SimpleNamespace(
        tanh=torch.tanh,
        const=lambda array: torch.tensor(array, dtype=torch.float64),
        mean0=lambda z: z.mean(0),
        reshape=torch.reshape,
        matvec=lambda m, x: m @ x,
    )
    args = C.arguments(name, C.models(ns), lambda a: torch.tensor(a, dtype=torch.float64))
    out = getattr(_generated("torch"), name)(*args)
    np.testing.assert_allclose(out.detach().numpy(), C.expected(name), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["ggn_vp", "gauss_newton"])
def test_torch_compile(name):
    torch = pytest.importorskip("torch")
    ns = types.SimpleNamespace(
        tanh=torch.tanh,
        const=lambda array: torch.tensor(array, dtype=torch.float64),
        mean0=lambda z: z.mean(0),
        reshape=torch.reshape,
        matvec=lambda m, x: m @ x,
    )
    models = C.models(ns)
    args = C.arguments(name, models, lambda a: torch.tensor(a, dtype=torch.float64))
    fn = getattr(_generated("torch"), name)
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    callables = [a for a in args if not isinstance(a, torch.Tensor)]
    compiled = torch.compile(lambda *t: fn(*callables, *t), backend="aot_eager", fullgraph=True)
    np.testing.assert_allclose(compiled(*tensors).detach().numpy(), C.expected(name), rtol=1e-9, atol=1e-9)


def _jax_models():
    import jax.numpy as jnp

    ns = types.SimpleNamespace(
        tanh=jnp.tanh,
        const=lambda array: jnp.asarray(array, jnp.float64),
        mean0=lambda z: z.mean(0),
        reshape=jnp.reshape,
        matvec=lambda m, x: m @ x,
    )
    return C.models(ns)


# Every case under jax.jit; eagerly (each transform slow) two of them.
JAX_CASES = [(name, "jit") for name in C.NAMES] + [("ggn_vp", "eager"), ("gauss_newton", "eager")]


@pytest.mark.parametrize("name,mode", JAX_CASES)
def test_jax(name, mode):
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        args = C.arguments(name, _jax_models(), lambda a: jax.numpy.asarray(a, "float64"))
        fn = getattr(_generated("jax"), name)
        tensors = [a for a in args if not callable(a)]
        callables = [a for a in args if callable(a)]
        run = (lambda *t: fn(*callables, *t)) if mode == "eager" else jax.jit(lambda *t: fn(*callables, *t))
        out = run(*tensors)
        np.testing.assert_allclose(np.asarray(out), C.expected(name), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("target", ["tensorflow", "torch", "jax"])
def test_the_docstring_says_which_strategy(target):
    m = _generated(target)
    assert "a JVP of f" in m.ggn_vp.__doc__ and "then a VJP of f" in m.ggn_vp.__doc__
    assert "chosen over the Jacobians" in " ".join(m.ggn_vp.__doc__.split())
    gn = " ".join(m.gauss_newton.__doc__.split())
    assert "one Jacobian for both" in gn
    # JᵀJ: one Jacobian of f, not two.
    source = Path(m.__file__).read_text()
    body = source.split("def gauss_newton")[1].split("\ndef ")[0]
    jacobians = {"tensorflow": "_jacobian(tape", "torch": "_jacobian(f_of_w", "jax": "jax.jacrev("}[target]
    assert body.count(jacobians) == 1, body


def test_ggn_vp_builds_no_jacobian():
    source = Path(_generated("tensorflow").__file__).read_text()
    body = source.split("def ggn_vp")[1].split("\ndef ")[0]
    assert "_jacobian(" not in body and body.count("GradientTape(") == 2  # the tape, and the dual one


def test_wrong_operands_name_the_function():
    tf = pytest.importorskip("tensorflow")
    m = _generated("tensorflow")
    models = _tf_models()
    with pytest.raises(ValueError, match=r"ggn_vp: .*\bv\b"):
        m.ggn_vp(models.f, tf.constant(C.W), tf.constant(C.V[:5]))
    with pytest.raises(ValueError, match=r"gauss_newton: .*f\(w\)"):
        m.gauss_newton(lambda w: tf.tanh(w), tf.constant(C.W))
    with pytest.raises(ValueError, match=r"ntk: .*w"):
        m.ntk(models.f, models.g, tf.constant(np.ones((3, 4))))


LARGE = """\
import json, sys
import numpy as np
import tensorflow as tf
sys.path.insert(0, sys.argv[1])
from tests import pairs_cases as C
from tests.ein_harness import compile_and_import


def status(field):
    # KiB, from Linux's own accounting of this process (TensorFlow's allocator bypasses tracemalloc).
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field))


def growth(run):
    # The peak resident size over the resident size before, the peak reset first (clear_refs 5).
    open("/proc/self/clear_refs", "w").write("5")
    before = status("VmRSS")
    result = run()
    return status("VmHWM") - before, result


m = compile_and_import(C.SPEC, "pairs.ein", "tensorflow")[0]
n = 30_000


def f(w):
    # 30,000 outputs of 30,000 weights, each output reading two weights.
    return tf.reshape(tf.tanh(w + 0.5 * tf.roll(w, 1, 0)), (-1, 100))


rng = np.random.default_rng(0)
w, v = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
m.ggn_vp(f, tf.constant(w[:1000]), tf.constant(v[:1000]))  # warm: TensorFlow's own allocations
peak, out = growth(lambda: m.ggn_vp(f, tf.constant(w), tf.constant(v)).numpy())
# The instrument sees growth of this scale: 400 MB allocated and touched.
control, _ = growth(lambda: np.ones(100_000_000, np.float32).sum())
slope = 1 - np.tanh(w + 0.5 * np.roll(w, 1)) ** 2
u = slope * (v + 0.5 * np.roll(v, 1))
expected = slope * u + 0.5 * np.roll(slope * u, -1)
error = float(np.abs(out - expected).max() / np.abs(expected).max())
print(json.dumps({"peak_kib": peak, "control_kib": control, "error": error}))
"""


def test_large_ggn_vector_product_runs_in_memory_of_the_weights():
    """30,000 weights and outputs: J would be 3.6 GB of float32; the JVP then VJP needs a few vectors."""
    pytest.importorskip("tensorflow")
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", LARGE, str(REPO)], capture_output=True, text=True, timeout=300, env=env, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["error"] < 1e-5, result
    # The growth of the peak, far below the Jacobian's 3.6 GB (measured: see the report).
    assert result["control_kib"] > 300 * 1024, result
    assert result["peak_kib"] < 200 * 1024, result
    print(result)


def test_the_composite_the_ellipsis_error_suggests_is_the_exact_diagonal():
    """`...%...j->...j` is refused with the hint 'B%Bj->Bj': that spec computes the exact row-wise diagonal."""
    tf = pytest.importorskip("tensorflow")
    from einigc.errors import CompileErrors

    with pytest.raises(CompileErrors) as refused:
        compile_and_import('rows(f, x) = eingrad("...%...j->...j", f, x)\n', "rows.ein", "tensorflow")
    assert "'B%Bj->Bj'" in refused.value.diagnostics[0].hint
    m = compile_and_import('rows(f, x) = eingrad("B%Bj->Bj", f, x)\n', "rows.ein", "tensorflow")[0]
    x = np.random.default_rng(1).normal(size=(2, 3, 4))

    def f(t):
        # Rows interact through the mean over both batch axes.
        return tf.reduce_sum(tf.tanh(t - tf.reduce_mean(t, (0, 1))), -1)

    out = m.rows(f, tf.constant(x)).numpy()
    expected = (1 - np.tanh(x - x.mean((0, 1))) ** 2) * (1 - 1 / 6)
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9)
