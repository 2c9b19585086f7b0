"""Several-pair eingrad cases: the declarations, tanh-of-linear models per framework, and their closed forms in numpy."""

from __future__ import annotations

import types

import numpy as np

SPEC = """\
gauss_newton(f, w) = eingrad("bi%p,bi%q->pq", f, w, f, w)
ggn_vp(f, w, v) = eingrad("bi%p,bi%q,q->p", f, w, f, w, v)
ntk(f, g, w) = eingrad("ai%p,bj%p->aibj", f, w, g, w)
mixed(f, g, x) = eingrad("i%j,k%j->ik", f, x, g, x)
batch_gauss_newton(f, x) = eingrad("bi%bj,bi%bk->bjk", f, x, f, x)
"""

RNG = np.random.default_rng(15)
X = RNG.normal(size=(5, 3))  # a batch of 5 inputs of 3 features
X2 = RNG.normal(size=(6, 3))  # another batch, for the second function of an NTK
A = RNG.normal(size=(3, 4))
B = RNG.normal(size=(5, 4))
W = RNG.normal(size=12) * 0.5  # the weights of a 3x4 linear model, flattened
V = RNG.normal(size=12)
XB = RNG.normal(size=(5, 3))  # a batch of variables, for batch_gauss_newton


def models(ns):
    """The functions of the cases in a framework's ops: `ns` has tanh, const (float64, made here, once), mean0,
    reshape, matvec. The functions close over framework tensors only (torch.compile guards on numpy arrays)."""
    x, x2, a, b = (ns.const(array) for array in (X, X2, A, B))

    def linear(inputs):
        # tanh of a linear model whose rows interact: each is centred on the batch mean.
        def f(w):
            z = inputs @ ns.reshape(w, (3, 4))
            return ns.tanh(z - ns.mean0(z))

        return f

    def centred(variable):
        z = variable @ a
        return ns.tanh(z - ns.mean0(z))

    return types.SimpleNamespace(
        f=linear(x),
        g=linear(x2),
        fa=lambda v: ns.tanh(ns.matvec(a, v)),
        fb=lambda v: ns.tanh(ns.matvec(b, v)),
        centred=centred,
    )


def _linear_jacobian(inputs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """J[b, i, (n k)] of tanh(X W - mean_b(X W)): (1 - y^2)[b, i] delta_ik (X - mean X)[b, n]."""
    z = inputs @ w.reshape(3, 4)
    slope = 1 - np.tanh(z - z.mean(0)) ** 2
    centred = inputs - inputs.mean(0)
    return np.einsum("bi,ik,bn->bink", slope, np.eye(4), centred).reshape(len(inputs), 4, 12)


def _vector_jacobian(matrix: np.ndarray, x: np.ndarray) -> np.ndarray:
    return (1 - np.tanh(matrix @ x) ** 2)[:, None] * matrix


def expected(name: str) -> np.ndarray:
    jf = _linear_jacobian(X, W)
    if name == "gauss_newton":
        return np.einsum("bip,biq->pq", jf, jf)
    if name == "ggn_vp":
        return np.einsum("bip,biq,q->p", jf, jf, V)
    if name == "ntk":
        return np.einsum("aip,bjp->aibj", jf, _linear_jacobian(X2, W))
    if name == "mixed":
        x = V[:4]
        return _vector_jacobian(A, x) @ _vector_jacobian(B, x).T
    if name == "batch_gauss_newton":
        # The exact diagonal: d y[b, i] / d x[b, j] = (1 - y^2)[b, i] A[j, i] (1 - 1/5) (rows interact).
        z = XB @ A
        diagonal = (1 - np.tanh(z - z.mean(0)) ** 2)[:, :, None] * A.T[None] * (1 - 1 / len(XB))
        return np.einsum("bij,bik->bjk", diagonal, diagonal)
    raise KeyError(name)


def arguments(name: str, m, tensor):
    """The arguments of case `name`: the models `m`, numpy arrays made tensors by `tensor`."""
    return {
        "gauss_newton": (m.f, tensor(W)),
        "ggn_vp": (m.f, tensor(W), tensor(V)),
        "ntk": (m.f, m.g, tensor(W)),
        "mixed": (m.fa, m.fb, tensor(V[:4])),
        "batch_gauss_newton": (m.centred, tensor(XB)),
    }[name]


NAMES = ("gauss_newton", "ggn_vp", "ntk", "mixed", "batch_gauss_newton")
