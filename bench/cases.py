"""The benchmark's cases: specs, sizes per run kind, and the hand-written versions they are timed against.

Importing this module needs neither TensorFlow nor numpy: the cases are built
by `build_cases(tf, np)` once TensorFlow is imported (after the memory case,
see run.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

MODES = ("eager", "function", "xla")
TF_VARIANTS = ("generated", "hand", "tf.einsum")
NP_VARIANTS = ("np False", "np True")


# --------------------------------------------------------------------------
# Sizes


FULL_SIZES = {
    "bmm3": dict(b=32, i=128, j=128, k=128, l=128),
    "bmm3_skewed": dict(b=8, i=1024, j=256, k=256, l=4),
    "chain": dict(a=1000, b=2, c=1000, d=2, e=1000),
    "bilinear": dict(b=256, i=64, j=64, k=64),
    "project": dict(b=256, i=32, j=32, k=256),
    "scores": dict(b=16, q=256, k=256, d=64),
    "mix": dict(b=16, q=256, k=256, d=64),
    "diag6": dict(i=16, j=16, k=16, l=16),
    "induced": dict(i=48, j=48),
    "composite": dict(a=16, b=32, j=256, c=8, d=32),
    "keepdims": dict(i=2048, j=1024),
    "small_matmul": dict(i=4, j=4, k=4),
    "chain6": dict(a=128, b=128, c=128, d=128, e=128, f=128, g=128),
}

SMOKE_SIZES = {
    "bmm3": dict(b=2, i=3, j=4, k=5, l=6),
    "bmm3_skewed": dict(b=2, i=16, j=4, k=4, l=2),
    "chain": dict(a=10, b=2, c=10, d=2, e=10),
    "bilinear": dict(b=3, i=4, j=5, k=6),
    "project": dict(b=3, i=2, j=4, k=5),
    "scores": dict(b=2, q=3, k=4, d=5),
    "mix": dict(b=2, q=3, k=4, d=5),
    "diag6": dict(i=2, j=3, k=4, l=5),
    "induced": dict(i=3, j=4),
    "composite": dict(a=2, b=3, j=4, c=5, d=2),
    "keepdims": dict(i=5, j=7),
    "small_matmul": dict(i=4, j=4, k=4),
    "chain6": dict(a=3, b=4, c=5, d=3, e=4, f=5, g=3),
}

# Settings per run kind: seconds of timed calls per case, rounds, sizes of the
# memory case and of the compile-time file.
FULL = dict(budget=15.0, eingrad_budget=6.0, rmax=500, rmin=3, warmups=3, mem_n=14, decls=1000, compile_runs=3, help_runs=7)
SMOKE = dict(budget=0.25, eingrad_budget=0.25, rmax=5, rmin=2, warmups=1, mem_n=5, decls=100, compile_runs=1, help_runs=3)


@dataclass
class Case:
    name: str  # key of the size tables, label in the results
    decl: str  # the declaration in cases.ein
    spec: str  # the spec as written in cases.ein
    shapes: Callable[[dict], list]  # sizes -> operand shapes
    hand: Callable  # expert TF
    einsum: Callable  # tf.einsum as a user would write it
    einsum_note: str  # how the tf.einsum column is formulated, if not the spec itself
    np_fn: Callable  # (optimize, *arrays) -> array: np.einsum formulation
    np_eq: str  # the equation np_fn passes to np.einsum (for its naive cost)
    np_shapes: Callable[[dict], list]  # sizes -> shapes of np_fn's einsum operands
    flops_eq: Optional[str] = None  # core equation of the contraction, for FLOPs
    flops_note: str = ""



def operand_shapes(eq: str) -> Callable[[dict], list]:
    """sizes -> the shapes of the operands of `eq` (its letters are the axes)."""
    words = eq.split("->")[0].split(",")
    return lambda s: [tuple(s[c] for c in w) for w in words]



def build_cases(tf, np) -> list[Case]:
    """Every case, in the order of the results table."""
    mm = tf.linalg.matmul
    hand = _hand_written(tf)

    def core(name, decl, spec, hand_fn):
        # The spec is plain einsum: tf.einsum and np.einsum take it as it is.
        return Case(
            name=name,
            decl=decl,
            spec=spec,
            shapes=operand_shapes(spec),
            hand=hand_fn,
            einsum=_tf_einsum_of(tf, spec),
            einsum_note="",
            np_fn=_np_einsum_of(np, spec),
            np_eq=spec,
            np_shapes=operand_shapes(spec),
            flops_eq=spec if "," in spec else None,
        )

    return [
        core("bmm3", "bmm3", "bij,bjk,bkl->bil", lambda x, y, z: mm(mm(x, y), z)),
        # Same declaration, skewed sizes at run time: the expert knows them
        # and multiplies right to left.
        core("bmm3_skewed", "bmm3", "bij,bjk,bkl->bil", lambda x, y, z: mm(x, mm(y, z))),
        core("chain", "chain", "ab,bc,cd,de->ae", lambda a, b, c, d: mm(mm(a, mm(b, c)), d)),
        core("bilinear", "bilinear", "bi,ijk,bk->bj", hand["bilinear"]),
        _project(tf, np, hand),
        core("scores", "scores", "bqd,bkd->bqk", lambda q, k: mm(q, k, transpose_b=True)),
        core("mix", "mix", "bqk,bkd->bqd", lambda p, v: mm(p, v)),
        core("diag6", "diag6", "ijklji->ikjl", hand["diag6"]),
        _induced(tf, np, hand),
        _composite(tf, np, hand),
        _keepdims(tf, np),
        core("small_matmul", "small_matmul", "ij,jk->ik", lambda a, b: mm(a, b)),
        core(
            "chain6",
            "chain6",
            "ab,bc,cd,de,ef,fg->ag",
            lambda a, b, c, d, e, f: mm(mm(mm(mm(mm(a, b), c), d), e), f),
        ),
    ]


def _tf_einsum_of(tf, eq):
    def einsum(*operands):
        return tf.einsum(eq, *operands)

    return einsum


def _np_einsum_of(np, eq):
    return lambda optimize, *a: np.einsum(eq, *a, optimize=optimize)


def _hand_written(tf) -> dict[str, Callable]:
    """The expert TensorFlow versions that take more than a line."""
    mm = tf.linalg.matmul

    def bilinear_hand(x, w, y):
        i, j, k = w.shape
        t = tf.reshape(mm(x, tf.reshape(w, [i, j * k])), [-1, j, k])
        return tf.linalg.matvec(t, y)

    def project_hand(x, w):
        return mm(tf.reshape(x, [x.shape[0], -1]), w)

    def diag6_hand(x):
        # x[i, j, k, l, j, i] -> out[i, k, j, l]: one gather of precomputable flat indices.
        shape = x.shape.as_list()
        stride = [1] * 6
        for axis in range(4, -1, -1):
            stride[axis] = stride[axis + 1] * shape[axis + 1]
        i, j, k, l = shape[:4]
        index = (
            tf.reshape(tf.range(i) * (stride[0] + stride[5]), [-1, 1, 1, 1])
            + tf.reshape(tf.range(k) * stride[2], [1, -1, 1, 1])
            + tf.reshape(tf.range(j) * (stride[1] + stride[4]), [1, 1, -1, 1])
            + tf.reshape(tf.range(l) * stride[3], [1, 1, 1, -1])
        )
        return tf.gather(tf.reshape(x, [-1]), index)

    def induced_hand(x):
        # out[j, i, j, i] = x[i, j]: entry m of transpose(x) lands at flat m * (n + 1).
        i, j = x.shape
        n = i * j
        position = tf.reshape(tf.range(n) * (n + 1), [-1, 1])
        flat = tf.scatter_nd(position, tf.reshape(tf.transpose(x), [-1]), [n * n])
        return tf.reshape(flat, [j, i, j, i])

    def composite_hand(x, y):
        out_shape = x.shape[:-1].concatenate(y.shape[1:])
        product = mm(tf.reshape(x, [-1, x.shape[-1]]), tf.reshape(y, [y.shape[0], -1]))
        return tf.reshape(product, out_shape)

    return {
        "bilinear": bilinear_hand,
        "project": project_hand,
        "diag6": diag6_hand,
        "induced": induced_hand,
        "composite": composite_hand,
    }


# The dialect's cases: tf.einsum and np.einsum get the nearest formulation.


def _project(tf, np, hand) -> Case:
    def project_einsum(x, w):
        return tf.einsum("bm,mk->bk", tf.reshape(x, [x.shape[0], -1]), w)

    return Case(
        name="project",
        decl="project",
        spec="bij,(ij)k->bk",
        shapes=lambda s: [(s["b"], s["i"], s["j"]), (s["i"] * s["j"], s["k"])],
        hand=hand["project"],
        einsum=project_einsum,
        einsum_note="tf.einsum('bm,mk->bk', reshape(x, [b, -1]), w)",
        np_fn=lambda optimize, x, w: np.einsum("bm,mk->bk", x.reshape(x.shape[0], -1), w, optimize=optimize),
        np_eq="bm,mk->bk",
        np_shapes=lambda s: [(s["b"], s["i"] * s["j"]), (s["i"] * s["j"], s["k"])],
        flops_eq="bij,ijk->bk",
        flops_note="core form bij,ijk->bk",
    )


def _induced(tf, np, hand) -> Case:
    def induced_einsum(x):
        i, j = x.shape
        return tf.einsum("ij,jk,il->jikl", x, tf.eye(j, dtype=x.dtype), tf.eye(i, dtype=x.dtype))

    def induced_np(optimize, x):
        i, j = x.shape
        return np.einsum("ij,jk,il->jikl", x, np.eye(j, dtype=x.dtype), np.eye(i, dtype=x.dtype), optimize=optimize)

    return Case(
        name="induced",
        decl="induced",
        spec="ij->jiji",
        shapes=operand_shapes("ij->"),
        hand=hand["induced"],
        einsum=induced_einsum,
        einsum_note="tf.einsum('ij,jk,il->jikl', x, eye(j), eye(i))",
        np_fn=induced_np,
        np_eq="ij,jk,il->jikl",
        np_shapes=lambda s: [(s["i"], s["j"]), (s["j"], s["j"]), (s["i"], s["i"])],
    )


def _composite(tf, np, hand) -> Case:
    return Case(
        name="composite",
        decl="composite",
        spec="Ij,jK->IK",
        shapes=operand_shapes("abj,jcd->"),
        hand=hand["composite"],
        einsum=lambda x, y: tf.einsum("abj,jcd->abcd", x, y),
        einsum_note="tf.einsum('abj,jcd->abcd') with I = ab, K = cd",
        np_fn=_np_einsum_of(np, "abj,jcd->abcd"),
        np_eq="abj,jcd->abcd",
        np_shapes=operand_shapes("abj,jcd->"),
        flops_eq="abj,jcd->abcd",
        flops_note="I = ab, K = cd",
    )


def _keepdims(tf, np) -> Case:
    return Case(
        name="keepdims",
        decl="keepdims",
        spec="ij->i_",
        shapes=operand_shapes("ij->"),
        hand=lambda x: tf.reduce_sum(x, axis=1, keepdims=True),
        einsum=lambda x: tf.expand_dims(tf.einsum("ij->i", x), -1),
        einsum_note="expand_dims(tf.einsum('ij->i', x), -1)",
        np_fn=lambda optimize, x: np.einsum("ij->i", x, optimize=optimize)[:, None],
        np_eq="ij->i",
        np_shapes=operand_shapes("ij->"),
    )
