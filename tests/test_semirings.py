"""einmax, einmin, einlogsumexp: the whole dialect against a broadcast-then-reduce numpy reference, on TensorFlow
(eagerly and under tf.function with unknown dims) and NumPy; infinities, gradients, dtypes, the memory bound."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import numpy_ref as R
from tests.ein_harness import compile_module
from tests.ein_strategies import dialect_cases
from tests.property_cases import arrays as _arrays
from tests.semiring_cases import FUNCS, SETTINGS
from tests.semiring_cases import check as _check
from tests.semiring_cases import expected as _expected
from tests.semiring_cases import text as _text
from tests.semiring_cases import with_corners as _with_corners

tf = pytest.importorskip("tensorflow")


@SETTINGS
@_with_corners
@given(dialect_cases(), st.sampled_from(FUNCS))
def test_equals_reference_eagerly(case, func):
    module = compile_module(_text(case, func))
    arrays = _arrays(case)
    _check(module.f(*[tf.constant(a) for a in arrays]), _expected(case, arrays, func), case, func)


_GRAPHS: dict = {}


@SETTINGS
@_with_corners
@given(dialect_cases(), st.sampled_from(FUNCS))
def test_equals_reference_under_tf_function_with_unknown_dims(case, func):
    text = _text(case, func)
    key = (text, tuple(len(s) for s in case.shapes))
    if key not in _GRAPHS:
        signature = [tf.TensorSpec([None] * len(s), tf.float64) for s in case.shapes]
        _GRAPHS[key] = tf.function(compile_module(text).f, input_signature=signature)
    arrays = _arrays(case)
    _check(_GRAPHS[key](*[tf.constant(a) for a in arrays]), _expected(case, arrays, func), case, func)


@SETTINGS
@_with_corners
@given(dialect_cases(), st.sampled_from(FUNCS))
def test_equals_reference_on_numpy(case, func):
    module = compile_module(_text(case, func), target="numpy")
    arrays = _arrays(case)
    _check(module.f(*arrays), _expected(case, arrays, func), case, func)


def test_zero_size_contraction_gives_the_semirings_zero():
    for target in ("tensorflow", "numpy"):
        for func, zero in (("einmax", -np.inf), ("einmin", np.inf), ("einlogsumexp", -np.inf)):
            module = compile_module(f'f(a, b) = {func}("ij,jk->ik", a, b)\n', target=target)
            result = np.asarray(module.f(np.zeros((2, 0)), np.zeros((0, 3))))
            assert result.shape == (2, 3) and (result == zero).all(), (target, func, result)


# --- infinities -------------------------------------------------------------------


@pytest.mark.parametrize("target", ["tensorflow", "numpy"])
def test_logsumexp_of_an_all_minus_inf_slice_is_minus_inf_not_nan(target):
    module = compile_module('f(a, b) = einlogsumexp("ij,jk->ik", a, b)\n', target=target)
    a = np.array([[-np.inf, -np.inf], [0.0, 1.0]])
    b = np.array([[0.0, -np.inf], [2.0, -np.inf]])
    result = np.asarray(module.f(a, b))
    expected = np.array([[-np.inf, -np.inf], [np.logaddexp(0.0, 3.0), -np.inf]])
    np.testing.assert_allclose(result, expected)
    assert not np.isnan(result).any()


@pytest.mark.parametrize("target", ["tensorflow", "numpy"])
def test_max_and_min_keep_infinities(target):
    a = np.array([[-np.inf, 1.0], [-np.inf, -np.inf]])
    b = np.array([[2.0, np.inf], [3.0, 0.0]])
    for func, reduce in (("einmax", np.max), ("einmin", np.min)):
        module = compile_module(f'f(a, b) = {func}("ij,jk->ik", a, b)\n', target=target)
        with np.errstate(invalid="ignore"):  # -inf + inf is NaN, in both
            expected = reduce(a[:, :, None] + b[None], axis=1)
            np.testing.assert_array_equal(np.asarray(module.f(a, b)), expected)


@pytest.mark.parametrize("target", ["tensorflow", "numpy"])
@pytest.mark.parametrize("spread", [1.0, 300.0])  # within the matrix product's range, and beyond it
def test_logsumexp_is_exact_where_a_linear_space_einsum_overflows(target, spread):
    module = compile_module('f(a, b) = einlogsumexp("ij,jk->ik", a, b)\n', target=target)
    gen = np.random.default_rng(1)
    a = (gen.standard_normal((8, 16)) * spread + 500).astype(np.float32)
    b = (gen.standard_normal((16, 4)) * spread - 200).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(np.log(np.exp(a) @ np.exp(b))).any()  # what the shifts avoid
    expected = R.evaluate("ij,jk->ik", a.astype(np.float64), b.astype(np.float64), func="einlogsumexp")
    np.testing.assert_allclose(np.asarray(module.f(a, b)), expected, rtol=2e-7)


@pytest.mark.parametrize("target", ["tensorflow", "numpy"])
def test_logsumexp_beyond_the_range_with_two_contracted_letters_and_ellipsis(target):
    module = compile_module('f(a, b) = einlogsumexp("...jk,jkl->...l", a, b)\n', target=target)
    gen = np.random.default_rng(7)
    a, b = gen.standard_normal((2, 3, 4, 2)) * 300, gen.standard_normal((4, 2, 5)) * 300
    expected = R.evaluate("...jk,jkl->...l", a, b, func="einlogsumexp")
    np.testing.assert_allclose(np.asarray(module.f(a, b)), expected, rtol=1e-12)


# --- gradients --------------------------------------------------------------------


def test_logsumexp_gradient_is_the_softmax_weighted_product():
    module = compile_module('f(a, b) = einlogsumexp("ij,jk->ik", a, b)\n')
    gen = np.random.default_rng(2)
    a, b, w = gen.standard_normal((3, 5)), gen.standard_normal((5, 4)), gen.standard_normal((3, 4))
    a_t, b_t = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([a_t, b_t])
        loss = tf.reduce_sum(module.f(a_t, b_t) * w)
    grad_a, grad_b = tape.gradient(loss, [a_t, b_t])
    total = a[:, :, None] + b[None]
    softmax = np.exp(total - np.log(np.exp(total).sum(1, keepdims=True)))  # [i, j, k]
    np.testing.assert_allclose(grad_a.numpy(), np.einsum("ijk,ik->ij", softmax, w), rtol=1e-10)
    np.testing.assert_allclose(grad_b.numpy(), np.einsum("ijk,ik->jk", softmax, w), rtol=1e-10)


@pytest.mark.parametrize("func, pick", [("einmax", np.argmax), ("einmin", np.argmin)])
def test_max_and_min_gradients_go_to_the_chosen_entry(func, pick):
    module = compile_module(f'f(a, b) = {func}("ij,jk->ik", a, b)\n')
    gen = np.random.default_rng(3)
    a, b, w = gen.standard_normal((3, 5)), gen.standard_normal((5, 4)), gen.standard_normal((3, 4))
    a_t, b_t = tf.constant(a), tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch([a_t, b_t])
        loss = tf.reduce_sum(module.f(a_t, b_t) * w)
    grad_a, grad_b = tape.gradient(loss, [a_t, b_t])
    chosen = pick(a[:, :, None] + b[None], axis=1)  # [i, k]: the j that wins (no ties)
    onehot = np.arange(5)[None, :, None] == chosen[:, None, :]  # [i, j, k]
    np.testing.assert_allclose(grad_a.numpy(), np.einsum("ijk,ik->ij", onehot, w))
    np.testing.assert_allclose(grad_b.numpy(), np.einsum("ijk,ik->jk", onehot, w))


def test_gradients_flow_under_tf_function_through_a_chain():
    module = compile_module('f(a, b, c) = einmax("ij,jk,kl->il", a, b, c)\n')
    spec = tf.TensorSpec([None, None], tf.float32)

    @tf.function(input_signature=[spec, spec, spec])
    def grads(a, b, c):
        with tf.GradientTape() as tape:
            tape.watch(a)
            total = tf.reduce_sum(module.f(a, b, c))
        return tape.gradient(total, a)

    gen = np.random.default_rng(4)
    a, b, c = (gen.standard_normal(s).astype(np.float32) for s in ((2, 3), (3, 4), (4, 5)))
    grad = grads(a, b, c).numpy()
    # Each of the 2x5 results takes its gradient from one entry of its row of a.
    np.testing.assert_allclose(grad.sum(axis=1), [5.0, 5.0])


# --- dtypes -----------------------------------------------------------------------


@pytest.mark.parametrize("target", ["tensorflow", "numpy"])
@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("value", [np.ones((2, 2), np.int32), np.ones((2, 2), bool)])
def test_integers_and_booleans_are_refused_naming_the_function(target, func, value):
    module = compile_module(f'paths(a, b) = {func}("ij,jk->ik", a, b)\n', target=target)
    # On TensorFlow a numpy array takes the dtype of a tensor beside it (as
    # tf.einsum converts): both operands are of the wrong dtype here.
    with pytest.raises(TypeError, match=rf"paths: {func} needs floating operands; operand 'a' is {value.dtype.name}"):
        module.paths(value, value)


def test_float16_and_bfloat16_run():
    module = compile_module('f(a, b) = einlogsumexp("ij,jk->ik", a, b)\ng(a, b) = einmax("ij,jk->ik", a, b)\n')
    for dtype in (tf.float16, tf.bfloat16):
        a = tf.ones([2, 3], dtype)
        assert module.f(a, tf.transpose(a)).dtype == dtype
        np.testing.assert_allclose(tf.cast(module.g(a, tf.transpose(a)), tf.float32).numpy(), 2.0)


# --- blocks and the memory bound ---------------------------------------------------


@pytest.mark.parametrize("target", ["tensorflow", "numpy"])
def test_small_blocks_give_the_same_result(target):
    text = 'f(a, b) = einmax("ij,jk->ik", a, b)\ng(a, b) = einlogsumexp("ij,jk->ik", a, b)\n'
    module = compile_module(text, target=target)
    gen = np.random.default_rng(5)
    a, b = gen.standard_normal((4, 7)), gen.standard_normal((7, 3))
    total = a[:, :, None] + b[None]
    if target == "tensorflow":
        a, b = tf.constant(a), tf.constant(b)
    for block in (1, 5, 12, 13, 10**9):  # 1 to 3 entries of j per block, and all
        result = module._semiring_pair("max", "ij,jk->ik", a, b, block)
        np.testing.assert_array_equal(np.asarray(result), total.max(1))
        a3, b3 = a[:, None, :], (tf.transpose(b) if target == "tensorflow" else b.T)[None, :, :]
        blocks = module._semiring_blocks("logsumexp", a3, b3, 1, block)
        np.testing.assert_allclose(np.asarray(blocks), np.log(np.exp(total).sum(1)), rtol=1e-12)


def test_eingrad_of_einlogsumexp_is_the_softmax_weighted_product():
    module = compile_module('g(w, a, b) = eingrad("ik,ik%xy->xy", w, einlogsumexp("ij,jk->ik", a, b), a)\n')
    gen = np.random.default_rng(6)
    w, a, b = gen.standard_normal((2, 2)), gen.standard_normal((2, 3)), gen.standard_normal((3, 2))
    total = a[:, :, None] + b[None]
    softmax = np.exp(total - np.log(np.exp(total).sum(1, keepdims=True)))  # [i, j, k]
    np.testing.assert_allclose(module.g(w, a, b).numpy(), np.einsum("ik,ijk->ij", w, softmax), rtol=1e-12)


_PEAK_SCRIPT = """
import resource, sys
import numpy as np
import tensorflow as tf
sys.path.insert(0, {path!r})
from tests.ein_harness import compile_module
f = compile_module('f(a, b) = einmax("ij,jk->ik", a, b)\\n').f
a = tf.random.normal([2048, 2048]); b = tf.random.normal([2048, 2048])
f(a[:8], b)  # warm up: op kernels, the while loop
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = f(a, b).numpy()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
check = (a[:4, :, None] + b[None]).numpy().max(1)
assert np.array_equal(result[:4], check)
print((after - before) * 1024)
"""


@pytest.mark.slow
def test_max_plus_2048_cubed_runs_in_bounded_memory():
    """The broadcast would need 2048**3 float32 = 32 GiB; the blocks need 64 MiB
    beside the 16 MiB result. ru_maxrss is the process's peak: measured in a fresh
    process, after a warm-up, it is the peak of the call's temporaries."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _PEAK_SCRIPT.format(path=repo)
    env = dict(os.environ, PYTHONPATH=repo, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    peak = int(out.stdout.split()[-1])
    assert peak < 512 * 2**20, f"{peak / 2**20:.0f} MiB of temporaries"
