"""Numeric tests of the generated code against the numpy reference (tests/numpy_ref.py).

Every function of examples/specs.ein and examples/derivatives.ein is compiled with compile_text, imported,
and run (a) eagerly, (b) under tf.function with fully unknown dimensions in the
input signature, and (c) under tf.function(jit_compile=True), for the dtypes TF
accepts; gradients are checked against central differences of the reference.
"""

from __future__ import annotations

import os
import re
import types
import zlib
from pathlib import Path

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests import numpy_ref as R  # noqa: E402
from tests.ein_harness import compile_and_import, compile_module  # noqa: E402
from tests.example_cases import BOOLEAN, NUMERIC, REFERENCE, SHAPES, _bmm3  # noqa: E402,F401

tf = pytest.importorskip("tensorflow")

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "examples" / "specs.ein"
DERIVATIVES = REPO / "examples" / "derivatives.ein"


@pytest.fixture(scope="module")
def specs():
    """The functions of both example files, as one namespace."""
    modules = [compile_module(path.read_text(encoding="utf-8"), path.name) for path in (SPECS, DERIVATIVES)]
    functions = {name: getattr(module, name) for module in modules for name in module.__all__}
    return types.SimpleNamespace(__all__=list(functions), **functions)


DTYPES = [tf.float16, tf.bfloat16, tf.float32, tf.float64, tf.complex64, tf.int32]

# Relative tolerance (in units of the dtype's epsilon) on an error bounded by
# the same function applied to |inputs|: a forward error bound that holds for
# sums of products computed in the dtype, with slack for the nested functions.
EPS = {
    tf.float16: 2.0**-11,
    tf.bfloat16: 2.0**-8,
    tf.float32: 2.0**-24,
    tf.float64: 2.0**-53,
    tf.complex64: 2.0**-24,
    tf.int32: 0.0,
}
ULPS = 64


def make_inputs(shapes, dtype, seed):
    """TF tensors of `dtype`, and the same values as float64/complex128/int64 numpy."""
    gen = np.random.default_rng(seed)
    tensors, values = [], []
    for shape in shapes:
        if dtype == tf.bool:
            x = gen.random(shape) < 0.4
        elif dtype.is_integer:
            x = gen.integers(-3, 4, size=shape)
        elif dtype.is_complex:
            x = gen.standard_normal(shape) + 1j * gen.standard_normal(shape)
        else:
            x = gen.standard_normal(shape)
        t = tf.constant(x, dtype=dtype)
        tensors.append(t)
        if dtype == tf.bool:
            values.append(t.numpy())
        elif dtype.is_complex:
            values.append(t.numpy().astype(np.complex128))
        elif dtype.is_integer:
            values.append(t.numpy().astype(np.int64))
        else:
            values.append(t.numpy().astype(np.float64))
    return tensors, values


def _seed(*parts) -> int:
    """A deterministic seed (str hashes change between processes)."""
    return zlib.crc32(repr(parts).encode())


def to_numpy(result):
    out = result.numpy()
    if result.dtype in (tf.bfloat16, tf.float16):
        return out.astype(np.float64)
    return out


def assert_matches(name, result, values, dtype):
    reference = REFERENCE[name]
    expected = reference(*values)
    actual = to_numpy(result)
    assert tuple(result.shape) == expected.shape, (name, result.shape, expected.shape)
    if name in BOOLEAN:
        if name == "reachable":
            assert result.dtype == tf.bool, result.dtype
        else:
            assert result.dtype.is_integer, result.dtype
        np.testing.assert_array_equal(actual, expected)
        return
    assert result.dtype == dtype, (name, result.dtype, dtype)
    if dtype.is_integer:
        np.testing.assert_array_equal(actual, expected)
        return
    scale = np.abs(reference(*[np.abs(v) for v in values]))
    bound = ULPS * EPS[dtype] * scale + 1e-300
    error = np.abs(actual.astype(expected.dtype) - expected)
    worst = np.max(error - bound) if error.size else 0.0
    assert worst <= 0, f"{name} {dtype.name}: error {np.max(error)} exceeds bound\n{actual}\n{expected}"


def signature(tensors):
    return [tf.TensorSpec([None] * len(t.shape), t.dtype) for t in tensors]


# --- the table covers the example file -----------------------------------------


def test_every_example_function_has_a_reference(specs):
    assert sorted(specs.__all__) == sorted(list(REFERENCE) + list(EINGRAD_CASES))
    assert sorted(SHAPES) == sorted(REFERENCE)


# --- (a) eagerly, (b) tf.function with unknown dims, (c) XLA ------------------


def _cases(names, dtypes):
    for name in names:
        for dtype in dtypes:
            for k in range(len(SHAPES[name])):
                yield pytest.param(name, dtype, k, id=f"{name}-{dtype.name}-shapes{k}")


@pytest.mark.parametrize("name,dtype,k", list(_cases(NUMERIC, DTYPES)))
def test_eager(specs, name, dtype, k):
    tensors, values = make_inputs(SHAPES[name][k], dtype, seed=_seed(name, k))
    assert_matches(name, getattr(specs, name)(*tensors), values, dtype)


@pytest.mark.parametrize("name,dtype,k", list(_cases(NUMERIC, DTYPES)))
def test_tf_function_unknown_dims(specs, name, dtype, k):
    tensors, values = make_inputs(SHAPES[name][k], dtype, seed=_seed(name, k, 1))
    f = tf.function(getattr(specs, name), input_signature=signature(tensors))
    concrete = f.get_concrete_function()
    assert all(d is None for spec in concrete.structured_input_signature[0] for d in spec.shape)
    assert_matches(name, f(*tensors), values, dtype)


def test_tf_function_unknown_dims_one_trace_many_shapes(specs):
    """One trace with unknown dims serves every shape of the same ranks."""
    f = tf.function(specs.batched_dot, input_signature=[tf.TensorSpec([None] * 3, tf.float64)] * 2)
    for shapes in ([(2, 3, 4), (2, 3, 4)], [(1, 3, 2), (5, 1, 2)], [(2, 1, 6), (1, 4, 6)]):
        tensors, values = make_inputs(shapes, tf.float64, seed=7)
        assert_matches("batched_dot", f(*tensors), values, tf.float64)
    assert len(f._list_all_concrete_functions()) == 1


# (function, dtype) pairs that XLA refuses to compile: filled from observation,
# each asserts that XLA still refuses (so that the list stays honest) and that
# the eager result is right.
XLA_UNSUPPORTED: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("name,dtype,k", list(_cases(NUMERIC, DTYPES)))
def test_xla(specs, name, dtype, k):
    tensors, values = make_inputs(SHAPES[name][k], dtype, seed=_seed(name, k, 2))
    f = tf.function(getattr(specs, name), jit_compile=True)
    if (name, dtype.name) in XLA_UNSUPPORTED:
        with pytest.raises((tf.errors.InvalidArgumentError, tf.errors.UnimplementedError)):
            f(*tensors)
        assert_matches(name, getattr(specs, name)(*tensors), values, dtype)
        return
    assert_matches(name, f(*tensors), values, dtype)


@pytest.mark.parametrize("name,dtype,k", list(_cases(NUMERIC, [tf.float32, tf.float64])))
def test_xla_with_unknown_dims_signature(specs, name, dtype, k):
    tensors, values = make_inputs(SHAPES[name][k], dtype, seed=_seed(name, k, 3))
    f = tf.function(getattr(specs, name), input_signature=signature(tensors), jit_compile=True)
    assert_matches(name, f(*tensors), values, dtype)


# --- booleans: eincount and einany ----------------------------------------------------

MODES = ["eager", "function", "xla"]


def _run(fn, tensors, mode):
    if mode == "eager":
        return fn(*tensors)
    if mode == "function":
        return tf.function(fn, input_signature=signature(tensors))(*tensors)
    return tf.function(fn, jit_compile=True)(*tensors)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(BOOLEAN))
def test_boolean_functions(specs, name, mode):
    for seed in range(3):
        tensors, values = make_inputs(SHAPES[name][0], tf.bool, seed=seed)
        assert_matches(name, _run(getattr(specs, name), tensors, mode), values, tf.bool)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(BOOLEAN))
def test_boolean_extremes(specs, name, mode):
    """All true: counts are the contracted size; all false: zero / nothing."""
    fn = getattr(specs, name)
    a, b = tf.ones([3, 4], tf.bool), tf.ones([4, 5], tf.bool)
    out = _run(fn, [a, b], mode).numpy()
    np.testing.assert_array_equal(out, 4 if name == "path_count" else True)
    out = _run(fn, [a, tf.zeros([4, 5], tf.bool)], mode).numpy()
    np.testing.assert_array_equal(out, 0 if name == "path_count" else False)


def _mentions(message: str, word: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(word)}(?![A-Za-z0-9_])", message) is not None


@pytest.mark.parametrize("mode", ["eager", "function"])
@pytest.mark.parametrize("bad_dtype", [tf.float32, tf.int32, tf.int64, tf.uint8])
@pytest.mark.parametrize("position", [0, 1])
@pytest.mark.parametrize("name", sorted(BOOLEAN))
def test_boolean_functions_reject_other_dtypes(specs, name, position, bad_dtype, mode):
    tensors = [tf.ones([3, 4], tf.bool), tf.ones([4, 5], tf.bool)]
    tensors[position] = tf.cast(tensors[position], bad_dtype)
    with pytest.raises(TypeError) as info:
        _run(getattr(specs, name), tensors, mode)
    message = str(info.value)
    operand = "ab"[position]
    assert name in message, message
    assert _mentions(message, operand), message
    assert "bool" in message, message


# --- gradients ------------------------------------------------------------------------


def numeric_gradient(fn, values, cotangent, h=1e-4):
    """Central differences of sum(cotangent * fn(values)) in float64."""
    grads = []
    for k, v in enumerate(values):
        g = np.zeros(np.shape(v))
        for idx in np.ndindex(v.shape):
            plus = [np.array(x, copy=True) for x in values]
            minus = [np.array(x, copy=True) for x in values]
            plus[k][idx] += h
            minus[k][idx] -= h
            g[idx] = (np.sum(cotangent * fn(*plus)) - np.sum(cotangent * fn(*minus))) / (2 * h)
        grads.append(g)
    return grads


GRADIENT_CASES = [
    ("bmm3", 0),
    ("bilinear", 0),
    ("trace", 0),
    ("diagonal", 0),
    ("dot_sum", 1),  # broadcasting: gradients reduce back to the operand shapes
    ("batched_dot", 3),
    ("scale", 0),
    ("gram_trace", 0),
    ("twice", 0),
    ("tensordot", 0),
    ("batch_matvec", 1),  # v is used twice
    ("spread", 0),
    ("interleave", 0),
    ("high_rank_diagonal", 0),
    ("project", 0),
    ("group_mix", 0),
]


def _tape_gradients(fn, tensors, cotangent):
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        out = fn(*tensors)
        loss = tf.reduce_sum(tf.cast(cotangent, out.dtype) * out)
    return tape.gradient(loss, tensors)


@pytest.mark.parametrize("mode", ["eager", "function"])
@pytest.mark.parametrize("name,k", GRADIENT_CASES)
def test_gradients_match_central_differences(specs, name, k, mode):
    tensors, values = make_inputs(SHAPES[name][k], tf.float64, seed=11)
    expected_out = REFERENCE[name](*values)
    cotangent = np.random.default_rng(5).standard_normal(expected_out.shape)
    fn = getattr(specs, name)
    if mode == "function":
        fn = tf.function(fn, input_signature=signature(tensors))
        grad_fn = tf.function(
            lambda *xs: _tape_gradients(fn, list(xs), cotangent),
            input_signature=signature(tensors),
        )
        grads = grad_fn(*tensors)
    else:
        grads = _tape_gradients(fn, tensors, cotangent)
    expected = numeric_gradient(REFERENCE[name], values, cotangent)
    assert len(grads) == len(expected)
    for g, e, t in zip(grads, expected, tensors):
        assert g is not None, f"{name}: no gradient flows to an operand"
        assert tuple(g.shape) == tuple(t.shape)
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16, tf.float32, tf.complex64])
def test_gradients_flow_in_other_dtypes(specs, dtype):
    """bmm3's gradient w.r.t. x is cotangent @ (y z)^T, per batch."""
    tensors, values = make_inputs(SHAPES["bmm3"][0], dtype, seed=3)
    cot = make_inputs([(2, 3, 2)], dtype, seed=4)[0][0]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        loss = tf.reduce_sum(cot * specs.bmm3(*tensors))
    grads = tape.gradient(loss, tensors)
    assert all(g is not None and g.dtype == dtype for g in grads)
    x, y, z = values
    c = to_numpy(cot)
    c = c.astype(np.complex128) if dtype.is_complex else c.astype(np.float64)
    # d sum(c * (x y z)) / dx = c (y z)^T; TF's convention for complex is the
    # conjugate (the gradient of a real loss), so compare against conj of it.
    expected = np.einsum("bil,bjk,bkl->bij", c, y, z)
    if dtype.is_complex:
        expected = np.conj(expected)
    scale = np.einsum("bil,bjk,bkl->bij", np.abs(c), np.abs(y), np.abs(z))
    error = np.abs(to_numpy(grads[0]) - expected)
    assert np.all(error <= ULPS * EPS[dtype] * scale + 1e-300), (error.max(), scale.max())


# --- errors at run time -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["eager", "function"])
def test_named_axis_size_mismatch_is_an_error(specs, mode):
    """Named axes must agree exactly: no numpy-style broadcasting of size 1."""
    for name, tensors in [
        ("matmul", [tf.ones([2, 1]), tf.ones([3, 4])]),
        ("diagonal", [tf.ones([2, 3])]),
        ("bmm3", [tf.ones([2, 3, 4]), tf.ones([1, 4, 5]), tf.ones([2, 5, 2])]),
        ("tensordot", [tf.ones([2, 3, 4]), tf.ones([1, 5])]),
        ("project", [tf.ones([2, 3, 4]), tf.ones([11, 5])]),
    ]:
        with pytest.raises((tf.errors.InvalidArgumentError, ValueError)):
            _run(getattr(specs, name), tensors, mode)


@pytest.mark.parametrize("mode", ["eager", "function"])
def test_where_exact_sizes_are_checked(specs, mode):
    """`where j = 4` is checked by the generated code: a group it cannot split is an error."""
    for name, tensors in [
        ("unflatten", [tf.ones([10])]),
        ("unflatten", [tf.ones([2])]),
        ("group_mix", [tf.ones([5, 3]), tf.ones([3, 4])]),
    ]:
        with pytest.raises((tf.errors.InvalidArgumentError, ValueError)):
            _run(getattr(specs, name), tensors, mode).numpy()


def test_named_axis_size_mismatch_error_names_the_axis(specs):
    """LANGUAGE.md: the error for a size-1 named axis names the axis."""
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError)) as info:
        specs.matmul(tf.ones([2, 1]), tf.ones([3, 4]))
    assert _mentions(str(info.value), "j") or "'j'" in str(info.value), str(info.value)


# --- eingrad ------------------------------------------------------------------------------
#
# Each case: the TF callables passed for the operands left of `%`, and the
# reference from numpy_ref.eingrad with numpy twins of the callables
# (differentiated by central differences, or given analytically).

_G = np.random.default_rng(2024)
W = _G.standard_normal((3, 4))  # i = 3, j = 4
WSQ = _G.standard_normal((4, 4))


def vec_tf(x):  # (j,) -> (i,), entries interact through the sum
    return tf.tanh(tf.linalg.matvec(tf.constant(W, x.dtype), x)) * tf.reduce_sum(x)


def vec_np(x):
    return np.tanh(W @ x) * np.sum(x)


def square_tf(x):  # (j,) -> (j,)
    return tf.sin(tf.linalg.matvec(tf.constant(WSQ, x.dtype), x)) + x * tf.reduce_sum(x**2)


def square_np(x):
    return np.sin(WSQ @ x) + x * np.sum(x**2)


def scalar_tf(x):  # (j,) -> ()
    return tf.reduce_sum(tf.sin(x)) * tf.reduce_sum(x**2)


def scalar_np(x):
    return np.sum(np.sin(x)) * np.sum(x**2)


def scalar_grad_np(x):
    return np.cos(x) * np.sum(x**2) + 2 * x * np.sum(np.sin(x))


def rows_scalar_tf(x):  # (b, j) -> (b,), rows independent
    return tf.reduce_sum(tf.sin(x) * x, axis=1) * tf.reduce_sum(x**2, axis=1)


def rows_scalar_np(x):
    return np.sum(np.sin(x) * x, axis=1) * np.sum(x**2, axis=1)


def rows_vec_tf(x):  # (b, j) -> (b, i), rows independent
    return tf.tanh(tf.matmul(x, tf.constant(W.T, x.dtype))) * tf.reduce_sum(x, axis=1, keepdims=True)


def rows_vec_np(x):
    return np.tanh(x @ W.T) * np.sum(x, axis=1, keepdims=True)


def mixing_scalar_tf(x):  # (b, j) -> (b,), rows interact (batch-norm-like)
    c = x - tf.reduce_mean(x, axis=0)
    return tf.reduce_sum(tf.sin(c) * c, axis=1)


def mixing_scalar_np(x):
    c = x - x.mean(axis=0)
    return np.sum(np.sin(c) * c, axis=1)


def mixing_vec_tf(x):  # (b, j) -> (b, i), rows interact (attention-like softmax over b)
    s = tf.matmul(x, tf.constant(W.T, x.dtype))
    return tf.nn.softmax(s, axis=0) * tf.reduce_sum(x**2, axis=1, keepdims=True)


def mixing_vec_np(x):
    s = x @ W.T
    e = np.exp(s - s.max(axis=0))
    return e / e.sum(axis=0) * np.sum(x**2, axis=1, keepdims=True)


NET_X, NET_X2 = _G.standard_normal((4, 2)), _G.standard_normal((5, 2))


def _net_tf(inputs):
    def net(w):  # (6,) -> (b, 3): tanh of a linear model, its rows centred on their mean (they interact)
        z = tf.matmul(tf.constant(inputs, w.dtype), tf.reshape(w, (2, 3)))
        return tf.tanh(z - tf.reduce_mean(z, axis=0))

    return net


def _net_np(inputs):
    def net(w):
        z = inputs @ w.reshape(2, 3)
        return np.tanh(z - z.mean(axis=0))

    return net


net_tf, net2_tf, net_np, net2_np = _net_tf(NET_X), _net_tf(NET_X2), _net_np(NET_X), _net_np(NET_X2)


# name -> (operands, shapes of the tensor operands, reference(*tensor values)):
# each operand is a TF callable, passed as is, or "t", the next tensor.
EINGRAD_CASES = {
    "vjp": (
        ["t", vec_tf, "t"],
        [(3,), (4,)],
        lambda z, x: R.eingrad("i,i%j->j", z, vec_np, x),
    ),
    "jacobian": ([vec_tf, "t"], [(4,)], lambda x: R.eingrad("i%j->ij", vec_np, x)),
    "gradient": ([scalar_tf, "t"], [(5,)], lambda x: R.eingrad(",%j->j", scalar_np, x)),
    "hessian": ([scalar_tf, "t"], [(5,)], lambda x: R.eingrad("j%k->jk", scalar_grad_np, x)),
    "hvp": (
        [scalar_tf, "t", "t"],
        [(5,), (5,)],
        lambda x, v: R.eingrad("j%k,k->j", scalar_grad_np, x, v),
    ),
    "jvp": ([vec_tf, "t", "t"], [(4,), (4,)], lambda x, v: R.eingrad("i%j,j->i", vec_np, x, v)),
    "divergence": ([square_tf, "t"], [(4,)], lambda x: R.eingrad("i%i->", square_np, x)),
    "batched_grad": (
        [rows_scalar_tf, "t"],
        [(3, 4)],
        lambda x: R.eingrad("b%bj->bj", rows_scalar_np, x),
    ),
    "batched_jvp": (
        [rows_vec_tf, "t", "t"],
        [(2, 4), (2, 4)],
        lambda x, v: R.eingrad("bi%bj,bj->bi", rows_vec_np, x, v),
    ),
    "batched_jacobian": (
        [rows_vec_tf, "t"],
        [(2, 4)],
        lambda x: R.eingrad("bi%bj->bij", rows_vec_np, x),
    ),
    # An einsum linear in x: its Jacobian is w itself.
    "linear_jacobian": (["t", "t"], [(3, 4), (4,)], lambda w, x: R.eingrad("i%j->ij", w, x)),
    # Several pairs: tanh of linear models whose rows interact (net_tf), or vector functions of x.
    "gauss_newton": ([net_tf, "t"], [(6,)], lambda w: R.eingrad("bi%p,bi%q->pq", net_np, w, net_np, w)),
    "ggn_vp": (
        [net_tf, "t", "t"],
        [(6,), (6,)],
        lambda w, v: R.eingrad("bi%p,bi%q,q->p", net_np, w, net_np, w, v),
    ),
    "ntk": ([net_tf, net2_tf, "t"], [(6,)], lambda w: R.eingrad("ai%p,bj%p->aibj", net_np, w, net2_np, w)),
    "mixed": ([vec_tf, square_tf, "t"], [(4,)], lambda x: R.eingrad("i%j,k%j->ik", vec_np, x, square_np, x)),
    "rows": ([mixing_scalar_tf, "t"], [(3, 4)], lambda x: R.eingrad("b%bj->bj", mixing_scalar_np, x)),
}

EINGRAD_TOL = {tf.float32: dict(rtol=2e-4, atol=2e-4), tf.float64: dict(rtol=1e-7, atol=1e-7)}


def _eingrad_args(kinds, tensors):
    it = iter(tensors)
    return [next(it) if kind == "t" else kind for kind in kinds]


def _run_eingrad(fn, kinds, tensors, mode):
    """Runs `fn` with callables closed over: tf.function sees only the tensors."""

    def call(*ts):
        return fn(*_eingrad_args(kinds, ts))

    if mode == "eager":
        return call(*tensors)
    if mode == "function":
        return tf.function(call, input_signature=signature(tensors))(*tensors)
    return tf.function(call, jit_compile=True)(*tensors)


def _assert_eingrad(out, expected, dtype, what):
    assert out.dtype == dtype, (what, out.dtype)
    assert tuple(out.shape) == expected.shape, (what, out.shape, expected.shape)
    np.testing.assert_allclose(out.numpy(), expected, err_msg=what, **EINGRAD_TOL[dtype])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("name", sorted(EINGRAD_CASES))
def test_eingrad_functions(specs, name, dtype, mode):
    kinds, shapes, reference = EINGRAD_CASES[name]
    tensors, values = make_inputs(shapes, dtype, seed=_seed(name, "eingrad"))
    out = _run_eingrad(getattr(specs, name), kinds, tensors, mode)
    _assert_eingrad(out, reference(*values), dtype, f"{name} {mode}")


EXACT_DIAGONALS = """\
exact_grad(y, x) = eingrad("b%bj->bj", y, x)
exact_jvp(y, x, v) = eingrad("bi%bj,bj->bi", y, x, v)
exact_jacobian(y, x) = eingrad("bi%bj->bij", y, x)
exact_vjp(z, y, x) = eingrad("bi,bi%bj->bj", z, y, x)
fast_grad(y, x) = eingrad("b%bj->bj", y, x) where b independent
fast_jvp(y, x, v) = eingrad("bi%bj,bj->bi", y, x, v) where b independent
fast_jacobian(y, x) = eingrad("bi%bj->bij", y, x) where b independent
fast_vjp(z, y, x) = eingrad("bi,bi%bj->bj", z, y, x) where b independent
"""

DIAGONAL_CASES = {
    "grad": ("b%bj->bj", [(3, 4)], ("fn", "t")),
    "jvp": ("bi%bj,bj->bi", [(3, 4), (3, 4)], ("fn", "t", "t")),
    "jacobian": ("bi%bj->bij", [(3, 4)], ("fn", "t")),
    "vjp": ("bi,bi%bj->bj", [(3, 3), (3, 4)], ("t", "fn", "t")),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("which", sorted(DIAGONAL_CASES))
def test_eingrad_shared_letter_is_exact_when_entries_interact(which, mode):
    """Without `independent`, `b` shared across `%` is the diagonal of the full Jacobian."""
    module = compile_module(EXACT_DIAGONALS)
    spec, shapes, kinds = DIAGONAL_CASES[which]
    scalar = which == "grad"
    fn_tf, fn_np = (mixing_scalar_tf, mixing_scalar_np) if scalar else (mixing_vec_tf, mixing_vec_np)
    tensors, values = make_inputs(shapes, tf.float64, seed=_seed(which, "exact"))
    kinds_tf = [fn_tf if k == "fn" else "t" for k in kinds]
    out = _run_eingrad(getattr(module, f"exact_{which}"), kinds_tf, tensors, mode)
    it = iter(values)
    ref_operands = [fn_np if k == "fn" else next(it) for k in kinds]
    expected = R.eingrad(spec, *ref_operands)
    _assert_eingrad(out, expected, tf.float64, f"exact_{which} {mode}")
    # The fast lowering agrees when the rows do not interact.
    fn_tf, fn_np = (rows_scalar_tf, rows_scalar_np) if scalar else (rows_vec_tf, rows_vec_np)
    kinds_tf = [fn_tf if k == "fn" else "t" for k in kinds]
    it = iter(values)
    ref_operands = [fn_np if k == "fn" else next(it) for k in kinds]
    expected = R.eingrad(spec, *ref_operands)
    for prefix in ("exact", "fast"):
        out = _run_eingrad(getattr(module, f"{prefix}_{which}"), kinds_tf, tensors, mode)
        _assert_eingrad(out, expected, tf.float64, f"{prefix}_{which} {mode} (independent rows)")


EXPRESSIONS = """\
cube_grad(x) = eingrad(",%i->i", einsum("i,i->", x, einsum("i,i->i", x, x)), x)
quadratic_grad(x, w) = eingrad(",%j->j", einsum("i,ij,j->", x, w, x), x)
quadratic_hessian(x, w) = eingrad("j%k->jk", eingrad(",%j->j", einsum("i,ij,j->", x, w, x), x), x)
bilinear_jacobian(x, w, u) = eingrad("k%j->kj", einsum("i,ijk->k", x, einsum("ijk,j->ijk", w, x)), x)
"""


@pytest.mark.parametrize("mode", MODES)
def test_eingrad_of_expressions(mode):
    """The operand left of `%` may be an expression of the variable."""
    module = compile_module(EXPRESSIONS)
    tensors, (x, w) = make_inputs([(4,), (4, 4)], tf.float64, seed=17)
    run = {
        "eager": lambda f, *a: f(*a),
        "function": lambda f, *a: tf.function(f, input_signature=signature(a))(*a),
        "xla": lambda f, *a: tf.function(f, jit_compile=True)(*a),
    }[mode]
    _assert_eingrad(run(module.cube_grad, tensors[0]), 3 * x**2, tf.float64, "cube_grad")
    _assert_eingrad(run(module.quadratic_grad, *tensors), (w + w.T) @ x, tf.float64, "quadratic_grad")
    _assert_eingrad(run(module.quadratic_hessian, *tensors), w + w.T, tf.float64, "quadratic_hessian")
    t3, (x3, w3, u3) = make_inputs([(3,), (3, 3, 2), (1,)], tf.float64, seed=18)
    expected = R.eingrad("k%j->kj", lambda x: R.einsum("i,ijk,j->k", x, w3, x), x3)
    _assert_eingrad(run(module.bilinear_jacobian, *t3), expected, tf.float64, "bilinear_jacobian")
