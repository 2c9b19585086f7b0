"""The JAX runtime helpers called directly, as einigc copies them: eagerly, under jax.jit, jax.grad and vmap."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

from einigc.targets.jax import runtime  # noqa: E402
from einigc.targets.runtime_source import runtime as runtime_module  # noqa: E402
from tests.test_runtime_numpy import (  # noqa: E402
    DIAGONALS,
    RIGHT_OPERANDS,
    diagonal_case,
    induced_case,
    message_of,
    named,
    wrong_operands,
)


# ---- _check_axes


@pytest.mark.parametrize("spec, shapes, sizes, message", wrong_operands())
def test_check_axes_rejects_wrong_operands_with_the_tensorflow_runtimes_message(spec, shapes, sizes, message):
    assert message_of(runtime._check_axes, spec, named(shapes, jnp.ones), sizes) == message


@pytest.mark.parametrize("spec, shapes, sizes", RIGHT_OPERANDS)
def test_check_axes_accepts_right_operands_and_returns_them(spec, shapes, sizes):
    operands = named(shapes, jnp.ones)
    checked = runtime._check_axes("right", spec, operands, sizes)
    assert all(c is value for c, (_, value) in zip(checked, operands))


def test_check_axes_under_jit_checks_the_static_shapes_at_trace_time():
    traces = []

    @jax.jit
    def product(a, b):
        traces.append(a.shape)
        a, b = runtime._check_axes("jitted", "ij,jk", [("a", a), ("b", b)])
        return runtime._diagonal(a @ b, "ii", "i")

    a, b = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(product(a, b), np.diag(a @ b))
    np.testing.assert_allclose(product(a, b), np.diag(a @ b))
    assert traces == [(2, 3)]  # checked once per trace, not per call
    with pytest.raises(ValueError) as raised:
        product(a, a)
    assert str(raised.value) == "jitted: axis 'j' is 3 in 'a' but 2 in 'b'"


def test_check_axes_converts_what_jnp_einsum_converts():
    # Arrays and scalars, numpy's too; jax promotes mixed dtypes itself.
    a, s = runtime._check_axes("convert", "i,", [("a", np.ones(2, np.float32)), ("s", 2.0)])
    assert isinstance(a, jax.Array) and a.dtype == jnp.float32 and s.shape == ()
    runtime._check_axes("promote", "i,i", [("a", jnp.ones(2)), ("b", jnp.ones(2, jnp.int32))])
    # jnp.einsum refuses lists.
    with pytest.raises(TypeError) as raised:
        runtime._check_axes("f", "i", [("a", [1.0, 2.0])])
    assert str(raised.value) == (
        "f: operand 'a' is not an array: jax takes arrays and scalars, got list (convert it with jnp.asarray)"
    )
    with pytest.raises(TypeError, match=r"^f: operand 'a' is not an array: "):
        runtime._check_axes("f", "i", [("a", object())])


# ---- _diagonal, _induced_diagonal


@pytest.mark.parametrize("axes, result_axes, sizes", DIAGONALS)
def test_diagonal_matches_numpy_eagerly_and_under_jit(axes, result_axes, sizes):
    x, expected = diagonal_case(axes, result_axes, sizes)
    x32, expected32 = x.astype(np.float32), expected.astype(np.float32)
    np.testing.assert_array_equal(runtime._diagonal(jnp.asarray(x32), axes, result_axes), expected32)
    jitted = jax.jit(lambda t: runtime._diagonal(t, axes, result_axes))
    np.testing.assert_array_equal(jitted(x32), expected32)


@pytest.mark.parametrize("axes, result_axes, sizes", DIAGONALS)
def test_induced_diagonal_matches_numpy_eagerly_and_under_jit(axes, result_axes, sizes):
    y, expected = induced_case(axes, result_axes, sizes)
    y32, expected32 = y.astype(np.float32), expected.astype(np.float32)
    np.testing.assert_array_equal(runtime._induced_diagonal(jnp.asarray(y32), result_axes, axes), expected32)
    jitted = jax.jit(lambda t: runtime._induced_diagonal(t, result_axes, axes))
    np.testing.assert_array_equal(jitted(y32), expected32)


def test_the_diagonals_are_each_others_adjoints_under_grad_and_vmap():
    # d/dx <w, diag(x)> = induced(w), and d/dy <v, induced(y)> = diag(v).
    rng = np.random.default_rng(4)
    x, v = (jnp.asarray(rng.standard_normal((3, 2, 2, 3)), jnp.float32) for _ in range(2))
    w, y = (jnp.asarray(rng.standard_normal((3, 2)), jnp.float32) for _ in range(2))
    grad_x = jax.grad(lambda x: (runtime._diagonal(x, "ijji", "ij") * w).sum())(x)
    np.testing.assert_array_equal(grad_x, runtime._induced_diagonal(w, "ij", "ijji"))
    grad_y = jax.grad(lambda y: (runtime._induced_diagonal(y, "ij", "ijji") * v).sum())(y)
    np.testing.assert_array_equal(grad_y, np.einsum("ijji->ij", np.asarray(v)))
    batched = jax.vmap(lambda x: runtime._diagonal(x, "ijji", "ij"))(jnp.stack([x, v]))
    np.testing.assert_array_equal(batched, np.einsum("bijji->bij", np.stack([x, v])))


# ---- _jacobian


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64])
def test_jacobian_of_a_map_with_a_closed_form_holomorphic_for_complex_dtypes(dtype):
    rng = np.random.default_rng(3)
    a = jnp.asarray(rng.standard_normal((3, 3)), dtype)
    x = jnp.asarray(rng.standard_normal(3) + (1j * rng.standard_normal(3) if dtype == jnp.complex64 else 0), dtype)
    jacobian = runtime._jacobian(lambda x: a @ x + x * x, x)
    np.testing.assert_allclose(jacobian, np.asarray(a) + np.diag(2 * np.asarray(x)), rtol=1e-5)
    jitted = jax.jit(lambda x: runtime._jacobian(lambda y: y * y, x))
    np.testing.assert_allclose(jitted(x), np.diag(2 * np.asarray(x)), rtol=1e-6)


# ---- the small ones


def test_require_bool_names_the_operand_and_its_dtype():
    runtime._require_bool(jnp.array([True]), "count", "x")
    with pytest.raises(TypeError) as raised:
        runtime._require_bool(jnp.array([1.0]), "count", "x")
    assert str(raised.value) == "count: operand 'x' must be boolean, got float32"


def test_the_runtime_copies_stand_alone():
    helpers = runtime_module("jax")
    needed = helpers.needed(["_check_axes", "_diagonal", "_induced_diagonal", "_require_bool"])
    assert helpers.modules_used(needed) == ["functools", "jax", "jax.numpy", "math"]
    namespace = {}
    header = "import functools\nimport math\n\nimport jax\nimport jax.numpy as jnp\n\n"
    exec(compile(header + "\n\n".join(d.source for d in needed), "generated", "exec"), namespace)
    diagonal = namespace["_diagonal"](jnp.eye(3) * 2, "ii", "i")
    np.testing.assert_array_equal(diagonal, [2.0, 2.0, 2.0])
