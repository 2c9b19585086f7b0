"""The eingrad forms of examples/derivatives.ein as test cases, for the functional targets (PyTorch, JAX).

Each test function is written once over `ops`, a small namespace of the
framework's operations (tanh, sin, sums, softmax over the batch, constants
like an operand), and once in numpy for the reference (`tests.numpy_ref`,
finite differences in float64, independent of the compiler).
"""

from __future__ import annotations

import types

import numpy as np

from tests import numpy_ref as R

_G = np.random.default_rng(20261201)
W = _G.standard_normal((3, 4))  # i = 3, j = 4
WSQ = _G.standard_normal((4, 4))
MATRICES = {"W": W, "WT": W.T, "WSQ": WSQ}  # `ops.const(name, like)`: one in the dtype of `like`


def functions(ops) -> dict[str, types.FunctionType]:
    """The callables the forms differentiate, in the framework of `ops`."""

    def vec(x):  # (j,) -> (i,), entries interact through the sum
        return ops.tanh(ops.const("W", x) @ x) * ops.sum(x)

    def square(x):  # (j,) -> (j,)
        return ops.sin(ops.const("WSQ", x) @ x) + x * ops.sum(x**2)

    def scalar(x):  # (j,) -> ()
        return ops.sum(ops.sin(x)) * ops.sum(x**2)

    def rows_scalar(x):  # (b, j) -> (b,), rows independent
        return ops.sum(ops.sin(x) * x, 1) * ops.sum(x**2, 1)

    def rows_vec(x):  # (b, j) -> (b, i), rows independent
        return ops.tanh(x @ ops.const("WT", x)) * ops.sum(x, 1, keepdims=True)

    def mixing_scalar(x):  # (b, j) -> (b,), rows interact (batch-norm-like)
        c = x - ops.mean0(x)
        return ops.sum(ops.sin(c) * c, 1)

    def mixing_vec(x):  # (b, j) -> (b, i), rows interact (a softmax over the batch)
        return ops.softmax0(x @ ops.const("WT", x)) * ops.sum(x**2, 1, keepdims=True)

    return dict(locals())


def _softmax0(s):
    e = np.exp(s - s.max(axis=0))
    return e / e.sum(axis=0)


NUMPY = types.SimpleNamespace(
    tanh=np.tanh,
    sin=np.sin,
    sum=lambda x, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims),
    mean0=lambda x: x.mean(axis=0),
    softmax0=_softmax0,
    const=lambda name, like: MATRICES[name],
)
REF = functions(NUMPY)


def scalar_grad(x):
    return np.cos(x) * np.sum(x**2) + 2 * x * np.sum(np.sin(x))


# name -> (operands, shapes of the tensor operands, reference(*tensor values)):
# an operand is the name of a function above, or "t", the next tensor.
FORMS = {
    "vjp": (["t", "vec", "t"], [(3,), (4,)], lambda z, x: R.eingrad("i,i%j->j", z, REF["vec"], x)),
    "jacobian": (["vec", "t"], [(4,)], lambda x: R.eingrad("i%j->ij", REF["vec"], x)),
    "gradient": (["scalar", "t"], [(5,)], lambda x: R.eingrad(",%j->j", REF["scalar"], x)),
    "hessian": (["scalar", "t"], [(5,)], lambda x: R.eingrad("j%k->jk", scalar_grad, x)),
    "hvp": (["scalar", "t", "t"], [(5,), (5,)], lambda x, v: R.eingrad("j%k,k->j", scalar_grad, x, v)),
    "jvp": (["vec", "t", "t"], [(4,), (4,)], lambda x, v: R.eingrad("i%j,j->i", REF["vec"], x, v)),
    "divergence": (["square", "t"], [(4,)], lambda x: R.eingrad("i%i->", REF["square"], x)),
    "batched_grad": (["rows_scalar", "t"], [(3, 4)], lambda x: R.eingrad("b%bj->bj", REF["rows_scalar"], x)),
    "batched_jvp": (
        ["rows_vec", "t", "t"],
        [(2, 4), (2, 4)],
        lambda x, v: R.eingrad("bi%bj,bj->bi", REF["rows_vec"], x, v),
    ),
    "batched_jacobian": (["rows_vec", "t"], [(2, 4)], lambda x: R.eingrad("bi%bj->bij", REF["rows_vec"], x)),
    # An einsum linear in x: its Jacobian is w itself.
    "linear_jacobian": (["t", "t"], [(3, 4), (4,)], lambda w, x: R.eingrad("i%j->ij", w, x)),
}

# A letter shared across `%`: exact by default (right also when rows
# interact), one pass with `independent` (right when they do not).
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

# which -> (spec, shapes, operands), "fn" the function (scalar rows for grad).
DIAGONALS = {
    "grad": ("b%bj->bj", [(3, 4)], ("fn", "t")),
    "jvp": ("bi%bj,bj->bi", [(3, 4), (3, 4)], ("fn", "t", "t")),
    "jacobian": ("bi%bj->bij", [(3, 4)], ("fn", "t")),
    "vjp": ("bi,bi%bj->bj", [(3, 3), (3, 4)], ("t", "fn", "t")),
}

# The operand left of `%` as an expression of the variable; nested, and
# with several cotangents (one scalar contracted inside the function).
EXPRESSIONS = """\
cube_grad(x) = eingrad(",%i->i", einsum("i,i->", x, einsum("i,i->i", x, x)), x)
quadratic_grad(x, w) = eingrad(",%j->j", einsum("i,ij,j->", x, w, x), x)
quadratic_hessian(x, w) = eingrad("j%k->jk", eingrad(",%j->j", einsum("i,ij,j->", x, w, x), x), x)
quadratic_hvp(x, w, v) = eingrad("j%k,k->j", eingrad(",%j->j", einsum("i,ij,j->", x, w, x), x), x, v)
bilinear_jacobian(x, w) = eingrad("k%j->kj", einsum("i,ijk->k", x, einsum("ijk,j->ijk", w, x)), x)
outer_vjp(u, w, y, x) = eingrad("i,k,ik%j->j", u, w, y, x)
sized_jacobian(y, x) = eingrad("i%j->ij", y, x) where i = 6, j = 2
"""


def inputs(shapes, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, shape) for shape in shapes]


def operands(kinds, fns, tensors) -> list:
    """The arguments of a form: functions by name from `fns`, tensors in order."""
    it = iter(tensors)
    return [next(it) if kind == "t" else fns[kind] for kind in kinds]


WRONG_OPERANDS = """\
vjp(z, y, x) = eingrad("i,i%j->j", z, y, x)
jvp(y, x, v) = eingrad("i%j,j->i", y, x, v)
batched_jacobian(y, x) = eingrad("bi%bj->bij", y, x) where b independent
"""

# J contracted with more operands, or summed over a side of `%`: the tangent
# of ones, a VJP summed over the value, operands left for after the pass.
CONTRACTIONS = """\
row_sums(y, x) = eingrad("i%j->i", y, x)
col_sums(y, x) = eingrad("i%j->j", y, x)
weighted(y, x, v, u) = eingrad("i%j,j,i->", y, x, v, u)
scaled_jvp(y, x, v, s) = eingrad("i%j,j,k->ik", y, x, v, s)
"""

# name -> (spec, shapes of x and the operands after it)
CONTRACTION_CASES = {
    "row_sums": ("i%j->i", [(4,)]),
    "col_sums": ("i%j->j", [(4,)]),
    "weighted": ("i%j,j,i->", [(4,), (4,), (3,)]),
    "scaled_jvp": ("i%j,j,k->ik", [(4,), (4,), (2,)]),
}
