"""Pairs that numpy, torch and jax run as a batched matmul (transposed, broadcast, matrix-vector): spec and shapes.

Shared by the target suites (no framework here): each compiles SPEC for its
target and compares every function, in real and complex dtypes, with
np.einsum of EQUATIONS. A transposed operand must not be conjugated, so the
complex cases are the ones that catch an adjoint.
"""

from __future__ import annotations

import numpy as np

SPEC = """\
bt_right(x, y) = einsum("bij,bkj->bik", x, y)
bt_left(x, y) = einsum("bji,bjk->bik", x, y)
bt_both(x, y) = einsum("bji,bkj->bik", x, y)
bt_swapped(x, y) = einsum("bij,bjk->bki", x, y)
broadcast(x, y) = einsum("...ij,...jk->...ik", x, y)
broadcast_t(x, y) = einsum("...ji,...kj->...ik", x, y)
broadcast_one(x, y) = einsum("...ij,jk->...ik", x, y)
matvec(x, y) = einsum("bjk,bk->bj", x, y)
vecmat(x, y) = einsum("bj,bjk->bk", x, y)
matvec_plain(x, y) = einsum("jk,k->j", x, y)
matvec_broadcast(x, y) = einsum("...k,jk->...j", x, y)
vecmat_plain(x, y) = einsum("j,jk->k", x, y)
matvec_one_vector(x, y) = einsum("...jk,k->...j", x, y)
"""

EQUATIONS = {
    "bt_right": "bij,bkj->bik",
    "bt_left": "bji,bjk->bik",
    "bt_both": "bji,bkj->bik",
    "bt_swapped": "bij,bjk->bki",
    "broadcast": "...ij,...jk->...ik",
    "broadcast_t": "...ji,...kj->...ik",
    "broadcast_one": "...ij,jk->...ik",
    "matvec": "bjk,bk->bj",
    "vecmat": "bj,bjk->bk",
    "matvec_plain": "jk,k->j",
    "matvec_broadcast": "...k,jk->...j",
    "vecmat_plain": "j,jk->k",
    "matvec_one_vector": "...jk,k->...j",
}

# Shapes per function: several batch sizes, `...` of different ranks and a
# size-1 axis that broadcasts, and a zero-size batch.
SHAPES = {
    "bt_right": [((3, 2, 4), (3, 5, 4)), ((0, 2, 4), (0, 5, 4))],
    "bt_left": [((3, 4, 2), (3, 4, 5))],
    "bt_both": [((3, 4, 2), (3, 5, 4))],
    "bt_swapped": [((3, 2, 4), (3, 4, 5))],
    "broadcast": [((2, 3, 4), (2, 4, 5)), ((6, 1, 2, 3), (7, 3, 4)), ((2, 3), (5, 3, 4))],
    "broadcast_t": [((6, 1, 3, 2), (7, 4, 3))],
    "broadcast_one": [((6, 2, 2, 3), (3, 4)), ((2, 3), (3, 4))],
    "matvec": [((3, 2, 4), (3, 4)), ((0, 2, 4), (0, 4))],
    "vecmat": [((3, 2), (3, 2, 4))],
    "matvec_plain": [((2, 4), (4,))],
    "matvec_broadcast": [((6, 1, 4), (3, 4)), ((4,), (3, 4))],
    "vecmat_plain": [((3,), (3, 5)), ((0,), (0, 5))],
    "matvec_one_vector": [((6, 2, 3, 4), (4,)), ((3, 4), (4,))],
}

CASES = [(name, k) for name, shapes in SHAPES.items() for k in range(len(shapes))]


def inputs(name: str, k: int, complex_values: bool, seed: int = 0) -> list[np.ndarray]:
    """float64 or complex128 operands for case `k` of `name` (the suites cast them)."""
    gen = np.random.default_rng(seed)
    arrays = []
    for shape in SHAPES[name][k]:
        x = gen.standard_normal(shape)
        if complex_values:
            x = x + 1j * gen.standard_normal(shape)
        arrays.append(x)
    return arrays


def expected(name: str, arrays) -> np.ndarray:
    return np.einsum(EQUATIONS[name], *arrays)


def assert_close(name: str, result: np.ndarray, operands, eps: float, ulps: int = 64) -> None:
    """`result` is np.einsum of `operands` (their values as passed, widened) within `ulps` of its scale."""
    want = expected(name, operands)
    assert result.shape == want.shape, (name, result.shape, want.shape)
    scale = np.abs(expected(name, [np.abs(x) for x in operands]))
    error = np.abs(result.astype(want.dtype) - want)
    assert not error.size or np.max(error - ulps * eps * scale) <= 0, f"{name}: error {np.max(error)}"
