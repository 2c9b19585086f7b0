"""Op selection: each pairwise contraction as the TensorFlow op that fits it best.

Eagerly, `tf.einsum` re-parses its equation in Python on every call
(47 µs for a 4x4 product, measured); the raw ops skip that: `MatMul` 20 µs,
`Einsum` 26 µs. Matrix products become MatMul / BatchMatMulV2, everything
else the raw Einsum op, which plans transposes and BLAS calls itself.
"""

from __future__ import annotations

from einigc import ir
from einigc.plan import ELLIPSIS


def select_pair(left: tuple[str, ...], right: tuple[str, ...], out: tuple[str, ...], a: str, b: str) -> ir.Op:
    if ELLIPSIS not in left + right + out:
        matmul = _matmul(left, right, out, a, b)
        if matmul is not None:
            return matmul
    equation = f"{''.join(left)},{''.join(right)}->{''.join(out)}"
    return ir.Einsum(equation, (a, b))


def _matmul(left, right, out, a, b) -> ir.Op | None:
    if len(set(left)) != len(left) or len(set(right)) != len(right) or len(set(out)) != len(out):
        return None
    batch = tuple(s for s in left if s in right and s in out)
    n = len(batch)
    if left[:n] != batch or right[:n] != batch or out[:n] != batch:
        return None
    l_rest, r_rest, o_rest = left[n:], right[n:], out[n:]
    if len(l_rest) != 2 or len(r_rest) != 2 or len(o_rest) != 2:
        return None
    contracted = set(l_rest) & set(r_rest)
    if len(contracted) != 1 or contracted & set(o_rest):
        return None
    (c,) = contracted
    (row,) = set(l_rest) - {c}
    (col,) = set(r_rest) - {c}
    if o_rest != (row, col):
        return None
    transpose_a = l_rest == (c, row)
    transpose_b = r_rest == (col, c)
    if batch:
        # BatchMatMulV2 only offers adjoints, which conjugate complex inputs.
        if transpose_a or transpose_b:
            return None
        return ir.BatchMatMul(a, b)
    return ir.MatMul(a, b, transpose_a, transpose_b)
