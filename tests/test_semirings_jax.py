"""einmax, einmin, einlogsumexp on the JAX target (each function under jax.jit): the dialect against the numpy
reference, infinities, the matrix product's range, dtypes, jax.grad (also jitted), blocks as one lax.scan."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import numpy_ref as R
from tests.ein_harness import compile_module
from tests.ein_strategies import dialect_cases
from tests.property_cases import arrays
from tests.semiring_cases import FUNCS, SETTINGS, check, chosen_onehot, expected, softmax_weights, text, with_corners

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

TEXT = 'f(a, b) = einmax("ij,jk->ik", a, b)\ng(a, b) = einmin("ij,jk->ik", a, b)\nh(a, b) = einlogsumexp("ij,jk->ik", a, b)\n'
BY_FUNC = {"einmax": "f", "einmin": "g", "einlogsumexp": "h"}


@pytest.fixture(autouse=True)
def x64():
    # float64, as the reference computes: jax has it only under jax_enable_x64.
    with jax.enable_x64(True):
        yield


@SETTINGS
@with_corners
@given(dialect_cases(), st.sampled_from(FUNCS))
def test_equals_reference_under_jit(case, func):
    module = compile_module(text(case, func), target="jax")
    values = arrays(case)
    check(module.f(*map(jnp.asarray, values)), expected(case, values, func), case, func)


def test_zero_size_contraction_gives_the_semirings_zero():
    module = compile_module(TEXT, target="jax")
    for func, zero in (("einmax", -np.inf), ("einmin", np.inf), ("einlogsumexp", -np.inf)):
        result = np.asarray(getattr(module, BY_FUNC[func])(jnp.zeros((2, 0)), jnp.zeros((0, 3))))
        assert result.shape == (2, 3) and (result == zero).all(), (func, result)


def test_infinities():
    module = compile_module(TEXT, target="jax")
    a = jnp.asarray([[-np.inf, -np.inf], [0.0, 1.0]])
    b = jnp.asarray([[0.0, -np.inf], [2.0, -np.inf]])
    want = np.array([[-np.inf, -np.inf], [np.logaddexp(0.0, 3.0), -np.inf]])
    np.testing.assert_allclose(np.asarray(module.h(a, b)), want)  # -inf, not NaN
    a = np.array([[-np.inf, 1.0], [-np.inf, -np.inf]])
    b = np.array([[2.0, np.inf], [3.0, 0.0]])
    with np.errstate(invalid="ignore"):  # -inf + inf is NaN, in both
        for func, reduce in (("einmax", np.max), ("einmin", np.min)):
            got = np.asarray(getattr(module, BY_FUNC[func])(jnp.asarray(a), jnp.asarray(b)))
            np.testing.assert_array_equal(got, reduce(a[:, :, None] + b[None], axis=1))


@pytest.mark.parametrize("spread", [1.0, 300.0])  # within the matrix product's range, and beyond it
def test_logsumexp_is_exact_where_a_linear_space_einsum_overflows(spread):
    module = compile_module(TEXT, target="jax")
    gen = np.random.default_rng(1)
    a = (gen.standard_normal((8, 16)) * spread + 500).astype(np.float32)
    b = (gen.standard_normal((16, 4)) * spread - 200).astype(np.float32)
    want = R.evaluate("ij,jk->ik", a.astype(np.float64), b.astype(np.float64), func="einlogsumexp")
    result = module.h(jnp.asarray(a), jnp.asarray(b))
    assert result.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(result), want, rtol=2e-7)
    f = compile_module('f(a, b) = einlogsumexp("...jk,jkl->...l", a, b)\n', target="jax").f
    a, b = gen.standard_normal((2, 3, 4, 2)) * spread, gen.standard_normal((4, 2, 5)) * spread
    want = R.evaluate("...jk,jkl->...l", a, b, func="einlogsumexp")
    np.testing.assert_allclose(np.asarray(f(jnp.asarray(a), jnp.asarray(b))), want, rtol=1e-12)


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_])
def test_integers_and_booleans_are_refused_naming_the_function(func, dtype):
    module = compile_module(f'paths(a, b) = {func}("ij,jk->ik", a, b)\n', target="jax")
    value = jnp.ones((2, 2), dtype)
    name = np.dtype(dtype).name
    with pytest.raises(TypeError, match=rf"^paths: {func} needs floating operands; operand 'a' is {name}\b"):
        module.paths(value, value)  # raised while tracing (jax adds a line on its traceback)


def test_float16_and_bfloat16_run():
    module = compile_module(TEXT, target="jax")
    for dtype in (jnp.float16, jnp.bfloat16):
        a = jnp.ones((2, 3), dtype)
        assert module.h(a, a.T).dtype == dtype
        np.testing.assert_allclose(np.asarray(module.f(a, a.T), np.float32), 2.0)
        np.testing.assert_allclose(np.asarray(module.h(a, a.T), np.float32), 2 + np.log(3), rtol=1e-2)  # log(3 e**2)


@pytest.mark.parametrize("jitted", [False, True], ids=["grad", "jit-grad"])
def test_gradients(jitted):
    module = compile_module(TEXT, target="jax")
    gen = np.random.default_rng(3)
    a, b, w = gen.standard_normal((3, 5)), gen.standard_normal((5, 4)), gen.standard_normal((3, 4))
    for name, weights in (
        ("h", softmax_weights(a, b)),
        ("f", chosen_onehot(a, b, np.argmax)),
        ("g", chosen_onehot(a, b, np.argmin)),
    ):
        function = getattr(module, name)
        grad = jax.grad(lambda a, b: jnp.sum(function(a, b) * w), (0, 1))  # noqa: B023
        grad_a, grad_b = (jax.jit(grad) if jitted else grad)(jnp.asarray(a), jnp.asarray(b))
        np.testing.assert_allclose(np.asarray(grad_a), np.einsum("ijk,ik->ij", weights, w), rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(np.asarray(grad_b), np.einsum("ijk,ik->jk", weights, w), rtol=1e-10, err_msg=name)


def test_gradients_through_the_blocked_recompute_and_the_scan():
    # Spread beyond the product's range: entries are recomputed in blocks
    # (the lax.cond's other branch); the gradient is still the softmax's
    # (weights below 1e-100 come out as 0).
    module = compile_module(TEXT, target="jax")
    gen = np.random.default_rng(4)
    a, b, w = gen.standard_normal((3, 4)) * 400, gen.standard_normal((4, 2)) * 400, gen.standard_normal((3, 2))
    grad_a, grad_b = jax.grad(lambda a, b: jnp.sum(module.h(a, b) * w), (0, 1))(jnp.asarray(a), jnp.asarray(b))
    weights = softmax_weights(a, b)
    np.testing.assert_allclose(np.asarray(grad_a), np.einsum("ijk,ik->ij", weights, w), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(grad_b), np.einsum("ijk,ik->jk", weights, w), rtol=1e-10, atol=1e-12)
    # Blocks of 2 entries of j (a scan of 2 steps, then the rest) under jax.grad.
    a, b = gen.standard_normal((3, 5)), gen.standard_normal((5, 4))
    pair = jax.jit(lambda a, b: module._semiring_pair("max", "ij,jk->ik", a, b, 24))
    grad_a = jax.grad(lambda a: jnp.sum(pair(a, jnp.asarray(b)) * w[:, :1]))(jnp.asarray(a))
    want = np.einsum("ijk,ik->ij", chosen_onehot(a, b, np.argmax), np.repeat(w[:, :1], 4, 1))
    np.testing.assert_allclose(np.asarray(grad_a), want, rtol=1e-10)


def test_small_blocks_give_the_same_result():
    module = compile_module(TEXT, target="jax")
    gen = np.random.default_rng(5)
    a, b = gen.standard_normal((4, 7)), gen.standard_normal((7, 3))
    total = a[:, :, None] + b[None]
    ja, jb = jnp.asarray(a), jnp.asarray(b)
    for block in (1, 5, 12, 13, 10**9):  # 1 to 3 entries of j per block, and all
        for kind, reduce in (("max", np.max), ("min", np.min)):
            result = jax.jit(module._semiring_pair, static_argnums=(0, 1, 4))(kind, "ij,jk->ik", ja, jb, block)
            np.testing.assert_array_equal(np.asarray(result), reduce(total, 1))
        blocks = module._semiring_blocks("logsumexp", ja[:, None, :], jb.T[None], 1, block)
        np.testing.assert_allclose(np.asarray(blocks), np.log(np.exp(total).sum(1)), rtol=1e-12)
