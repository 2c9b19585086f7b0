"""Semiring pairs at their corners on every framework target: an empty contraction under XLA and autograd,
and the gradient of max where a slice is all -inf (found by review, 2026-12-01)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.ein_harness import compile_module

SPEC = 'mx(a, b) = einmax("ij,jk->ik", a, b)\nmn(a, b) = einmin("ij,jk->ik", a, b)\nlse(a, b) = einlogsumexp("ij,jk->ik", a, b)\n'
ZERO = {"mx": -np.inf, "mn": np.inf, "lse": -np.inf}


@pytest.mark.tensorflow
@pytest.mark.parametrize("name", sorted(ZERO))
def test_tensorflow_empty_contraction_under_xla_and_its_gradient(name):
    import tensorflow as tf

    fn = getattr(compile_module(SPEC), name)
    a, b = tf.zeros((3, 0), tf.float32), tf.zeros((0, 2), tf.float32)
    for run in (fn, tf.function(fn, jit_compile=True)):
        np.testing.assert_array_equal(run(a, b).numpy(), np.full((3, 2), ZERO[name]))
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        result = fn(a, b)
    gradients = tape.gradient(result, [a, b])
    assert [g.shape for g in gradients] == [(3, 0), (0, 2)]


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(ZERO))
def test_torch_empty_contraction_stays_in_the_autograd_graph(name):
    import torch

    fn = getattr(compile_module(SPEC, "spec.ein", "torch"), name)
    a, b = torch.zeros(2, 0, requires_grad=True), torch.zeros(0, 3, requires_grad=True)
    result = fn(a, b)
    assert result.requires_grad
    np.testing.assert_array_equal(result.detach().numpy(), np.full((2, 3), ZERO[name]))
    result.sum().backward()
    assert a.grad.shape == (2, 0) and b.grad.shape == (0, 3)


@pytest.mark.jax
def test_jax_max_of_an_all_minus_inf_slice_gives_the_gradient_as_jnp_max():
    import jax
    import jax.numpy as jnp

    fn = compile_module(SPEC, "spec.ein", "jax").mx
    a, b = jnp.array([[-jnp.inf, 0.0]]), jnp.array([[0.0], [-jnp.inf]])
    got = jax.grad(lambda a, b: fn(a, b).sum(), argnums=(0, 1))(a, b)
    want = jax.grad(lambda a, b: jnp.max(a[:, :, None] + b[None], axis=1).sum(), argnums=(0, 1))(a, b)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w))
    empty = fn(jnp.zeros((2, 0)), jnp.zeros((0, 3)))
    np.testing.assert_array_equal(np.asarray(empty), np.full((2, 3), -np.inf))


@pytest.mark.parametrize("name", sorted(ZERO))
def test_wrong_operands_of_a_semiring_name_the_function_on_numpy(name):
    fn = getattr(compile_module(SPEC, "spec.ein", "numpy"), name)
    with pytest.raises(ValueError, match=rf"^{name}: axis 'j' is 3 in 'a' but 4 in 'b'"):
        fn(np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=rf"^{name}: operand 'a' \(ij\) must have rank 2"):
        fn(np.ones((2, 3, 1)), np.ones((3, 2)))


@pytest.mark.tensorflow
@pytest.mark.parametrize("name", sorted(ZERO))
def test_wrong_operands_of_a_semiring_name_the_function_under_tf_function_with_unknown_dims(name):
    import tensorflow as tf

    fn = tf.function(
        getattr(compile_module(SPEC), name), input_signature=[tf.TensorSpec([None, None], tf.float32)] * 2
    )
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=rf"{name}: axis .j. differs between .a. and .b."):
        fn(tf.ones((2, 3)), tf.ones((4, 2)))


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(ZERO))
def test_wrong_operands_of_a_semiring_name_the_function_under_torch_compile(name):
    import torch

    fn = torch.compile(getattr(compile_module(SPEC, "spec.ein", "torch"), name), backend="eager", dynamic=True)
    assert fn(torch.ones(2, 3), torch.ones(3, 2)).shape == (2, 2)
    with pytest.raises(ValueError, match=rf"^{name}: axis 'j' is 3 in 'a' but 4 in 'b'"):
        fn(torch.ones(2, 3), torch.ones(4, 2))


@pytest.mark.jax
@pytest.mark.parametrize("name", sorted(ZERO))
def test_wrong_operands_of_a_semiring_name_the_function_under_jax_jit(name):
    import jax
    import jax.numpy as jnp

    fn = jax.jit(getattr(compile_module(SPEC, "spec.ein", "jax"), name))
    with pytest.raises(ValueError, match=rf"^{name}: axis 'j' is 3 in 'a' but 4 in 'b'"):
        fn(jnp.ones((2, 3)), jnp.ones((4, 2)))
