"""Op selection: each pairwise contraction as the op of the target's matrix product that fits it best.

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

On numpy, torch and jax the batched product takes more (`MatmulKernel`):
a transposed operand is a view, `...` broadcasts, a vector is a column.
"""

from __future__ import annotations

from dataclasses import dataclass

from einigc import ir
from einigc.plan import ELLIPSIS, MatmulForm, matmul_form

__all__ = ["MatmulKernel", "matmul_kernel", "select_pair"]


@dataclass(frozen=True)
class MatmulKernel:
    """What a target's batched matrix product does beyond leading batch axes of equal sizes.

    Measured eagerly for 32 batches, float32, one thread of a shared 2-core
    machine (µs; the framework's einsum of the pair, then the product):

                          numpy 2.4 (optimize=False)     torch 2.13, 4x4
                          16x16   64x64   128x128
      bij,bkj->bik         294    2786    10189           18.5
        matmul(x, y.mT)     27     485     2353           10.9
      ...ij,...jk->...ik   315    3395    12399           27.2
        matmul(x, y)        18     219     2193           14.2
      bjk,bk->bj            14      34       86           21.7
        matmul(x, y[..., None])[..., 0]
                            11      14       55            7.0

    Matrix times vector, numpy one BLAS thread (µs): `ij,j->i` by np.einsum
    44 / 402 / 1670 at 512 / 1024 / 2048 per side, by np.matmul 14 / 55 /
    1267; `i,ij->j` 29 / 98 / 921 against np.matmul(w.mT, x) 13 / 53 / 929.

    From 64x64 up torch.einsum runs the same bmm (within noise, 5-15 %);
    under jax.jit both spellings compile to the same dot_general (the HLO
    compared), so there matmul is the spelling, not a speed-up. Not taken
    by measurement: `bi,ijb->bj` as matmul over `np.moveaxis(y, -1, 0)`
    (numpy 2.4, 32 batches: 9.6 against 21 µs at 16, but 374 against 115 at
    64 and 2858 against 968 at 128: the moved batch axis leaves strides
    BLAS cannot take), and `...i,...i->...` (np.vecdot or matmul of a row
    and a column within noise of np.einsum: 24-36 against 26 µs at 64).
    """

    transposes_free: bool  # a transposed operand is a view it reads: no copy, no conjugation
    broadcasts_batch: bool  # `...` before the batch axes broadcasts as numpy's does
    takes_vectors: bool  # a batch of vectors is a batch of one-column matrices (a view)


# TensorFlow: BatchMatMulV2 offers adjoints, which conjugate complex inputs.
TENSORFLOW = MatmulKernel(transposes_free=False, broadcasts_batch=False, takes_vectors=False)
# np.matmul (numpy >= 2 for `.mT`), torch.matmul, jnp.matmul.
VIEWS = MatmulKernel(transposes_free=True, broadcasts_batch=True, takes_vectors=True)


KERNELS = {"tensorflow": TENSORFLOW, "numpy": VIEWS, "torch": VIEWS, "jax": VIEWS}


def matmul_kernel(target: str) -> MatmulKernel:
    return KERNELS[target]


def select_pair(
    left: tuple[str, ...],
    right: tuple[str, ...],
    out: tuple[str, ...],
    a: str,
    b: str,
    kernel: MatmulKernel = TENSORFLOW,
) -> ir.Op | ir.FusedMatMul:
    form = matmul_form(left, right, out)
    if form is not None:
        x, y = (b, a) if form.swap else (a, b)
        if len(form.rows) == len(form.inner) == len(form.cols) == 1:
            if form.batch:
                if not (form.transpose_a or form.transpose_b) or kernel.transposes_free:
                    return ir.BatchMatMul(x, y, form.transpose_a, form.transpose_b)
            else:
                return ir.MatMul(x, y, form.transpose_a, form.transpose_b)
        elif not form.batch:
            return ir.FusedMatMul(
                x, y, form.rows, form.inner, form.cols, form.transpose_a, form.transpose_b
            )
        # Batched with transposes or runs: BatchMatMulV2 only offers adjoints,
        # which conjugate complex inputs; the Einsum op does the same product.
    elif kernel.broadcasts_batch or kernel.takes_vectors:
        product = _broadcast_product(left, right, out, a, b, kernel)
        if product is not None:
            return product
    equation = f"{''.join(left)},{''.join(right)}->{''.join(out)}"
    return ir.Einsum(equation, (a, b))


def _broadcast_product(left, right, out, a: str, b: str, kernel: MatmulKernel) -> ir.BatchMatMul | None:
    """A batched product of single axes that the kernel's broadcasting or unit axes make one, if any.

    `...` may lead any word (matmul aligns batch axes from the right, as
    einsum aligns `...`); a matrix-vector product is the matrix times the
    vector as a column (`bjk,bk->bj`, `bj,bjk->bk` with the matrix's `.mT`).
    """
    words = (left, right, out)
    if any(ELLIPSIS in word[1:] for word in words):
        return None
    if any(ELLIPSIS in word for word in words):
        if not kernel.broadcasts_batch or out[:1] != (ELLIPSIS,):
            return None
        left, right, out = (word[1:] if word[:1] == (ELLIPSIS,) else word for word in words)
    form = matmul_form(left, right, out)
    if form is None and kernel.takes_vectors:
        form = _matvec_form(left, right, out)
    if form is None or not len(form.rows) == len(form.inner) == 1 or len(form.cols) > 1:
        return None
    if (form.transpose_a or form.transpose_b) and not kernel.transposes_free:
        return None
    x, y = (b, a) if form.swap else (a, b)
    # One axis alone is matmul's own matrix-vector product (1-D `y`).
    vector = words[0] if form.swap else words[1]
    column = not form.cols and len(vector) > 1
    return ir.BatchMatMul(x, y, form.transpose_a, form.transpose_b, y_is_vector=column)


def _matvec_form(left, right, out) -> MatmulForm | None:
    """`left, right -> out` as a matrix (`a`, maybe transposed) times a vector (`b`), if it is one.

    Both share their leading batch axes; the vector's last is summed.
    """
    for swap in (False, True):
        matrix, vector = (right, left) if swap else (left, right)
        if not vector or len(matrix) != len(vector) + 1 or len(set(matrix)) != len(matrix):
            continue
        n = len(vector) - 1
        batch, inner = vector[:n], vector[n]
        own = tuple(s for s in matrix[n:] if s != inner)
        if matrix[:n] != batch or len(own) != 1 or out != batch + own:
            continue
        return MatmulForm(batch, own, (inner,), (), swap, matrix[n:] == (inner, *own), False)
    return None
