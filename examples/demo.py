"""Calls the functions einigc generated from specs.ein and checks them against numpy."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import specs_generated as ops  # noqa: E402

rng = np.random.default_rng(0)


def show(name, got, want):
    got = np.asarray(got)
    ok = np.allclose(got, want, rtol=1e-4, atol=1e-4)
    print(f"{name:12s} shape {str(got.shape):14s} {'matches numpy' if ok else 'MISMATCH'}")
    if not ok:
        raise SystemExit(f"{name} differs from numpy")


x, y, z = (rng.standard_normal((4, 5, 5)).astype("float32") for _ in range(3))
show("bmm3", ops.bmm3(x, y, z), np.einsum("bij,bjk,bkl->bil", x, y, z))
a, b, c, d = (rng.standard_normal(s).astype("float32") for s in [(50, 2), (2, 50), (50, 2), (2, 50)])
show("chain", ops.chain(a, b, c, d), np.einsum("ab,bc,cd,de->ae", a, b, c, d))
u, w, v = (rng.standard_normal(s).astype("float32") for s in [(8, 3), (3, 4, 6), (8, 6)])
show("bilinear", ops.bilinear(u, w, v), np.einsum("bi,ijk,bk->bj", u, w, v))
m = rng.standard_normal((6, 6)).astype("float32")
show("trace", ops.trace(m), np.trace(m))
show("diagonal", ops.diagonal(m), np.diag(m))
p, q = rng.standard_normal((3, 1, 7)).astype("float32"), rng.standard_normal((4, 7)).astype("float32")
show("batched_dot", ops.batched_dot(p, q), np.einsum("...i,...i->...", p, q))
show("dot_sum", ops.dot_sum(p, q), np.einsum("...i,...i->...i", p, q).sum(axis=(0, 1)))
show("gram_trace", ops.gram_trace(m), np.trace(m @ m.T))
show("twice", ops.twice(x, y, z), np.einsum("bij,bjk,bkl->bil", x @ y @ z, y, z))
g = rng.random((6, 6)) < 0.3
show("path_count", ops.path_count(g, g), g.astype(int) @ g.astype(int))
show("reachable", ops.reachable(g, g), (g.astype(int) @ g.astype(int)) > 0)

traced = tf.function(ops.bmm3, input_signature=[tf.TensorSpec([None, None, None], tf.float32)] * 3)
show("bmm3 traced", traced(x, y, z), np.einsum("bij,bjk,bkl->bil", x, y, z))
print("every generated function matches numpy")
