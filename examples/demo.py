"""Calls every function einigc generated from specs.ein and derivatives.ein and compares each with numpy.

Run by `make demo` after `einigc` built the modules examples/pyproject.toml lists. The
references are plain numpy (np.einsum, matrix products, closed-form
derivatives), written independently of the generated code.
"""

import contextlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _quiet_native_stderr():
    # TensorFlow's C++ start-up lines ("oneDNN custom operations are on", ...)
    # bypass TF_CPP_MIN_LOG_LEVEL: hide what native code writes meanwhile.
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


with _quiet_native_stderr():
    import numpy as np
    import tensorflow as tf

    tf.constant(0.0) + 1.0  # the first op starts the runtime (more start-up lines)

import derivatives_generated as grads  # noqa: E402
import specs_generated as ops  # noqa: E402

rng = np.random.default_rng(0)


def randn(*shape):
    return rng.standard_normal(shape).astype("float32")


def randn64(*shape):
    return rng.standard_normal(shape)


x, y, z = randn(4, 5, 5), randn(4, 5, 5), randn(4, 5, 5)
a, b, c, d = randn(50, 2), randn(2, 50), randn(50, 2), randn(2, 50)
u, w3, v8 = randn(8, 3), randn(3, 4, 6), randn(8, 6)
m, m2 = randn(6, 6), randn(6, 4)
p, q = randn(3, 1, 7), randn(4, 7)
g = rng.random((6, 6)) < 0.3
t, k = randn(2, 3, 4), randn(4, 5, 6)
vec, vec4 = randn(5), randn(4)
big = randn(2, 3, 4, 5, 3, 2)
w12, flat = randn(12, 7), np.arange(12.0, dtype="float32")
bi, jk = randn(6, 3), randn(3, 4)
squeezable = randn(4, 1, 3)
v34 = randn(3, 4)  # batch_matvec's "BI,I,IJ->BJ" with I = (3, 4), so J has no axes

# Derivatives of plain Python functions, against closed forms in numpy.
wmat = randn64(3, 4)
f = lambda x: tf.tanh(tf.linalg.matvec(wmat, x))  # noqa: E731
xv, cot, tan = randn64(4), randn64(3), randn64(4)
jac = (1 - np.tanh(wmat @ xv) ** 2)[:, None] * wmat  # d tanh(W x) / dx
square = randn64(4, 4)
fs = lambda x: tf.tanh(tf.linalg.matvec(square, x))  # noqa: E731
jac_square = (1 - np.tanh(square @ xv) ** 2)[:, None] * square
energy = lambda x: tf.reduce_sum(x**4) / 4  # noqa: E731  gradient x^3, Hessian diag(3 x^2)
rows, row_tan = randn64(5, 4), randn64(5, 4)
row_f = lambda x: tf.tanh(tf.matmul(x, square, transpose_b=True))  # noqa: E731
row_scale = 1 - np.tanh(rows @ square.T) ** 2  # row b's Jacobian: row_scale[b, :, None] * square
lin_w = randn64(3, 4)
# Several pairs: net(w) = tanh(X W), W = w as 2x3; its Jacobian J[b, i, (n k)] = (1 - y^2)[b, i] delta_ik X[b, n].
net_x, net_x2, net_w, net_v = randn64(4, 2), randn64(5, 2), randn64(6), randn64(6)
net = lambda x: lambda w: tf.tanh(tf.matmul(x, tf.reshape(w, (2, 3))))  # noqa: E731


def net_jacobian(x):
    slope = 1 - np.tanh(x @ net_w.reshape(2, 3)) ** 2
    return np.einsum("bi,ik,bn->bink", slope, np.eye(3), x).reshape(len(x), 3, 6)


centred = lambda x: tf.reduce_sum(tf.tanh(x - tf.reduce_mean(x, 0)), 1)  # noqa: E731  rows interact
centred_rows = (1 - np.tanh(rows - rows.mean(0)) ** 2) * (1 - 1 / len(rows))  # d y[b] / d x[b, j], exact

CASES = [
    ("bmm3", lambda: ops.bmm3(x, y, z), lambda: x @ y @ z),
    ("chain", lambda: ops.chain(a, b, c, d), lambda: a @ b @ c @ d),
    ("bilinear", lambda: ops.bilinear(u, w3, v8), lambda: np.einsum("bi,ijk,bk->bj", u, w3, v8)),
    ("matmul", lambda: ops.matmul(m, m2), lambda: m @ m2),
    ("trace", lambda: ops.trace(m), lambda: np.trace(m)),
    ("diagonal", lambda: ops.diagonal(m), lambda: np.diag(m)),
    ("batched_dot", lambda: ops.batched_dot(p, q), lambda: (p * q).sum(-1)),
    ("dot_sum", lambda: ops.dot_sum(p, q), lambda: (p * q).sum(axis=(0, 1))),
    ("scale", lambda: ops.scale(np.float32(2.5), m), lambda: 2.5 * m),
    ("outer", lambda: ops.outer(vec, vec4), lambda: np.outer(vec, vec4)),
    ("gram_trace", lambda: ops.gram_trace(m), lambda: np.trace(m @ m.T)),
    ("twice", lambda: ops.twice(x, y, z), lambda: x @ y @ z @ y @ z),
    ("path_count", lambda: ops.path_count(g, g), lambda: g.astype(int) @ g.astype(int)),
    ("reachable", lambda: ops.reachable(g, g), lambda: (g.astype(int) @ g.astype(int)) > 0),
    ("viterbi_step", lambda: ops.viterbi_step(m2.T, m), lambda: (m2.T[:, :, None] + m[None]).max(axis=1)),
    (
        "forward_step",
        lambda: ops.forward_step(m2.T, m),
        lambda: np.log(np.exp(m2.T[:, :, None] + m[None]).sum(axis=1)),
    ),
    ("tensordot", lambda: ops.tensordot(t, k), lambda: np.tensordot(t, k, axes=1)),
    ("batch_matvec", lambda: ops.batch_matvec(t, v34), lambda: (t * v34 * v34).sum(axis=(1, 2))),
    ("row_sums", lambda: ops.row_sums(m), lambda: m.sum(axis=1, keepdims=True)),
    ("spread", lambda: ops.spread(bi, jk), lambda: (bi @ jk)[None, :, None, :, None]),
    ("squeeze", lambda: ops.squeeze(squeezable), lambda: squeezable[:, 0, :]),
    ("diag_matrix", lambda: ops.diag_matrix(vec), lambda: np.diag(vec)),
    ("interleave", lambda: ops.interleave(bi), lambda: _interleave(bi)),
    ("high_rank_diagonal", lambda: ops.high_rank_diagonal(big), lambda: _high_rank_diagonal(big)),
    ("project", lambda: ops.project(t, w12), lambda: t.reshape(2, 12) @ w12),
    ("unflatten", lambda: ops.unflatten(flat), lambda: flat.reshape(3, 4)),
    ("flatten_t", lambda: ops.flatten_t(t), lambda: t.transpose(0, 2, 1).reshape(2, 12)),
    ("group_mix", lambda: ops.group_mix(bi, jk), lambda: (bi @ jk).reshape(2, 12)),
    ("vjp", lambda: grads.vjp(cot, f, xv), lambda: cot @ jac),
    ("jacobian", lambda: grads.jacobian(f, xv), lambda: jac),
    ("gradient", lambda: grads.gradient(energy, xv), lambda: xv**3),
    ("hessian", lambda: grads.hessian(energy, xv), lambda: np.diag(3 * xv**2)),
    ("hvp", lambda: grads.hvp(energy, xv, tan), lambda: 3 * xv**2 * tan),
    ("jvp", lambda: grads.jvp(f, xv, tan), lambda: jac @ tan),
    ("divergence", lambda: grads.divergence(fs, xv), lambda: np.trace(jac_square)),
    ("batched_grad", lambda: grads.batched_grad(lambda r: tf.reduce_sum(r**2, axis=1), rows), lambda: 2 * rows),
    ("batched_jvp", lambda: grads.batched_jvp(row_f, rows, row_tan), lambda: row_scale * (row_tan @ square.T)),
    ("batched_jacobian", lambda: grads.batched_jacobian(row_f, rows), lambda: row_scale[:, :, None] * square),
    ("linear_jacobian", lambda: grads.linear_jacobian(lin_w, vec4), lambda: lin_w),
    (
        "gauss_newton",
        lambda: grads.gauss_newton(net(net_x), net_w),
        lambda: np.einsum("bip,biq->pq", net_jacobian(net_x), net_jacobian(net_x)),
    ),
    (
        "ggn_vp",
        lambda: grads.ggn_vp(net(net_x), net_w, net_v),  # numpy arrays: made tensors by their checks
        lambda: np.einsum("bip,biq,q->p", net_jacobian(net_x), net_jacobian(net_x), net_v),
    ),
    (
        "ntk",
        lambda: grads.ntk(net(net_x), net(net_x2), net_w),
        lambda: np.einsum("aip,bjp->aibj", net_jacobian(net_x), net_jacobian(net_x2)),
    ),
    ("mixed", lambda: grads.mixed(f, fs, xv), lambda: jac @ jac_square.T),
    ("rows", lambda: grads.rows(centred, rows), lambda: centred_rows),
]

def _interleave(x):
    out = np.zeros((x.shape[1], x.shape[0], x.shape[1], x.shape[0], x.shape[1]), x.dtype)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[j, i, j, i, j] = x[i, j]
    return out


def _high_rank_diagonal(x):
    i, j, k, l = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    out = np.zeros((i, k, j, l), x.dtype)
    for ii in range(i):
        for jj in range(j):
            out[ii, :, jj, :] = x[ii, jj, :, :, jj, ii]
    return out


class _Target:
    """A module of another target, called with numpy inputs as that framework's arrays."""

    def __init__(self, module, to_framework, to_numpy):
        self.module, self.to_framework, self.to_numpy = module, to_framework, to_numpy
        self.__all__ = module.__all__

    def __getattr__(self, name):
        function = getattr(self.module, name)
        return lambda *args: self.to_numpy(function(*map(self.to_framework, args)))


def _other_targets():
    """specs.ein compiled for NumPy, PyTorch and JAX (examples/pyproject.toml), as _Targets."""
    import jax
    import jax.numpy as jnp
    import specs_jax
    import specs_numpy
    import specs_torch
    import torch

    jax.config.update("jax_enable_x64", True)  # as numpy: float64 stays float64
    return [
        ("NumPy", specs_numpy, _Target(specs_numpy, np.asarray, np.asarray)),
        ("PyTorch", specs_torch, _Target(specs_torch, lambda a: torch.as_tensor(np.asarray(a)), lambda t: t.numpy())),
        ("JAX", specs_jax, _Target(specs_jax, lambda a: jnp.asarray(np.asarray(a)), np.asarray)),
    ]


def _same_functions_on_other_targets() -> bool:
    """Every function of specs.ein again, from the NumPy, PyTorch and JAX modules, against the same references."""
    global ops
    tensorflow_ops, all_match = ops, True
    einsums = [case for case in CASES if case[0] in tensorflow_ops.__all__]
    try:
        for framework, module, ops in _other_targets():
            matched = 0
            for name, generated, reference in einsums:
                try:
                    got = np.asarray(generated())
                except Exception as error:  # noqa: BLE001 - reported, and counted as no match
                    print(f"  {framework} {name}: FAILED: {type(error).__name__}: {str(error).splitlines()[0][:80]}")
                    continue
                want = np.asarray(reference())
                matched += got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-4)
            total = len(module.__all__)
            all_match &= matched == total
            print(f"{matched} of {total} functions of {os.path.basename(module.__file__)} ({framework}) match numpy.")
    finally:
        ops = tensorflow_ops
    return all_match


def main() -> int:
    declared = set(ops.__all__) | set(grads.__all__)
    tried = {name for name, _, _ in CASES}
    missing = sorted(declared - tried)
    width = max(map(len, declared))
    matched = 0
    for name, generated, reference in CASES:
        want = np.asarray(reference())
        try:
            got = np.asarray(generated())
        except Exception as error:  # noqa: BLE001 - reported, and counted as no match
            print(f"  {name:<{width}}  {'':<16}  FAILED: {type(error).__name__}: {str(error).splitlines()[0][:80]}")
            continue
        ok = got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-4)
        matched += ok
        print(f"  {name:<{width}}  {str(got.shape):<16}  {'matches numpy' if ok else 'MISMATCH'}")
    for name in missing:
        print(f"  {name:<{width}}  {'':<16}  not called by this demo")
    total = len(declared)
    print(f"\n{matched} of {total} generated functions match numpy.")
    others_match = _same_functions_on_other_targets()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for module, source in ((ops, "specs.ein"), (grads, "derivatives.ein")):
        print(f"Read the generated code in {os.path.relpath(module.__file__, repo)} (compiled from examples/{source}).")
    return 0 if matched == total and others_match else 1


if __name__ == "__main__":
    sys.exit(main())
