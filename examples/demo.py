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

# The dialect.
t = rng.standard_normal((2, 3, 4)).astype("float32")
k = rng.standard_normal((4, 5, 6)).astype("float32")
show("tensordot", ops.tensordot(t, k), np.tensordot(t, k, axes=1))
show("row_sums", ops.row_sums(m), m.sum(axis=1, keepdims=True))
vec = rng.standard_normal(5).astype("float32")
show("diag_matrix", ops.diag_matrix(vec), np.diag(vec))
big = rng.standard_normal((2, 3, 4, 5, 3, 2)).astype("float32")
show("high_rank_diagonal", ops.high_rank_diagonal(big), np.einsum("ijklji->ikjl", big))
w12 = rng.standard_normal((12, 7)).astype("float32")
show("project", ops.project(t, w12), t.reshape(2, 12) @ w12)
show("unflatten", ops.unflatten(np.arange(12.0, dtype="float32")), np.arange(12.0).reshape(3, 4))

# Derivatives of plain Python functions of tensors.
wmat = tf.constant(rng.standard_normal((3, 4)))
f = lambda x: tf.tanh(tf.linalg.matvec(wmat, x))  # noqa: E731
xv = tf.constant(rng.standard_normal(4))
with tf.GradientTape() as tape:
    tape.watch(xv)
    fx = f(xv)
jac = tape.jacobian(fx, xv).numpy()
show("jacobian", ops.jacobian(f, xv), jac)
cot = rng.standard_normal(3)
show("vjp", ops.vjp(cot, f, xv), cot @ jac)
tan = rng.standard_normal(4)
show("jvp", ops.jvp(f, xv, tan), jac @ tan)
energy = lambda x: tf.reduce_sum(x**4) / 4  # noqa: E731  Hessian: diag(3 x^2)
show("gradient", ops.gradient(energy, xv), xv.numpy() ** 3)
show("hessian", ops.hessian(energy, xv), np.diag(3 * xv.numpy() ** 2))
show("hvp", ops.hvp(energy, xv, tan), 3 * xv.numpy() ** 2 * tan)
rows = tf.constant(rng.standard_normal((5, 4)))
show("batched_grad", ops.batched_grad(lambda x: tf.reduce_sum(x**2, axis=1), rows), 2 * rows.numpy())

traced = tf.function(ops.bmm3, input_signature=[tf.TensorSpec([None, None, None], tf.float32)] * 3)
show("bmm3 traced", traced(x, y, z), np.einsum("bij,bjk,bkl->bil", x, y, z))
print("every generated function matches numpy")
