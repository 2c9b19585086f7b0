"""Tests of the numpy reference itself: hand-computed cases, a brute-force
evaluator, and numpy.einsum where numpy accepts the spec."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from hypothesis import given, settings

from tests import numpy_ref as R
from tests.ein_strategies import numpy_style_cases

rng = np.random.default_rng(1234)


def randn(*shape):
    return rng.standard_normal(shape)


# --- hand-computed cases: numpy-style core --------------------------------


def test_trace_and_diagonal():
    a = np.arange(9.0).reshape(3, 3)
    assert R.einsum("ii->", a) == 0 + 4 + 8
    assert R.einsum("ii", a) == 12  # implicit: i appears twice, so it is summed
    np.testing.assert_array_equal(R.einsum("ii->i", a), [0, 4, 8])


def test_three_way_diagonal_and_mixed():
    a = np.arange(27.0).reshape(3, 3, 3)
    np.testing.assert_array_equal(R.einsum("iii->i", a), [a[i, i, i] for i in range(3)])
    b = np.arange(2 * 3 * 2.0).reshape(2, 3, 2)
    np.testing.assert_array_equal(R.einsum("iji->ji", b), [[b[0, j, 0], b[1, j, 1]] for j in range(3)])


def test_transpose_matmul_implicit():
    a, b = randn(2, 3), randn(3, 4)
    np.testing.assert_allclose(R.einsum("ij->ji", a), a.T)
    np.testing.assert_allclose(R.einsum("ba", a), a.T)  # implicit: sorted letters
    np.testing.assert_allclose(R.einsum("ab", a), a)
    np.testing.assert_allclose(R.einsum("ij,jk", a, b), a @ b)
    np.testing.assert_allclose(R.einsum("ij,jk->ki", a, b), (a @ b).T)
    np.testing.assert_allclose(R.einsum("ij,jk->", a, b), (a @ b).sum())


def test_scalars_and_outer():
    s, x = np.float64(2.5), randn(2, 3)
    np.testing.assert_allclose(R.einsum(",ij->ij", s, x), 2.5 * x)
    np.testing.assert_allclose(R.einsum(",", s, s), 6.25)
    assert R.einsum(",", s, s).shape == ()
    u, v = randn(3), randn(4)
    np.testing.assert_allclose(R.einsum("i,j->ij", u, v), np.outer(u, v))
    np.testing.assert_allclose(R.einsum("i,j", u, v), np.outer(u, v))


def test_ellipsis_broadcasting_and_summing():
    x, y = randn(2, 1, 4), randn(3, 4)
    expected = (x * y).sum(-1)  # numpy broadcasting: shape (2, 3)
    np.testing.assert_allclose(R.einsum("...i,...i->...", x, y), expected)
    np.testing.assert_allclose(R.einsum("...i,...i", x, y), expected)  # implicit keeps '...'
    # The output omits '...': it is summed.
    np.testing.assert_allclose(R.einsum("...i,...i->i", x, y), (x * y).sum(axis=(0, 1)))
    np.testing.assert_allclose(R.einsum("...i,...i->", x, y), (x * y).sum())
    # '...' in the middle, output elsewhere.
    z = randn(2, 5, 3)
    np.testing.assert_allclose(R.einsum("i...j->j...i", z), np.transpose(z, (2, 1, 0)))
    # '...' of rank 0.
    w = randn(4)
    np.testing.assert_allclose(R.einsum("...i,i->...", w, np.ones(4)), w.sum())


def test_named_axes_do_not_broadcast():
    with pytest.raises(R.RefError, match="'j'"):
        R.einsum("ij,jk->ik", randn(2, 1), randn(3, 4))
    with pytest.raises(R.RefError, match="'i'"):
        R.einsum("ii->i", randn(2, 3))
    with pytest.raises(R.RefError, match="broadcast"):
        R.einsum("...i,...i->...", randn(2, 4), randn(3, 4))


def test_invalid_specs():
    with pytest.raises(R.RefError):
        R.einsum("ij->k", randn(2, 3))
    with pytest.raises(R.RefError):
        R.einsum("ij->...", randn(2, 3))
    with pytest.raises(R.RefError):
        R.einsum("ij,jk->ik", randn(2, 3))
    with pytest.raises(R.RefError):
        R.einsum("ijk->i", randn(2, 3))


def test_eincount_and_einany():
    a = np.array([[1, 1, 0], [0, 1, 1]], dtype=bool)
    b = np.array([[1, 0], [1, 1], [0, 1]], dtype=bool)
    count = R.eincount("ij,jk->ik", a, b)
    assert count.dtype.kind == "i"
    np.testing.assert_array_equal(count, a.astype(int) @ b.astype(int))
    np.testing.assert_array_equal(count, [[2, 1], [1, 2]])
    anything = R.einany("ij,jk->ik", a, b)
    assert anything.dtype == bool
    np.testing.assert_array_equal(anything, [[True, True], [True, True]])
    none = R.einany("ij,jk->ik", a, np.zeros((3, 2), bool))
    assert not none.any()
    # OR of ANDs against a direct loop.
    x = rng.random((3, 4)) < 0.3
    y = rng.random((4, 2)) < 0.3
    loop = [[any(x[i, j] and y[j, k] for j in range(4)) for k in range(2)] for i in range(3)]
    np.testing.assert_array_equal(R.einany("ij,jk->ik", x, y), loop)
    with pytest.raises(TypeError, match="eincount"):
        R.eincount("ij,jk->ik", a.astype(float), b)


# --- hand-computed cases: the dialect's extensions ---------------------------


def test_composites():
    x, y = randn(2, 5, 3), randn(2, 5, 3)
    np.testing.assert_allclose(R.einsum("Ai,Ai->A", x, y), (x * y).sum(-1))
    # A composite of rank 0 and of rank 3.
    np.testing.assert_allclose(R.einsum("Ai->A", np.arange(4.0)), 6.0)
    z = randn(2, 3, 4, 5)
    np.testing.assert_allclose(R.einsum("Aj->jA", z), np.moveaxis(z, -1, 0))
    # One operand fixes a composite, another uses it with another composite.
    a, b = randn(2, 3), randn(2, 3, 4, 5)
    np.testing.assert_allclose(R.einsum("A,AB->B", a, b), np.tensordot(a, b, axes=([0, 1], [0, 1])))
    # Summed when the output omits it.
    np.testing.assert_allclose(R.einsum("Ai->i", z), z.sum(axis=(0, 1, 2)))
    # Diagonal of a composite.
    d = randn(2, 3, 2, 3)
    np.testing.assert_allclose(R.einsum("AA->A", d), [[d[i, j, i, j] for j in range(3)] for i in range(2)])
    # Implicit mode: composites are letters too, uppercase sorts first.
    y = randn(3, 2, 4)
    np.testing.assert_allclose(R.einsum("iA", y), np.moveaxis(y, 0, -1))


def test_composite_errors():
    with pytest.raises(R.RefError, match="ambiguous"):
        R.einsum("AB->BA", randn(2, 3, 4))
    with pytest.raises(R.RefError):
        R.einsum("A,A->A", randn(2, 3), randn(2, 4))  # named: exact sizes
    with pytest.raises(R.RefError):
        R.einsum("A,A->A", randn(2, 3), randn(2))  # same composite, different ranks


def test_groups():
    x, w = randn(2, 3, 4), randn(12, 5)
    np.testing.assert_allclose(
        R.einsum("bij,(ij)k->bk", x, w),
        np.einsum("bij,ijk->bk", x, w.reshape(3, 4, 5)),
    )
    v = np.arange(24.0).reshape(2, 12)
    np.testing.assert_array_equal(R.einsum("b(ij)->bij", v, sizes={"j": 4}), v.reshape(2, 3, 4))
    np.testing.assert_array_equal(
        R.einsum("b(ij)->bji", v, sizes={"i": 3}), v.reshape(2, 3, 4).transpose(0, 2, 1)
    )
    np.testing.assert_array_equal(R.einsum("bij->b(ij)", x), x.reshape(2, 12))
    np.testing.assert_array_equal(R.einsum("bij->(ji)b", x), x.transpose(2, 1, 0).reshape(12, 2))
    np.testing.assert_array_equal(
        R.einsum("(ij)->ij", np.arange(8.0), sizes={"j": 4}), np.arange(8.0).reshape(2, 4)
    )
    # Nested groups, a group holding a composite, and a group holding '...'.
    y = randn(2, 3, 4)
    np.testing.assert_array_equal(R.einsum("ijk->((ij)k)", y), y.reshape(24))
    np.testing.assert_array_equal(
        R.einsum("((ij)k)->ikj", y.reshape(24), sizes={"i": 2, "j": 3}), y.transpose(0, 2, 1)
    )
    np.testing.assert_array_equal(R.einsum("iA->(A)i", y), y.reshape(2, 12).T)
    np.testing.assert_array_equal(R.einsum("...i->(...)i", y), y.reshape(6, 4))
    # A group's member fixed by another operand.
    np.testing.assert_allclose(
        R.einsum("(ij),j->i", np.arange(6.0), np.ones(3)), np.arange(6.0).reshape(2, 3).sum(1)
    )
    # A repeated letter inside a group: the diagonal of the unflattened axes.
    np.testing.assert_array_equal(R.einsum("(ii)->i", np.arange(9.0)), [0, 4, 8])


def test_group_errors():
    with pytest.raises(R.RefError, match="'j'|'i'"):
        R.einsum("(ij)->ij", np.arange(8.0))  # nothing fixes i or j
    with pytest.raises(R.RefError):
        R.einsum("(ij)->ij", np.arange(8.0), sizes={"j": 3})  # 3 does not divide 8
    with pytest.raises(R.RefError):
        R.einsum("(ij),i,j->", np.ones(7), np.ones(2), np.ones(3))  # 2 * 3 != 7
    with pytest.raises(R.RefError):
        R.einsum("i->i", np.ones(3), sizes={"i": 4})  # where = disagrees


def test_units():
    x = randn(2, 3)
    np.testing.assert_allclose(R.einsum("ij->i_", x), x.sum(1, keepdims=True))
    np.testing.assert_allclose(R.einsum("ij->i()", x), x.sum(1, keepdims=True))
    np.testing.assert_allclose(R.einsum("ij->_ji_", x), x.T[None, :, :, None])
    y = randn(2, 1, 3)
    np.testing.assert_allclose(R.einsum("i_j->ji", y), y[:, 0, :].T)
    np.testing.assert_allclose(R.einsum("i()j->ji", y), y[:, 0, :].T)
    np.testing.assert_allclose(R.einsum("(i_)j->j", x), x.sum(0))
    assert R.einsum("->_", np.float64(3.0)).shape == (1,)
    with pytest.raises(R.RefError):
        R.einsum("i_j->ij", randn(2, 2, 3))
    with pytest.raises(R.RefError):
        R.einsum("i()j->ij", randn(2, 2, 3))


def test_induced_diagonals():
    v = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(R.einsum("i->ii", v), np.diag(v))
    x = randn(2, 3)
    out = R.einsum("ij->jijij", x)
    assert out.shape == (3, 2, 3, 2, 3)
    expected = np.zeros((3, 2, 3, 2, 3))
    for i in range(2):
        for j in range(3):
            expected[j, i, j, i, j] = x[i, j]
    np.testing.assert_array_equal(out, expected)
    # Combined with a contraction, a group and a composite.
    a, b = randn(2, 3), randn(3, 4)
    prod = a @ b
    np.testing.assert_allclose(R.einsum("ij,jk->iki", a, b), np.einsum("ik,il->ikl", prod, np.eye(2)))
    np.testing.assert_allclose(R.einsum("i->(ii)", v), np.diag(v).reshape(9))
    z = randn(2, 3)
    np.testing.assert_allclose(R.einsum("A->AA", z), np.diag(z.reshape(6)).reshape(2, 3, 2, 3))


# --- cross-checks against a brute-force evaluator and numpy.einsum ---------------


def brute_force(spec: str, *operands) -> np.ndarray:
    """Loops over every index assignment; numpy-style specs only (a-z, '...')."""
    spec = spec.replace(" ", "")
    lhs, _, rhs = spec.partition("->")
    in_specs = lhs.split(",")
    ops = [np.asarray(o, dtype=np.float64) for o in operands]
    parsed = []
    ell_rank = 0
    for s, op in zip(in_specs, ops):
        letters = s.replace("...", "")
        r = op.ndim - len(letters) if "..." in s else 0
        ell_rank = max(ell_rank, r)
        parsed.append((s, r))
    if "->" not in spec:
        counts = {}
        for s in in_specs:
            for ch in s.replace("...", ""):
                counts[ch] = counts.get(ch, 0) + 1
        rhs = ("..." if "..." in lhs else "") + "".join(sorted(c for c in counts if counts[c] == 1))
    sizes = {}
    ell_size = [1] * ell_rank
    for (s, r), op in zip(parsed, ops):
        dims = list(op.shape)
        i = 0
        pos = 0
        while pos < len(s):
            if s.startswith("...", pos):
                for q in range(r):
                    d = dims[i + q]
                    g = ell_rank - r + q
                    ell_size[g] = max(ell_size[g], d)
                i += r
                pos += 3
            else:
                sizes[s[pos]] = dims[i]
                i += 1
                pos += 1
    letters = sorted(sizes)
    out_shape = []
    pos = 0
    while pos < len(rhs):
        if rhs.startswith("...", pos):
            out_shape += ell_size
            pos += 3
        else:
            out_shape.append(sizes[rhs[pos]])
            pos += 1
    result = np.zeros(out_shape)

    def index(s, r, dims, value, ell):
        idx = []
        pos = 0
        while pos < len(s):
            if s.startswith("...", pos):
                for q in range(r):
                    d = dims[len(idx)]
                    idx.append(0 if d == 1 else ell[ell_rank - r + q])
                pos += 3
            else:
                idx.append(value[s[pos]])
                pos += 1
        return tuple(idx)

    for values in itertools.product(*[range(sizes[a]) for a in letters]):
        value = dict(zip(letters, values))
        for ell in itertools.product(*[range(n) for n in ell_size]):
            term = 1.0
            for (s, r), op in zip(parsed, ops):
                term *= op[index(s, r, op.shape, value, ell)]
            result[index(rhs, ell_rank, out_shape, value, ell)] += term
    return result


def _arrays(case):
    gen = np.random.default_rng(case.seed)
    return [gen.standard_normal(shape) for shape in case.shapes]


REF_EXAMPLES = int(os.environ.get("EINIG_PROPERTY_EXAMPLES", "60"))


@settings(max_examples=REF_EXAMPLES, deadline=None, derandomize=True)
@given(
    numpy_style_cases(
        max_operands=4,
        max_letters=4,
        max_size=3,
        max_ellipsis_rank=2,
        max_operand_letters=3,
        with_where=False,
    )
)
def test_reference_matches_brute_force(case):
    arrays = _arrays(case)
    np.testing.assert_allclose(
        R.einsum(case.spec, *arrays), brute_force(case.spec, *arrays), rtol=1e-10, atol=1e-10
    )


@settings(max_examples=REF_EXAMPLES, deadline=None, derandomize=True)
@given(numpy_style_cases(with_where=False))
def test_reference_matches_numpy_einsum(case):
    arrays = _arrays(case)
    spec = case.spec.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    ours = R.einsum(case.spec, *arrays)
    if arrow and "..." in lhs and "..." not in rhs:
        # numpy refuses to drop '...': keep it in front and sum it ourselves.
        full = np.einsum(f"{lhs}->...{rhs}", *arrays)
        theirs = full.sum(axis=tuple(range(full.ndim - len(rhs))))
    else:
        theirs = np.einsum(spec, *arrays)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


# --- eingrad -------------------------------------------------------------------------


def test_eingrad_jacobian_vjp_jvp_and_divergence():
    w = randn(3, 4)
    x = randn(4)

    def y(x):
        return np.tanh(w @ x) * np.sum(x)

    # Analytic Jacobian: d/dx_j [tanh(w x)_i s] = (1 - tanh^2)_i w_ij s + tanh_i.
    t = np.tanh(w @ x)
    jac = (1 - t**2)[:, None] * w * np.sum(x) + t[:, None]
    np.testing.assert_allclose(R.numeric_jacobian(y, x), jac, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(R.eingrad("i%j->ij", y, x), jac, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(R.eingrad("i%j->ji", y, x), jac.T, rtol=1e-8, atol=1e-8)
    z, v = randn(3), randn(4)
    np.testing.assert_allclose(R.eingrad("i,i%j->j", z, y, x), z @ jac, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(R.eingrad("i%j,j->i", y, x, v), jac @ v, rtol=1e-8, atol=1e-8)
    # The pair may also come as the Jacobian itself; ',%' is read as '%'.
    np.testing.assert_allclose(R.eingrad("i, i % j -> j", z, jac, x), z @ jac)
    sq = randn(4, 4)
    np.testing.assert_allclose(R.eingrad("i%i->", lambda x: sq @ x, x), np.trace(sq), rtol=1e-8)
    np.testing.assert_allclose(R.eingrad("i%i", lambda x: sq @ x, x), np.trace(sq), rtol=1e-8)


def test_eingrad_gradient_and_hessian():
    x = randn(5)

    def y(x):
        return np.sum(np.sin(x)) * np.sum(x**2)

    def grad(x):
        return np.cos(x) * np.sum(x**2) + 2 * x * np.sum(np.sin(x))

    def hess(x):
        s1, s2 = np.sum(np.sin(x)), np.sum(x**2)
        return np.diag(-np.sin(x) * s2 + 2 * s1) + 2 * np.outer(np.cos(x), x) + 2 * np.outer(x, np.cos(x))

    np.testing.assert_allclose(R.eingrad(",%j->j", y, x), grad(x), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(R.eingrad("j%k->jk", grad, x), hess(x), rtol=1e-8, atol=1e-8)
    # Nested: the operand left of '%' is itself an eingrad of x.
    nested = R.eingrad("j%k->jk", lambda x: R.eingrad(",%j->j", y, x), x, h=1e-4)
    np.testing.assert_allclose(nested, hess(x), rtol=1e-4, atol=1e-4)
    v = randn(5)
    np.testing.assert_allclose(R.eingrad("j%k,k->j", grad, x, v), hess(x) @ v, rtol=1e-8, atol=1e-8)


def test_eingrad_shared_letter_is_the_exact_diagonal():
    x = randn(3, 4)

    def independent(x):  # row-wise: y_b = sum_j sin(x_bj) x_bj
        return np.sum(np.sin(x) * x, axis=1)

    def interacting(x):  # batch-norm-like: rows interact through the mean
        c = x - x.mean(axis=0)
        return np.sum(c**2, axis=1)

    g = np.sin(x) + x * np.cos(x)
    np.testing.assert_allclose(R.eingrad("b%bj->bj", independent, x), g, rtol=1e-8, atol=1e-8)
    # d/dx_bj sum_k (x_bk - m_k)^2 = 2 (x_bj - m_j)(1 - 1/B): the exact diagonal.
    c = x - x.mean(axis=0)
    np.testing.assert_allclose(
        R.eingrad("b%bj->bj", interacting, x), 2 * c * (1 - 1 / 3), rtol=1e-7, atol=1e-7
    )
    # ... which is not the one-pass (independent) shortcut, the gradient of the sum.
    shortcut = R.eingrad(",%bj->bj", lambda x: np.sum(interacting(x)), x)
    assert not np.allclose(shortcut, 2 * c * (1 - 1 / 3))
    full = R.eingrad("b%cj->bcj", interacting, x)
    np.testing.assert_allclose(R.eingrad("b%bj->bj", interacting, x), np.einsum("bbj->bj", full))


def test_eingrad_errors():
    with pytest.raises(R.RefError):
        R.eingrad("i,j->ij", randn(2), randn(3))
    with pytest.raises(R.RefError):
        R.eingrad("i%j->ij", lambda x: x, randn(2), randn(2))
