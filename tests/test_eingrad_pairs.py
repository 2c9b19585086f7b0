"""eingrad with several `%` pairs on TensorFlow, PyTorch and JAX: closed forms, the strategy chosen, memory."""

from __future__ import annotations

import contextlib
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


# Each row needs its framework: the generated module imports it.
TARGETS = [pytest.param(target, marks=getattr(pytest.mark, target)) for target in ("tensorflow", "torch", "jax")]


@pytest.mark.parametrize("target", TARGETS)
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


@pytest.mark.tensorflow
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
sys.path.insert(0, sys.argv[1])
from tests import pairs_cases as C
from tests.ein_harness import compile_and_import
TARGET = sys.argv[2]
if TARGET == "tensorflow":
    import tensorflow as tf
    tensor, to_numpy = tf.constant, lambda t: t.numpy()
    roll, tanh, rows = (lambda t: tf.roll(t, 1, 0)), tf.tanh, (lambda t: tf.reshape(t, (-1, 100)))
elif TARGET == "torch":
    import torch
    tensor, to_numpy = torch.tensor, lambda t: t.numpy()
    roll, tanh, rows = (lambda t: torch.roll(t, 1, 0)), torch.tanh, (lambda t: t.reshape(-1, 100))
else:
    import jax.numpy as jnp
    tensor, to_numpy = jnp.asarray, np.asarray
    roll, tanh, rows = (lambda t: jnp.roll(t, 1, 0)), jnp.tanh, (lambda t: t.reshape(-1, 100))


def status(field):
    # KiB, from Linux's own accounting of this process (the frameworks' allocators bypass tracemalloc).
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field))


def growth(run):
    # The peak resident size over the resident size before, the peak reset first (clear_refs 5).
    open("/proc/self/clear_refs", "w").write("5")
    before = status("VmRSS")
    result = run()
    return status("VmHWM") - before, result


m = compile_and_import(C.SPEC, "pairs.ein", TARGET)[0]
n = 30_000


def f(w):
    # 30,000 outputs of 30,000 weights, each output reading two weights.
    return rows(tanh(w + 0.5 * roll(w)))


rng = np.random.default_rng(0)
w, v = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
m.ggn_vp(f, tensor(w[:1000]), tensor(v[:1000]))  # warm: the framework's own allocations
peak, out = growth(lambda: to_numpy(m.ggn_vp(f, tensor(w), tensor(v))))
# The instrument sees growth of this scale: 400 MB allocated and touched.
control, _ = growth(lambda: np.ones(100_000_000, np.float32).sum())
slope = 1 - np.tanh(w + 0.5 * np.roll(w, 1)) ** 2
u = slope * (v + 0.5 * np.roll(v, 1))
expected = slope * u + 0.5 * np.roll(slope * u, -1)
error = float(np.abs(out - expected).max() / np.abs(expected).max())
print(json.dumps({"peak_kib": peak, "control_kib": control, "error": error}))
"""


@pytest.mark.parametrize("target", TARGETS)
def test_large_ggn_vector_product_runs_in_memory_of_the_weights(target):
    """30,000 weights and outputs: J would be 3.6 GB of float32; the JVP then VJP needs a few vectors."""
    pytest.importorskip({"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}[target])
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", LARGE, str(REPO), target],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["error"] < 1e-5, result
    # The growth of the peak, far below the Jacobian's 3.6 GB (measured: see the report).
    assert result["control_kib"] > 300 * 1024, result
    assert result["peak_kib"] < 200 * 1024, result
    print(result)


# --- more specs against the numpy oracle (numeric Jacobians), TensorFlow eagerly -----------------------------------

# name: (declaration, its arguments: "f:OUT<-IN" a dense tanh function, "r:OUT<-IN" one acting row by row, or a
# shape; the eingrad operands in spec order as argument positions, ("einsum", spec, positions) an einsum of the
# variable that comes last)
ORACLE_CASES = {
    "cotangent_then_pairs": (
        '(z, f, g, x) = eingrad("i,i%j,k%j->k", z, f, x, g, x)',
        ["4", "f:4<-3", "f:5<-3", "3"],
        [0, 1, 3, 2, 3],
    ),
    "chain_of_two_functions": (
        '(f, g, w, v) = eingrad("bi%p,bi%q,q->p", f, w, g, w, v)',
        ["f:2,3<-4", "f:2,3<-4", "4", "4"],
        [0, 2, 1, 2, 3],
    ),
    "two_variables": (
        '(f, x, g, w) = eingrad("i%j,j%k->ik", f, x, g, w)',
        ["f:3<-4", "4", "f:4<-5", "5"],
        [0, 1, 2, 3],
    ),
    "exact_batch_diagonals": (
        '(f, x, v) = eingrad("bi%bj,bi%bk,bk->bj", f, x, f, x, v)',
        ["f:3,2<-3,4", "3,4", "3,4"],
        [0, 1, 0, 1, 2],
    ),
    "sandwich": (
        '(f, g, w, y, z) = eingrad("i%p,j%p,i,j->", f, w, g, w, y, z)',
        ["f:3<-5", "f:4<-5", "5", "3", "4"],
        [0, 2, 1, 2, 3, 4],
    ),
    "three_pairs": ('(f, x) = eingrad("i%j,i%k,i%l->jkl", f, x, f, x, f, x)', ["f:3<-2", "2"], [0, 1, 0, 1, 0, 1]),
    "independent_rows": (
        '(f, x) = eingrad("bi%bj,bi%bk->bjk", f, x, f, x) where b independent',
        ["r:3,2<-3,4", "3,4"],
        [0, 1, 0, 1],
    ),
    "expression_pair": (
        '(a, w, f) = eingrad("i%j,k%j->ik", einsum("ij,j->i", a, w), w, f, w)',
        ["3,4", "4", "f:2<-4"],
        [("einsum", "ij,j->i", [0]), 1, 2, 1],
    ),
}


def _framework(target: str):
    """(constant, tanh, matvec, reshape, to_numpy) of a target's framework, float64."""
    if target == "tensorflow":
        tf = pytest.importorskip("tensorflow")
        return tf.constant, tf.tanh, tf.linalg.matvec, tf.reshape, lambda t: t.numpy()
    if target == "torch":
        torch = pytest.importorskip("torch")
        return torch.tensor, torch.tanh, torch.mv, torch.reshape, lambda t: t.detach().numpy()
    jnp = pytest.importorskip("jax.numpy")
    return lambda a: jnp.asarray(a, jnp.float64), jnp.tanh, jnp.matmul, jnp.reshape, np.asarray


def _oracle_arguments(kinds, target, seed):
    constant, tanh, matvec, reshape, _ = _framework(target)
    rng = np.random.default_rng(seed)
    numpy_args, framework_args = [], []
    for kind in kinds:
        if ":" not in kind:
            array = rng.normal(size=tuple(int(n) for n in kind.split(",")))
            numpy_args.append(array)
            framework_args.append(constant(array))
            continue
        form, shapes = kind.split(":")
        out, inp = (tuple(int(n) for n in s.split(",")) for s in shapes.split("<-"))
        if form == "f":  # every output reads every input: a dense linear map, then tanh
            m = rng.normal(size=(int(np.prod(out)), int(np.prod(inp)))) * 0.5
            numpy_args.append(lambda x, m=m, out=out: np.tanh(m @ np.ravel(x)).reshape(out))
            framework_args.append(lambda x, m=constant(m), out=out: reshape(tanh(matvec(m, reshape(x, (-1,)))), out))
        else:  # row by row: y[b] = tanh(x[b] A)
            a = rng.normal(size=(inp[1], out[1])) * 0.5
            numpy_args.append(lambda x, a=a: np.tanh(x @ a))
            framework_args.append(lambda x, a=constant(a): tanh(x @ a))
    return numpy_args, framework_args


def _oracle_operand(position, numpy_args):
    if isinstance(position, int):
        return numpy_args[position]
    _, spec, fixed = position
    return lambda w: np.einsum(spec, *(numpy_args[k] for k in fixed), w)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(ORACLE_CASES))
def test_against_the_numpy_oracle(name, target):
    from tests import numpy_ref as R

    declaration, kinds, positions = ORACLE_CASES[name]
    # float64 on JAX within this test only (a context manager, as in test_eingrad_jax).
    precision = pytest.importorskip("jax").enable_x64(True) if target == "jax" else contextlib.nullcontext()
    m = compile_and_import(f"{name}{declaration}\n", "oracle.ein", target)[0]
    with precision:
        numpy_args, framework_args = _oracle_arguments(kinds, target, seed=len(name))
        expected = R.eingrad(declaration.split('"')[1], *(_oracle_operand(p, numpy_args) for p in positions))
        out = getattr(m, name)(*framework_args)
        np.testing.assert_allclose(_framework(target)[-1](out), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["ggn_vp", "gauss_newton"])
def test_numpy_arrays_as_the_variable_and_the_tangent(name):
    """The variable is made a tensor by its check before a tape watches it, as for one pair."""
    tf = pytest.importorskip("tensorflow")
    args = C.arguments(name, _tf_models(), lambda a: a)  # numpy arrays, as given
    out = getattr(_generated("tensorflow"), name)(*args)
    np.testing.assert_allclose(out.numpy(), C.expected(name), rtol=1e-9, atol=1e-9)
