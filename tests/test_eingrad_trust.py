"""eingrad that can be trusted: fresh state, checked operands, one complex convention, any input kind.

numpy and closed forms are the oracles; every callable below is simple
enough that its derivative is written out by hand.
"""

import numpy as np
import pytest

from tests.ein_harness import compile_module

tf = pytest.importorskip("tensorflow")

SPECS = """\
vjp(z, y, x) = eingrad("i,i%j->j", z, y, x)
jvp(y, x, v) = eingrad("i%j,j->i", y, x, v)
jacobian(y, x) = eingrad("i%j->ij", y, x)
gradient(y, x) = eingrad(",%j->j", y, x)
hessian(y, x) = eingrad("j%k->jk", eingrad(",%j->j", y, x), x)
hvp(y, x, v) = eingrad("j%k,k->j", eingrad(",%j->j", y, x), x, v)
divergence(y, x) = eingrad("i%i->", y, x)
exact_grad(y, x) = eingrad("b%bj->bj", y, x)
batched_grad(y, x) = eingrad("b%bj->bj", y, x) where b independent
batched_jacobian(y, x) = eingrad("bi%bj->bij", y, x) where b independent
linear_jacobian(w, x) = eingrad("i%j->ij", einsum("ij,j->i", w, x), x)
square_jacobian(x) = eingrad("i%j->ij", einsum("i,i->i", x, x), x)
jacobian_of(y, x) = jacobian(y, x)
row_sums_jvp(y, x) = eingrad("i%j->i", y, x)
outer_vjp(u, w, y, x) = eingrad("i,k,ik%j->j", u, w, y, x)
"""


@pytest.fixture(scope="module")
def m():
    return compile_module(SPECS)


X = np.array([0.5, -1.0, 2.0, 3.0])


# --- 1a: an eager call reads the callable's state at that call --------------------------

SCALE = tf.constant(1.0, tf.float64)


def scaled_square(u):  # reads the module global SCALE when called
    return SCALE * u * u


@pytest.mark.parametrize("name", ["jacobian", "jacobian_of"])
def test_jacobian_reads_a_changed_global(m, name):
    global SCALE
    x = tf.constant(X)
    fn = getattr(m, name)
    SCALE = tf.constant(1.0, tf.float64)
    np.testing.assert_allclose(fn(scaled_square, x), np.diag(2 * X))
    SCALE = tf.constant(3.0, tf.float64)
    np.testing.assert_allclose(fn(scaled_square, x), np.diag(6 * X))


def test_derivatives_read_a_changed_closure(m):
    state = {"w": tf.constant(1.0, tf.float64)}

    def cube(u):
        return state["w"] * tf.reduce_sum(u**3)

    def square(u):
        return state["w"] * u * u

    def rows(u):
        return state["w"] * tf.reduce_sum(u * u, axis=1)

    x = tf.constant(X)
    xb = tf.constant(X.reshape(2, 2))
    for w in (1.0, 5.0):
        state["w"] = tf.constant(w, tf.float64)
        np.testing.assert_allclose(m.hessian(cube, x), np.diag(6 * w * X))
        np.testing.assert_allclose(m.divergence(square, x), 2 * w * X.sum())
        np.testing.assert_allclose(m.exact_grad(rows, xb), 2 * w * X.reshape(2, 2))
        jacobian = 2 * w * np.einsum("bi,ij->bij", X.reshape(2, 2), np.eye(2))
        np.testing.assert_allclose(m.batched_jacobian(square, xb), jacobian)


def test_a_variable_assigned_between_calls_is_read(m):
    w = tf.Variable(1.0, dtype=tf.float64)
    x = tf.constant(X)
    np.testing.assert_allclose(m.jacobian(lambda u: w * u * u, x), np.diag(2 * X))
    w.assign(4.0)
    np.testing.assert_allclose(m.jacobian(lambda u: w * u * u, x), np.diag(8 * X))


def test_jacobian_forms_accept_keyword_arguments(m):
    x = tf.constant(X)
    np.testing.assert_allclose(m.jacobian(y=lambda u: u * u, x=x), np.diag(2 * X))
    np.testing.assert_allclose(m.hessian(x=x, y=lambda u: tf.reduce_sum(u**3)), np.diag(6 * X))
    np.testing.assert_allclose(m.square_jacobian(x=x), np.diag(2 * X))


def test_jacobian_without_callables_still_traces_and_is_right(m):
    x = tf.constant(X)
    np.testing.assert_allclose(m.square_jacobian(x), np.diag(2 * X))
    np.testing.assert_allclose(m.square_jacobian(2 * x), np.diag(4 * X))


@pytest.mark.parametrize("n", [1, 3, 200])
def test_eager_jacobian_matches_numpy_at_several_sizes(m, n):
    # Below and above the size where the eager loop of reverse passes hands over to pfor.
    rng = np.random.default_rng(n)
    w = rng.standard_normal((n, 5))
    x = rng.standard_normal(5)
    out = m.jacobian(lambda u: tf.tanh(tf.linalg.matvec(tf.constant(w), u)), tf.constant(x))
    expected = (1 - np.tanh(w @ x) ** 2)[:, None] * w
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


# --- 1d: operands are checked against the spec --------------------------------------------


def _raises(match, fn, *args):
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=match):
        fn(*args)


def test_the_variable_is_checked(m):
    _raises(r"jacobian: operand 'x' \(j\) must have rank 1", m.jacobian, lambda u: u * u, tf.ones((2, 3)))


def test_the_value_of_the_callable_is_checked(m):
    x = tf.constant(X)
    _raises(r"gradient: operand 'y\(x\)' \(\) must have rank 0", m.gradient, lambda u: u * u, x)
    _raises(r"vjp: operand 'y\(x\)' \(i\) must have rank 1", m.vjp, tf.ones(3, tf.float64), lambda u: tf.ones((3, 1), u.dtype) * u[0], x)
    _raises(r"hessian: operand 'y\(x\)' \(\) must have rank 0", m.hessian, lambda u: u * u, x)


def test_cotangent_and_tangent_lengths_are_checked(m):
    x = tf.constant(X)
    _raises(r"vjp: axis 'i' is 5 in 'z' but 4 in 'y\(x\)'|vjp: axis 'i' is 4 in 'y\(x\)' but 5 in 'z'", m.vjp, tf.ones(5, tf.float64), lambda u: u * u, x)
    _raises(r"jvp: axis 'j' is 4 in 'x' but 5 in 'v'|jvp: axis 'j' is 5 in 'v' but 4 in 'x'", m.jvp, lambda u: u * u, x, tf.ones(5, tf.float64))
    _raises(r"hvp: axis 'k' is 4 in 'x' but 3 in 'v'|hvp: axis 'k' is 3 in 'v' but 4 in 'x'", m.hvp, lambda u: tf.reduce_sum(u**3), x, tf.ones(3, tf.float64))


def test_a_shared_letter_is_checked_between_the_value_and_the_variable(m):
    xb = tf.ones((2, 3), tf.float64)
    _raises(r"exact_grad: axis 'b' .*'y\(x\)'", m.exact_grad, lambda u: tf.reduce_sum(u, axis=1)[:1], xb)
    _raises(r"exact_grad: operand 'y\(x\)' \(b\) must have rank 1", m.exact_grad, lambda u: tf.reduce_sum(u), xb)
    _raises(r"batched_grad: axis 'b' .*'y\(x\)'", m.batched_grad, lambda u: tf.reduce_sum(u, axis=1)[:1], xb)


def test_the_closed_form_checks_the_variable(m):
    _raises(r"linear_jacobian: axis 'j' is 4 in 'w' but 7 in 'x'|linear_jacobian: axis 'j' is 7 in 'x' but 4 in 'w'", m.linear_jacobian, tf.ones((3, 4)), tf.ones(7))


def test_checks_hold_with_unknown_dimensions(m):
    spec = [tf.TensorSpec([None], tf.float64), tf.TensorSpec([None], tf.float64)]
    traced = tf.function(lambda z, x: m.vjp(z, lambda u: u * u, x), input_signature=spec)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"vjp: axis .*i.* differs between .*y\(x\)"):
        traced(tf.ones(5, tf.float64), tf.constant(X))
    np.testing.assert_allclose(traced(tf.ones(4, tf.float64), tf.constant(X)), 2 * X)


def test_messages_name_no_compiler_made_operand(m):
    with pytest.raises(ValueError) as info:
        m.hessian(lambda u: u * u, tf.constant(X))
    for made in ("dy_dx", "_value", "_checked"):
        assert made not in str(info.value)


# --- 1f: one convention for complex dtypes: J[a, b] = d a / d b (holomorphic) -------------

XC = np.array([1 + 2j, -0.5 + 1j, 2 - 1j])
ZC = np.array([0.3 - 1j, 2 + 0.5j, -1 + 1j])
VC = np.array([1 - 1j, 0.5 + 2j, -2 + 0.25j])


def test_complex_forms_agree_on_the_holomorphic_derivative(m):
    x, z, v = (tf.constant(a) for a in (XC, ZC, VC))
    square = lambda u: u * u  # noqa: E731
    jac = np.diag(2 * XC)  # d(x²)/dx, no conjugate
    np.testing.assert_allclose(m.jacobian(square, x), jac)
    np.testing.assert_allclose(m.jvp(square, x, v), jac @ VC)
    np.testing.assert_allclose(m.vjp(z, square, x), ZC @ jac)
    np.testing.assert_allclose(m.divergence(square, x), np.trace(jac))
    cube = lambda u: tf.reduce_sum(u**3)  # noqa: E731
    np.testing.assert_allclose(m.gradient(cube, x), 3 * XC**2)
    np.testing.assert_allclose(m.hessian(cube, x), np.diag(6 * XC))
    np.testing.assert_allclose(m.hvp(cube, x, v), 6 * XC * VC)
    np.testing.assert_allclose(m.linear_jacobian(tf.constant(np.outer(ZC, VC)), x), np.outer(ZC, VC))
    np.testing.assert_allclose(m.row_sums_jvp(square, x), jac @ np.ones(3))
    outer = lambda u: u[:, None] * u[None, :]  # noqa: E731
    np.testing.assert_allclose(m.outer_vjp(z, v, outer, x), ZC * (VC @ XC) + VC * (ZC @ XC))


def test_complex_batched_forms_agree(m):
    xb = tf.constant(XC[:2, None] * np.array([1, 2j, -1]))
    rows = lambda u: tf.reduce_sum(u**3, axis=1)  # noqa: E731
    expected = 3 * xb.numpy() ** 2
    np.testing.assert_allclose(m.exact_grad(rows, xb), expected)
    np.testing.assert_allclose(m.batched_grad(rows, xb), expected)
    square = lambda u: u * u  # noqa: E731
    jac = np.einsum("bi,ij->bij", 2 * xb.numpy(), np.eye(3))
    np.testing.assert_allclose(m.batched_jacobian(square, xb), jac)


def test_complex_forms_agree_under_tf_function(m):
    x, z, v = (tf.constant(a) for a in (XC, ZC, VC))
    square = lambda u: u * u  # noqa: E731

    @tf.function
    def run(x, z, v):
        return m.jacobian(square, x), m.jvp(square, x, v), m.vjp(z, square, x)

    jac, jvp, vjp = run(x, z, v)
    np.testing.assert_allclose(jac, np.diag(2 * XC))
    np.testing.assert_allclose(jvp, 2 * XC * VC)
    np.testing.assert_allclose(vjp, ZC * 2 * XC)


# --- 4: inputs as tf.einsum accepts them ---------------------------------------------------


@pytest.mark.parametrize("kind", ["numpy", "list", "variable"])
def test_every_form_accepts_numpy_lists_and_variables(m, kind):
    def as_input(values):
        if kind == "numpy":
            return np.asarray(values)
        if kind == "list":
            return np.asarray(values).tolist()
        return tf.Variable(np.asarray(values))

    x, z, v = as_input(X), as_input([1.0, 2.0, 3.0, 4.0]), as_input([1.0, 0.0, -1.0, 2.0])
    Z, V = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, -1.0, 2.0])
    square = lambda u: u * u  # noqa: E731
    cube = lambda u: tf.reduce_sum(u**3)  # noqa: E731
    np.testing.assert_allclose(m.vjp(z, square, x), Z * 2 * X)
    np.testing.assert_allclose(m.jvp(square, x, v), 2 * X * V)
    np.testing.assert_allclose(m.gradient(cube, x), 3 * X**2)
    np.testing.assert_allclose(m.hvp(cube, x, v), 6 * X * V)
    np.testing.assert_allclose(m.jacobian(square, x), np.diag(2 * X))
    np.testing.assert_allclose(m.hessian(cube, x), np.diag(6 * X))
    np.testing.assert_allclose(m.square_jacobian(x), np.diag(2 * X))
    np.testing.assert_allclose(m.linear_jacobian(as_input(np.outer(Z, V)), x), np.outer(Z, V))


def test_real_dtypes_pay_no_conjugate(m):
    x = tf.TensorSpec([4], tf.float32)
    for fn in (lambda x: m.jacobian(lambda u: u * u, x), lambda x: m.vjp(x, lambda u: u * u, x)):
        graph = tf.function(fn).get_concrete_function(x).graph
        assert not [op for op in graph.get_operations() if op.type == "Conj"]
    complex_graph = tf.function(lambda x: m.vjp(x, lambda u: u * u, x)).get_concrete_function(
        tf.TensorSpec([4], tf.complex64)
    ).graph
    assert [op for op in complex_graph.get_operations() if op.type == "Conj"]
