"""Several `%` pairs: letters that two pairs share through different places are checked, on every target.

A letter (or `...`, or a composite) on the variable side of one pair and the
value side of another, or on the variable sides of two different variables,
has two sizes that only the Jacobians meet; unchecked, a transposed value of
the same size contracted silently with the wrong axes.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from tests.ein_harness import compile_and_import

SPEC = """\
chain(f, x, g, y) = eingrad("i%...,...%j->ij", f, x, g, y)
chain_composite(f, x, g, y) = eingrad("i%J,J%j->ij", f, x, g, y)
chain_letters(f, x, g, w) = eingrad("i%j,j%k->ik", f, x, g, w)
two(f, x, g, y) = eingrad("i%...,j%...->ij", f, x, g, y)
ggn_two(f, w, g, v) = eingrad("bi%p,bi%q,q->p", f, w, g, w, v)
"""

RNG = np.random.default_rng(16)
TARGETS = ["tensorflow", "torch", "jax"]


def _framework(target):
    if target == "tensorflow":
        tf = pytest.importorskip("tensorflow")
        return tf.constant, lambda a: tf.constant(a), tf.sin, lambda s, *a: tf.einsum(s, *a), tf.reduce_sum
    if target == "torch":
        torch = pytest.importorskip("torch")
        return torch.tensor, torch.tensor, torch.sin, torch.einsum, torch.sum
    jnp = pytest.importorskip("jax.numpy")
    return jnp.asarray, jnp.asarray, jnp.sin, jnp.einsum, jnp.sum


def _x64(target):
    return pytest.importorskip("jax").enable_x64(True) if target == "jax" else contextlib.nullcontext()


def _cases(target):
    tensor, const, sin, einsum, _ = _framework(target)
    x = tensor(RNG.normal(size=(2, 3)))
    y = tensor(RNG.normal(size=(4,)))
    a, b, c = (const(RNG.normal(size=shape)) for shape in ((5, 2, 3), (3, 2, 4), (2, 3, 4)))
    f = lambda u: sin(einsum("ab,iab->i", u, a))  # noqa: E731
    # g's value has x's axes transposed: the same size, another layout.
    g_transposed = lambda v: sin(einsum("j,baj->ba", v, b))  # noqa: E731
    g_right = lambda v: sin(einsum("j,abj->ab", v, c))  # noqa: E731
    x1, w = tensor(RNG.normal(size=(3,))), tensor(RNG.normal(size=(6,)))
    f1 = lambda u: sin(u[:2]) * 2.0  # noqa: E731  (2 outputs)
    g4 = lambda v: sin(v[:4])  # noqa: E731  (4 outputs where x has 3)
    y32 = tensor(RNG.normal(size=(3, 2)))
    f_of_y = lambda v: sin(einsum("ab->", v))[None]  # noqa: E731
    return {
        "chain": ((f, x, g_transposed, y), "composite 'Z' is [2, 3] in 'the Jacobian of f' but [3, 2]"),
        "chain_composite": ((f, x, g_transposed, y), "composite 'J' is [2, 3] in 'the Jacobian of f' but [3, 2]"),
        "chain_letters": ((f1, x1, g4, w), "axis 'j'"),
        "two": ((f, x, f_of_y, y32), "composite 'Z' is [2, 3] in 'the Jacobian of f' but [3, 2]"),
    }, (f, x, g_right, y)


@pytest.mark.parametrize("name", ["chain", "chain_composite", "chain_letters", "two"])
@pytest.mark.parametrize("target", TARGETS)
def test_a_letter_two_pairs_give_is_checked(target, name):
    with _x64(target):
        cases, _ = _cases(target)
        m = compile_and_import(SPEC, "pairs_checks.ein", target)[0]
        args, message = cases[name]
        with pytest.raises(ValueError) as refused:
            getattr(m, name)(*args)
        assert str(refused.value).startswith(f"{name}: ") and message in str(refused.value), refused.value


@pytest.mark.parametrize("target", TARGETS)
def test_the_checked_chain_still_computes_J_f_J_g(target):
    with _x64(target):
        _, (f, x, g, y) = _cases(target)
        m = compile_and_import(SPEC, "pairs_checks.ein", target)[0]
        out = np.asarray(m.chain(f, x, g, y))

        # Finite differences: J_f (5 x 6) at x, J_g (6 x 4) at y, flattened over `...`.
        def numeric(fn, at):
            at = np.asarray(at, dtype=np.float64)
            eps, cols = 1e-6, []
            for k in range(at.size):
                step = np.zeros(at.size)
                step[k] = eps
                plus = np.asarray(fn(_like(x, at + step.reshape(at.shape))))
                minus = np.asarray(fn(_like(x, at - step.reshape(at.shape))))
                cols.append((plus - minus).reshape(-1) / (2 * eps))
            return np.stack(cols, -1)

        jf, jg = numeric(f, x), numeric(g, y)
        np.testing.assert_allclose(out, jf @ jg, rtol=1e-5, atol=1e-7)


def _like(t, array):
    """`array` as a tensor of `t`'s framework."""
    module = type(t).__module__
    if module.startswith("torch"):
        import torch

        return torch.tensor(array)
    if module.startswith("tensorflow"):
        import tensorflow as tf

        return tf.constant(array)
    import jax.numpy as jnp

    return jnp.asarray(array)


def test_tf_function_with_unknown_sizes_checks_the_shared_letters():
    tf = pytest.importorskip("tensorflow")
    cases, _ = _cases("tensorflow")
    m = compile_and_import(SPEC, "pairs_checks.ein", "tensorflow")[0]
    (f, x, g, y), _ = cases["chain_composite"]
    run = tf.function(
        lambda x, y: m.chain_composite(f, x, g, y),
        input_signature=[tf.TensorSpec([None, None], tf.float64), tf.TensorSpec([None], tf.float64)],
    )
    # Refused while tracing where the sizes are known by then, else when it runs.
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="chain_composite: composite 'J'"):
        run(x, y)


@pytest.mark.parametrize("target", TARGETS)
def test_a_jvp_then_a_vjp_of_two_functions_checks_their_values_against_each_other(target):
    """g's JVP is the cotangent of f's VJP: g(w) 4 x 4 where f(w) is 4 x 3 is refused, naming both."""
    with _x64(target):
        tensor, const, sin, einsum, _ = _framework(target)
        m = compile_and_import(SPEC, "pairs_checks.ein", target)[0]
        a, b = const(RNG.normal(size=(4, 3, 6))), const(RNG.normal(size=(4, 4, 6)))
        f = lambda u: sin(einsum("bip,p->bi", a, u))  # noqa: E731
        g = lambda u: sin(einsum("bip,p->bi", b, u))  # noqa: E731
        w, v = tensor(RNG.normal(size=6)), tensor(RNG.normal(size=6))
        assert "a JVP of g" in " ".join(m.ggn_two.__doc__.split())
        with pytest.raises(ValueError, match=r"^ggn_two: axis 'i' is 3 in 'f\(w\)' but 4 in 'the JVP of g'"):
            m.ggn_two(f, w, g, v)


SCALARS = """\
scalar_chain(f, x, g) = eingrad("i%,i%->", f, x, g, x)
scalar_jacobian(f, x) = eingrad("A%A->", f, x)
reused(f, x, y) = eingrad("i%j,k%j,k->i", f, x, f, x, y)
"""


@pytest.mark.parametrize("target", TARGETS)
def test_scalar_variables_and_a_reused_jacobian_beside_another_operand(target):
    """Found by the property test: a chain of a scalar variable crashed the compiler on torch and jax (its
    tangent contracted no operands), torch's Jacobian of a scalar by a scalar called reshape() without a
    shape, and a second pair reusing the first's Jacobian left an operand on its letters unchecked."""
    with _x64(target):
        tensor, const, sin, _, _ = _framework(target)
        m = compile_and_import(SCALARS, "scalars.ein", target)[0]
        ones = const(np.ones(3))
        out = m.scalar_chain(lambda x: sin(x) * ones, tensor(np.array(0.3)), lambda x: sin(2 * x) * ones)
        # sum_i f'(x)_i g'(x)_i = 3 cos(0.3) 2 cos(0.6)
        np.testing.assert_allclose(np.asarray(out), 3 * np.cos(0.3) * 2 * np.cos(0.6), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(m.scalar_jacobian(sin, tensor(np.array(0.3)))), np.cos(0.3), rtol=1e-12)
        with pytest.raises(ValueError, match=r"^reused: axis 'k' is 2 in 'the Jacobian of f' but 4 in 'y'"):
            m.reused(lambda x: sin(x[:2]), tensor(np.ones(3)), tensor(np.ones(4)))
        x, y = RNG.normal(size=3), RNG.normal(size=2)
        jac = np.zeros((2, 3))
        jac[[0, 1], [0, 1]] = np.cos(x[:2])
        np.testing.assert_allclose(
            np.asarray(m.reused(lambda t: sin(t[:2]), tensor(x), tensor(y))), jac @ jac.T @ y, rtol=1e-12
        )
