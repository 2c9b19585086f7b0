"""Op selection: each pairwise contraction as the TensorFlow op that fits it best.

Eagerly, `tf.einsum` re-parses its equation in Python on every call
(47 µs for a 4x4 product, measured); the raw ops skip that: `MatMul` 20 µs,
`Einsum` 26 µs. Matrix products become MatMul / BatchMatMulV2, everything
else the raw Einsum op, which plans transposes and BLAS calls itself.

A pair whose axes fall into contiguous runs (`bij,ijk->bk`: rows `b`,
contracted `ij`, columns `k`) is a matrix product after reshapes, which
cost no copy. MatMul's kernel was as fast or faster than the batched
product the Einsum op calls in 25 of 27 shapes from 64 to 1024 per side
(about 10 % at 256x1024x256, 2.5x at 64x64x64; TF 2.21 CPU), though some
shapes go the other way (BatchMatMul 1.3x faster at 256x512x512).

Eagerly, though, each `tf.reshape` costs about 40 µs (its Python list of
sizes becomes a tensor on every call) while the Einsum op reshapes in C++:
for `bqa,ahc->bqhc` one Einsum op beat reshapes around a MatMul at every
size from 5e2 to 5.4e8 FLOPs (0.1-0.95x) and tied within noise up to 1.1e9
(bench/eager_crossover.py). tf.einsum itself is that op after parsing, so a
FusedMatMul that saves reshapes runs as one Einsum op when TensorFlow runs
eagerly (`ir.EagerChoice`), and as the MatMul under tf.function.
"""

from __future__ import annotations

from einigc import ir
from einigc.plan import matmul_form

__all__ = ["select_pair"]


def select_pair(
    left: tuple[str, ...], right: tuple[str, ...], out: tuple[str, ...], a: str, b: str
) -> ir.Op | ir.FusedMatMul:
    form = matmul_form(left, right, out)
    if form is not None:
        x, y = (b, a) if form.swap else (a, b)
        if len(form.rows) == len(form.inner) == len(form.cols) == 1:
            if form.batch:
                if not (form.transpose_a or form.transpose_b):
                    return ir.BatchMatMul(x, y)
            else:
                return ir.MatMul(x, y, form.transpose_a, form.transpose_b)
        elif not form.batch:
            return ir.FusedMatMul(
                x, y, form.rows, form.inner, form.cols, form.transpose_a, form.transpose_b
            )
        # Batched with transposes or runs: BatchMatMulV2 only offers adjoints,
        # which conjugate complex inputs; the Einsum op does the same product.
    equation = f"{''.join(left)},{''.join(right)}->{''.join(out)}"
    return ir.Einsum(equation, (a, b))
