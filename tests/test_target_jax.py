"""The JAX target: examples/specs.ein and random specs against the numpy reference, under jax's own machinery.

Every generated function is a jax.jit (the printer decorates it), so a plain
call is compiled; the suite also runs each one op by op (its __wrapped__),
inside a caller's jax.jit, under jax.grad (against central differences of
the reference) and on inputs sharded over two host devices (in a
subprocess: XLA_FLAGS must be set before jax is imported). float64 runs
under `jax.enable_x64(True)`, a context manager, so jax's global config does
not leak into other test modules.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
from hypothesis import example, given, settings

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

from tests import matmul_cases  # noqa: E402
from tests.ein_harness import compile_and_import, compile_module  # noqa: E402
from tests.ein_strategies import dialect_cases, numpy_style_cases  # noqa: E402
from tests.example_cases import BOOLEAN, NUMERIC, REFERENCE, SEMIRING, SHAPES, SPECS  # noqa: E402
from tests.property_cases import CORNERS, DIALECT_CORNERS, arrays, expected  # noqa: E402
from tests.semiring_cases import chosen_onehot, softmax_weights  # noqa: E402
from tests.test_target_numpy import make_inputs  # noqa: E402

# Each random spec compiles a module and a jax.jit: fewer than numpy's 60.
EXAMPLES = int(os.environ.get("EINIG_PROPERTY_EXAMPLES", "12"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)

DTYPES = [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64, jnp.complex64, jnp.int32]
EPS = {"float16": 2.0**-11, "bfloat16": 2.0**-8, "float32": 2.0**-24, "float64": 2.0**-53, "complex64": 2.0**-24}
ULPS = 64


@pytest.fixture(scope="module")
def specs():
    return compile_module(SPECS.read_text(encoding="utf-8"), "specs.ein", "jax")


def x64_if(dtype):
    """float64 exists in jax only under jax_enable_x64."""
    return jax.enable_x64(np.dtype(dtype) == np.float64)


def assert_matches(name, result, values, dtype):
    reference = REFERENCE[name]
    want = reference(*values)
    assert isinstance(result, jax.Array), type(result)
    assert result.shape == want.shape, (name, result.shape, want.shape)
    dtype = np.dtype(dtype)
    assert result.dtype == dtype, (name, result.dtype, dtype)
    result = np.asarray(result)
    if np.issubdtype(dtype, np.integer):
        np.testing.assert_array_equal(result, want)
        return
    scale = np.abs(reference(*[np.abs(v) for v in values]))
    bound = ULPS * EPS[dtype.name] * scale + 1e-300
    error = np.abs(result.astype(want.dtype) - want)
    assert not error.size or np.max(error - bound) <= 0, f"{name} {dtype.name}: error {np.max(error)}"


def test_the_module_imports_only_jax_and_jits_every_function(specs):
    _, result = compile_and_import(SPECS.read_text(encoding="utf-8"), "specs.ein", "jax")
    tree = ast.parse(result.source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported == {"functools", "math", "jax", "jax.numpy"}
    assert not any(isinstance(node, ast.ImportFrom) for node in ast.walk(tree))
    assert sorted(specs.__all__) == sorted(REFERENCE)
    assert result.source.count("@jax.jit\ndef ") == len(REFERENCE)
    assert specs.bmm3.__doc__.startswith("Batched product of three matrices")


# Every function and shape in float32 (below); the other dtypes on the first
# shape of functions that between them print every op (each case compiles).
IN_EVERY_DTYPE = [
    "bmm3", "bilinear", "trace", "batched_dot", "dot_sum", "scale", "gram_trace", "row_sums",
    "diag_matrix", "interleave", "high_rank_diagonal", "tensordot", "batch_matvec", "flatten_t", "group_mix",
]  # fmt: skip
CASES = [(name, dtype, 0) for name in IN_EVERY_DTYPE for dtype in DTYPES if dtype != jnp.float32]


@pytest.mark.parametrize("name, dtype, k", CASES, ids=[f"{n}-{np.dtype(d).name}-{k}" for n, d, k in CASES])
def test_example_functions_match_the_reference(specs, name, dtype, k):
    inputs, values = make_inputs(SHAPES[name][k], dtype, zlib.crc32(f"{name}{k}".encode()))
    with x64_if(dtype):
        assert_matches(name, getattr(specs, name)(*map(jnp.asarray, inputs)), values, dtype)


FLOAT32_CASES = [(name, k) for name in NUMERIC for k in range(len(SHAPES[name]))]


@pytest.mark.parametrize("name, k", FLOAT32_CASES, ids=[f"{n}-{k}" for n, k in FLOAT32_CASES])
def test_example_functions_match_called_op_by_op_and_inside_a_callers_jit(specs, name, k):
    inputs, values = make_inputs(SHAPES[name][k], np.float32, zlib.crc32(f"{name}{k}".encode()))
    function = getattr(specs, name)
    assert_matches(name, function(*inputs), values, np.float32)
    if k:
        return  # one shape is enough for the rest (each compiles again)
    # Without its jax.jit: each jnp call dispatched on its own.
    assert_matches(name, function.__wrapped__(*inputs), values, np.float32)
    assert_matches(name, jax.jit(lambda *xs: function(*xs) * 2)(*inputs) / 2, values, np.float32)


# einmax and einlogsumexp (Viterbi, HMM forward) on every shape, and jax.grad
# against the reference's weights: one-hot on the best previous state, the
# softmax over them. The rest of the semirings: tests/test_semirings_jax.py.
SEMIRING_WEIGHTS = {"viterbi_step": lambda s, t: chosen_onehot(s, t, np.argmax), "forward_step": softmax_weights}


@pytest.mark.parametrize("name", sorted(SEMIRING))
def test_semiring_functions_match_the_reference_and_differentiate(specs, name):
    function = getattr(specs, name)
    for k, shapes in enumerate(SHAPES[name]):
        inputs, values = make_inputs(shapes, np.float32, zlib.crc32(f"{name}{k}".encode()))
        assert_matches(name, function(*inputs), values, np.float32)
    inputs, values = make_inputs(SHAPES[name][0], np.float64, 3)
    cotangent = np.random.default_rng(1).standard_normal(REFERENCE[name](*values).shape)
    weights = SEMIRING_WEIGHTS[name](*values)
    with jax.enable_x64(True):
        grad = jax.jit(jax.grad(lambda s, t: jnp.sum(function(s, t) * cotangent), (0, 1)))
        grad_s, grad_t = grad(*map(jnp.asarray, inputs))
    np.testing.assert_allclose(np.asarray(grad_s), np.einsum("bij,bj->bi", weights, cotangent), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(grad_t), np.einsum("bij,bj->ij", weights, cotangent), rtol=1e-10)


@pytest.mark.parametrize("name", sorted(BOOLEAN))
def test_boolean_functions_match_and_reject_other_dtypes_at_trace_time(specs, name):
    inputs, values = make_inputs(SHAPES[name][0], np.bool_, 7)
    want = REFERENCE[name](*values)
    result = getattr(specs, name)(*inputs)
    assert result.dtype == (jnp.bool_ if name == "reachable" else jnp.int32)
    np.testing.assert_array_equal(np.asarray(result), want)
    wrong = [jax.ShapeDtypeStruct(inputs[0].shape, jnp.bool_), jax.ShapeDtypeStruct(inputs[1].shape, jnp.float32)]
    with pytest.raises(TypeError, match=f"^{name}: operand 'b' must be boolean, got float32"):
        jax.eval_shape(getattr(specs, name), *wrong)  # traced, never run


def test_eincount_counts_in_int64_under_x64_and_says_so(specs):
    # Without jax_enable_x64, jax has no int64: the counts are its default
    # integer, int32, and the docstring says which.
    assert "[i, k], int32 (int64 with jax_enable_x64)" in specs.path_count.__doc__
    a, b = np.ones((3, 4), bool), np.ones((4, 2), bool)
    with jax.enable_x64(True):
        counts = specs.path_count(a, b)
    assert counts.dtype == jnp.int64 and np.asarray(counts).tolist() == [[4, 4]] * 3


def test_lists_are_rejected_as_the_runtime_says_and_numbers_are_taken(specs):
    message = (
        "matmul: operand 'a' is not an array: jax takes arrays and scalars, got list (convert it with jnp.asarray)"
    )
    for call in (specs.matmul, jax.jit(specs.matmul)):
        with pytest.raises(TypeError) as raised:
            call([[1.0, 2.0]], jnp.ones((2, 1)))
        assert str(raised.value) == message
    assert np.asarray(specs.scale(2.0, np.ones((2, 2), np.float32))).tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_a_non_array_operand_is_jax_jits_type_error_naming_the_function_and_operand(specs):
    # jax.jit refuses it before the body runs, in its own words.
    with pytest.raises(TypeError, match=r"function matmul at .* path a\b"):
        specs.matmul(object(), jnp.ones((2, 2)))


def test_zero_size_dimensions_give_numpy_shapes(specs):
    assert specs.matmul(jnp.ones((0, 3)), jnp.ones((3, 2))).shape == (0, 2)
    assert np.asarray(specs.matmul(jnp.ones((2, 0)), jnp.ones((0, 2)))).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert specs.tensordot(jnp.ones((2, 0, 4)), jnp.ones((4, 3))).shape == (2, 0, 3)
    assert specs.diag_matrix(jnp.ones((0,))).shape == (0, 0)
    assert float(specs.trace(jnp.ones((0, 0)))) == 0.0
    assert specs.high_rank_diagonal(jnp.ones((2, 0, 2, 2, 0, 2))).shape == (2, 2, 0, 2)
    assert specs.bmm3(jnp.ones((0, 2, 3)), jnp.ones((0, 3, 4)), jnp.ones((0, 4, 5))).shape == (0, 2, 5)
    assert specs.batched_dot(jnp.ones((0, 3)), jnp.ones((1, 3))).shape == (0,)


WRONG = [
    (lambda s: (s.matmul, (3, 4), (3, 2)), r"^matmul: axis 'j' is 4 in 'a' but 3 in 'b'"),
    (lambda s: (s.trace, (3, 4)), r"^trace: axis 'i' is 3 and also 4 in 'x', which holds it twice: the two must be equal"),
    (lambda s: (s.bmm3, (2, 3), (2, 3, 3), (2, 3, 3)), r"^bmm3: operand 'x'"),
    (lambda s: (s.unflatten, (7,)), r"^unflatten: "),
    (lambda s: (s.batched_dot, (2, 4), (3, 4)), r"^batched_dot: "),
]


@pytest.mark.parametrize("how", ["called", "op by op", "traced"])
@pytest.mark.parametrize("wrong, message", WRONG, ids=[m.split(":")[0][1:] for _, m in WRONG])
def test_wrong_operands_raise_an_error_naming_the_function(specs, wrong, message, how):
    function, *shapes = wrong(specs)
    with pytest.raises(ValueError, match=message):
        if how == "traced":  # at trace time: abstract shapes, no data
            jax.eval_shape(function, *(jax.ShapeDtypeStruct(s, jnp.float32) for s in shapes))
        elif how == "op by op":
            function.__wrapped__(*map(jnp.ones, shapes))
        else:
            function(*map(jnp.ones, shapes))


def test_the_order_is_chosen_from_the_static_shapes_while_tracing():
    module = compile_module('f(a, b, c) = einsum("ij,jk,kl->il", a, b, c)\n', "spec.ein", "jax")
    gen = np.random.default_rng(0)
    # (a b) c builds 2x3, a (b c) builds 3x2; the other order's 50x40 or
    # 40x50 intermediate never appears in the traced program.
    for shapes, built, avoided in [
        (((2, 50), (50, 3), (3, 40)), "2x3xf32", "50x40xf32"),
        (((40, 3), (3, 50), (50, 2)), "3x2xf32", "40x50xf32"),
    ]:
        a, b, c = (gen.standard_normal(s).astype(np.float32) for s in shapes)
        program = module.f.lower(a, b, c).as_text()
        assert built in program and avoided not in program
        np.testing.assert_allclose(module.f(a, b, c), a @ b @ c, rtol=1e-4, atol=1e-5)


# ---- jax.grad through every function


def central_differences(function, values, cotangent, h=0.5):
    """d<function(values), cotangent>/d each value: exact for the specs
    here, of degree 2 at most in each entry."""
    gradients = []
    for k, value in enumerate(values):
        gradient = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = []
            for step in (h, -h):
                moved = [v.copy() for v in values]
                moved[k][index] += step
                shifted.append(np.sum(function(*moved) * cotangent))
            gradient[index] = (shifted[0] - shifted[1]) / (2 * h)
        gradients.append(gradient)
    return gradients


# Under a caller's jax.jit too: a product chain, a choice of order, a
# gather, a scatter, a group and `...` (every one would double the time).
JITTED_GRADIENTS = {"chain", "bilinear", "high_rank_diagonal", "interleave", "project", "dot_sum"}


@pytest.mark.parametrize("name", NUMERIC)
def test_jax_grad_flows_through_every_function(specs, name):
    inputs, values = make_inputs(SHAPES[name][0], np.float64, zlib.crc32(name.encode()))
    cotangent = np.random.default_rng(1).standard_normal(REFERENCE[name](*values).shape)
    want = central_differences(REFERENCE[name], values, cotangent)
    function = getattr(specs, name)
    with jax.enable_x64(True):
        loss = lambda *xs: jnp.sum(function(*xs) * cotangent)  # noqa: E731
        grad = jax.grad(loss, tuple(range(len(inputs))))
        if name in JITTED_GRADIENTS:
            grad = jax.jit(grad)
        for got, expect in zip(grad(*map(jnp.asarray, inputs)), want):
            assert got.shape == expect.shape
            np.testing.assert_allclose(np.asarray(got), expect, rtol=1e-9, atol=1e-9, err_msg=name)


def test_jax_grad_in_float32_and_vmap_over_a_batch(specs):
    x = jnp.asarray(np.random.default_rng(2).standard_normal((3, 4)), jnp.float32)
    np.testing.assert_allclose(jax.grad(specs.gram_trace)(x), 2 * x, rtol=1e-6)
    batched = jax.vmap(specs.trace)(jnp.stack([jnp.eye(3), 2 * jnp.eye(3)]))
    assert np.asarray(batched).tolist() == [3.0, 6.0]


# ---- sharded over two host devices

SHARDED = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import importlib.util, sys
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

assert jax.device_count() == 2, jax.devices()
spec = importlib.util.spec_from_file_location("specs_jax", sys.argv[1])
specs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(specs)
mesh = Mesh(np.array(jax.devices()), ("d",))
gen = np.random.default_rng(0)
x, y, z = (gen.standard_normal(s).astype(np.float32) for s in [(4, 3, 5), (4, 5, 2), (4, 2, 3)])
along_b = NamedSharding(mesh, P("d"))
xs, ys, zs = (jax.device_put(a, along_b) for a in (x, y, z))
result = specs.bmm3(xs, ys, zs)
np.testing.assert_allclose(result, x @ y @ z, rtol=1e-5)
assert len(result.sharding.device_set) == 2, result.sharding
m = gen.standard_normal((6, 8)).astype(np.float32)
ms = jax.device_put(m, NamedSharding(mesh, P("d", None)))
np.testing.assert_allclose(specs.gram_trace(ms), np.trace(m @ m.T), rtol=1e-5)
np.testing.assert_allclose(jax.grad(specs.gram_trace)(ms), 2 * m, rtol=1e-5)
w = np.ones((15, 2), np.float32)
np.testing.assert_allclose(jax.jit(specs.project)(xs, w), x.reshape(4, 15) @ w, rtol=1e-5)
print("sharded ok")
"""


@pytest.mark.slow  # starts a process
def test_functions_take_inputs_sharded_over_two_host_devices(tmp_path):
    _, result = compile_and_import(SPECS.read_text(encoding="utf-8"), "specs.ein", "jax")
    module = tmp_path / "specs_jax.py"
    module.write_text(result.source, encoding="utf-8")
    script = tmp_path / "sharded.py"
    script.write_text(textwrap.dedent(SHARDED), encoding="utf-8")
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    run = subprocess.run(
        [sys.executable, str(script), str(module)], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "sharded ok"


# ---- random specs of the whole dialect, each under the function's jax.jit


def _check(case):
    inputs = [x.astype(np.float32) for x in arrays(case)]
    actual = compile_module(case.ein_text(), "spec.ein", "jax").f(*inputs)
    values = [x.astype(np.float64) for x in inputs]
    want = expected(case, values)
    assert actual.shape == want.shape, (case, actual.shape, want.shape)
    assert actual.dtype == jnp.float32
    scale = np.abs(expected(case, [np.abs(v) for v in values]))
    error = np.abs(np.asarray(actual, np.float64) - want)
    assert not error.size or np.max(error - ULPS * EPS["float32"] * scale) <= 0, case.ein_text()


def _with(corners):
    def decorate(test):
        for case in corners:
            test = example(case)(test)
        return test

    return decorate


@SETTINGS
@_with(CORNERS)
@given(numpy_style_cases())
def test_random_numpy_style_specs_match_the_reference(case):
    _check(case)


@SETTINGS
@_with(DIALECT_CORNERS)
@given(dialect_cases())
def test_random_dialect_specs_match_the_reference(case):
    _check(case)


@pytest.fixture(scope="module")
def views():
    return compile_module(matmul_cases.SPEC, "views.ein", "jax")


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64])
@pytest.mark.parametrize("name, k", matmul_cases.CASES)
def test_transposed_broadcast_and_vector_products_match_np_einsum(views, name, k, dtype):
    # jnp.matmul of `.mT` views and columns, jitted: a transpose, never a conjugate.
    operands = [jnp.asarray(x.astype(dtype)) for x in matmul_cases.inputs(name, k, np.dtype(dtype).kind == "c")]
    result = getattr(views, name)(*operands)
    assert result.dtype == np.dtype(dtype)
    wide = np.complex128 if np.dtype(dtype).kind == "c" else np.float64
    matmul_cases.assert_close(
        name, np.asarray(result), [np.asarray(x).astype(wide) for x in operands], np.finfo(dtype).eps
    )
