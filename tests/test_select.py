"""Op selection, without TensorFlow: which op each pairwise step becomes.

The ops are named by their class names (`type(op).__name__`), not imported:
the same test holds wherever a class lives (FusedMatMul may move to `ir`).
"""

from __future__ import annotations

import pytest

from einigc.select import TENSORFLOW, MatmulKernel, matmul_kernel, select_pair

# Two operand values the ops are built on; select passes them through.
A, B = "a_value", "b_value"


def words(text: str) -> tuple[tuple[str, ...], ...]:
    """'ij,jk->ik' as its three words of letters."""
    inputs, output = text.split("->")
    left, right = inputs.split(",")
    return tuple(left), tuple(right), tuple(output)


def select(spec: str):
    return select_pair(*words(spec), A, B)


@pytest.mark.parametrize(
    "spec, transpose_a, transpose_b, swapped",
    [
        ("ij,jk->ik", False, False, False),
        ("ji,jk->ik", True, False, False),
        ("ij,kj->ik", False, True, False),
        ("ji,kj->ik", True, True, False),
        # The result is kj's rows: the operands trade places.
        ("ij,jk->ki", True, True, True),
    ],
)
def test_a_matrix_product_is_one_matmul_with_its_transposes(spec, transpose_a, transpose_b, swapped):
    op = select(spec)
    assert type(op).__name__ == "MatMul"
    assert (op.a, op.b) == ((B, A) if swapped else (A, B))
    assert (op.transpose_a, op.transpose_b) == (transpose_a, transpose_b)


def test_leading_batch_axes_without_transposes_are_one_batch_matmul():
    op = select("bij,bjk->bik")
    assert type(op).__name__ == "BatchMatMul"
    assert (op.x, op.y) == (A, B)


@pytest.mark.parametrize(
    "spec, reason",
    [
        ("bji,bjk->bik", "a batched product with a transpose: BatchMatMulV2 only offers adjoints"),
        ("bi,bk->bik", "nothing summed: an outer product"),
        ("bjk,bk->bj", "no columns: a matrix-vector product"),
        ("ijk,lkj->il", "kj against jk: not a run of axes"),
        ("bija,bjka->bika", "batch a is not leading"),
        ("i,i->", "a dot product"),
    ],
)
def test_what_is_no_matrix_product_is_the_einsum_op_with_the_pairs_equation(spec, reason):
    op = select(spec)
    assert type(op).__name__ == "Einsum", reason
    assert op.equation == spec
    assert tuple(op.operands) == (A, B)


@pytest.mark.parametrize(
    "spec, rows, inner, cols",
    [
        ("bij,ijk->bk", "b", "ij", "k"),
        ("ijk,jkl->il", "i", "jk", "l"),
        ("ijk,kl->ijl", "ij", "k", "l"),
    ],
)
def test_runs_of_axes_are_one_fused_matmul_over_the_merged_runs(spec, rows, inner, cols):
    op = select(spec)
    assert type(op).__name__ == "FusedMatMul"
    assert (op.rows, op.inner, op.cols) == (tuple(rows), tuple(inner), tuple(cols))
    assert (op.a, op.b) == (A, B)
    assert (op.transpose_a, op.transpose_b) == (False, False)


def test_a_batched_run_of_axes_is_left_to_the_einsum_op():
    # BatchMatMul with reshapes of runs would need the batch leading in both and
    # the result; selection does not fuse under a batch.
    assert type(select("bijk,bjkl->bil")).__name__ == "Einsum"


def test_selection_is_the_same_for_any_letters():
    # Only the roles of the axes count, never their names.
    assert type(select("pq,qr->pr")) is type(select("ij,jk->ik"))
    assert type(select("xyz,xzw->xyw")) is type(select("bij,bjk->bik"))


# --- targets whose matmul reads views: numpy, torch, jax --------------------

def select_for(spec: str, target: str):
    """select for `target`; `...` is one symbol of the words."""
    left, right, out = (tuple("..." if s == "." else s for s in w) for w in words(spec.replace("...", ".")))
    return select_pair(left, right, out, A, B, matmul_kernel(target))


def test_every_target_but_tensorflow_has_the_view_taking_kernel():
    assert matmul_kernel("tensorflow") == TENSORFLOW
    assert not (TENSORFLOW.transposes_free or TENSORFLOW.broadcasts_batch or TENSORFLOW.takes_vectors)
    for target in ("numpy", "torch", "jax"):
        assert matmul_kernel(target) == MatmulKernel(True, True, True)


@pytest.mark.parametrize(
    "spec, x, y, transpose_x, transpose_y",
    [
        ("bji,bjk->bik", A, B, True, False),
        ("bij,bkj->bik", A, B, False, True),
        ("bji,bkj->bik", A, B, True, True),
        ("bij,bjk->bki", B, A, True, True),
        ("...ij,...jk->...ik", A, B, False, False),
        ("...ji,...kj->...ik", A, B, True, True),
        ("...ij,jk->...ik", A, B, False, False),
        ("ij,...jk->...ik", A, B, False, False),
        ("...bij,bjk->...bik", A, B, False, False),
    ],
)
@pytest.mark.parametrize("target", ["numpy", "torch", "jax"])
def test_transposed_and_broadcast_batches_are_one_batch_matmul_of_views(spec, x, y, transpose_x, transpose_y, target):
    op = select_for(spec, target)
    assert type(op).__name__ == "BatchMatMul"
    assert (op.x, op.y, op.transpose_x, op.transpose_y, op.y_is_vector) == (x, y, transpose_x, transpose_y, False)


@pytest.mark.parametrize(
    "spec, matrix, transposed, column",
    [
        ("bjk,bk->bj", A, False, True),
        ("bk,bjk->bj", B, False, True),
        ("bj,bjk->bk", B, True, True),
        ("...k,jk->...j", B, False, True),
        ("...jk,...k->...j", A, False, True),
        # A vector of one axis is matmul's own matrix-vector product.
        ("jk,k->j", A, False, False),
        ("j,jk->k", B, True, False),
        ("...jk,k->...j", A, False, False),
    ],
)
def test_a_matrix_times_a_vector_is_a_batch_matmul_with_a_column(spec, matrix, transposed, column):
    op = select_for(spec, "numpy")
    assert type(op).__name__ == "BatchMatMul"
    vector = B if matrix == A else A
    assert (op.x, op.y, op.transpose_x, op.transpose_y, op.y_is_vector) == (matrix, vector, transposed, False, column)


@pytest.mark.parametrize(
    "spec, reason",
    [
        # Measured slower as matmul over the moved batch axis (see select.MatmulKernel).
        ("bi,ijb->bj", "the batch axis trails one operand"),
        ("bik,ijk->bj", "ik against ijk: not a run of axes"),
        ("i,i->", "a dot product"),
        ("...i,...i->...", "a batched dot product: within noise of the einsum"),
        ("bi,bk->bik", "nothing summed: an outer product"),
        ("bijk,bjkl->bil", "a batched run of axes"),
        ("i...j,jk->i...k", "`...` not leading"),
        ("bjk,bkj->bj", "j in both and kept, but no batch axis of one"),
    ],
)
def test_what_no_view_makes_a_matrix_product_stays_the_einsum(spec, reason):
    op = select_for(spec, "torch")
    assert type(op).__name__ == "Einsum", reason


@pytest.mark.parametrize("spec", ["bji,bjk->bik", "...ij,...jk->...ik", "bjk,bk->bj", "jk,k->j"])
def test_tensorflow_keeps_the_einsum_op_for_them(spec):
    # BatchMatMulV2's adjoints conjugate complex inputs; the golden check
    # proves the generated TensorFlow unchanged.
    assert type(select_for(spec, "tensorflow")).__name__ == "Einsum"
