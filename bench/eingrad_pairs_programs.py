"""The functions of interest of bench/eingrad_pairs.py and the programs an expert writes by hand for each form, per framework.

Every form's hand-written program takes the generated function's arguments in
the same order (callables first where the generated one takes them), so that
the bench binds both the same way. The functions of interest:

  f(w) = tanh(X W - mean_b(X W)), g(w) the same with another batch X2: their
         rows interact through the batch mean, so no per-row shortcut is exact;
  fa(x) = tanh(A x), fb(x) = tanh(B x) * sum(x): two functions of one vector (A i x j, B k x j);
  row(x)[b] = sum_j tanh(x[b, j]) * sum_j x[b, j]: entries of a row interact,
         rows do not (rows_independent may say so).
"""

from __future__ import annotations

import types

import numpy as np

# Each form: the operands of its generated function, "F:name" for a callable.
SIGNATURES = {
    "gauss_newton": ("F:f", "w"),
    "ggn_vp": ("F:f", "w", "v"),
    "ntk": ("F:f", "F:g", "w"),
    "mixed": ("F:fa", "F:fb", "x"),
    "rows": ("F:row", "xr"),
    "rows_independent": ("F:row", "xr"),
}

# What each hand-written program is, for the report's header.
HAND_WRITTEN = {
    "tensorflow": {
        "gauss_newton": "`tape.jacobian` (pfor), then `tf.einsum('bip,biq->pq')`",
        "ggn_vp": "a `ForwardAccumulator` inside a `GradientTape`: J v, then `tape.gradient(y, w, output_gradients=jv)`",
        "ntk": "`tape.jacobian` of f and of g (one persistent tape), then `tf.einsum('aip,bjp->aibj')`",
        "mixed": "`tape.jacobian` of fa and of fb, then `tf.matmul(..., transpose_b=True)`",
        "rows": "`tape.jacobian` (b x b x j), then its diagonal `tf.einsum('bbj->bj')`: exact whatever f",
        "rows_independent": "`tape.batch_jacobian` (exact only because rows do not interact; "
        "eagerly, pfor's tracing on every call dominates)",
    },
    "torch": {
        "gauss_newton": "`torch.func.jacrev`, then `torch.einsum('bip,biq->pq')`",
        "ggn_vp": "`torch.func.jvp` for J v, then `torch.func.vjp`'s pullback of it",
        "ntk": "`jacrev` of f and of g, then `torch.einsum('aip,bjp->aibj')`",
        "mixed": "`jacrev` of fa and of fb, then `ja @ jb.T`",
        "rows": "`jacrev` (b x b x j), then its diagonal `torch.einsum('bbj->bj')`: exact whatever f",
        "rows_independent": "`vmap(grad(row))` over the rows (exact only because rows do not interact)",
    },
    "jax": {
        "gauss_newton": "`jax.jacrev`, then `jnp.einsum('bip,biq->pq')`",
        "ggn_vp": "`jax.jvp` for J v, then `jax.vjp`'s pullback of it",
        "ntk": "`jacrev` of f and of g, then `jnp.einsum('aip,bjp->aibj')`",
        "mixed": "`jacrev` of fa and of fb, then `ja @ jb.T`",
        "rows": "`jacrev` (b x b x j), then its diagonal `jnp.einsum('bbj->bj')`: exact whatever f",
        "rows_independent": "`vmap(grad(row))` over the rows (exact only because rows do not interact)",
    },
}


def arrays(sizes: dict, seed: int = 15) -> dict:
    """The float32 numpy arrays of the cases: the models' constants and the arguments."""
    rng = np.random.default_rng(seed)
    b, b2, n, k = sizes["b"], sizes["b2"], sizes["features"], sizes["units"]
    i, j = sizes["i"], sizes["j"]
    normal = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    return {
        "X": normal(b, n),
        "X2": normal(b2, n),
        "A": normal(i, j) / np.float32(np.sqrt(j)),
        "B": normal(sizes["k"], j) / np.float32(np.sqrt(j)),
        "w": normal(n * k) * np.float32(0.2),
        "v": normal(n * k),
        "x": normal(j),
        "xr": normal(sizes["rows"], sizes["row_length"]) * np.float32(0.3),
    }


def models(ns, consts: dict, sizes: dict) -> dict:
    """The functions of interest in a framework's ops; `ns` has tanh, mean0, reshape, matvec, sum_last, consts in it."""
    x, x2, a, b = consts["X"], consts["X2"], consts["A"], consts["B"]
    shape = (sizes["features"], sizes["units"])

    def linear(inputs):
        def model(w):
            z = inputs @ ns.reshape(w, shape)
            return ns.tanh(z - ns.mean0(z))

        return model

    return {
        "f": linear(x),
        "g": linear(x2),
        "fa": lambda v: ns.tanh(ns.matvec(a, v)),
        "fb": lambda v: ns.tanh(ns.matvec(b, v)) * ns.sum_last(v),
        "row": lambda r: ns.sum_last(ns.tanh(r)) * ns.sum_last(r),
    }


def tensorflow_programs():
    """(ops namespace, hand-written programs) in TensorFlow."""
    import tensorflow as tf

    ns = types.SimpleNamespace(
        tanh=tf.tanh,
        mean0=lambda z: tf.reduce_mean(z, 0),
        reshape=tf.reshape,
        matvec=tf.linalg.matvec,
        sum_last=lambda t: tf.reduce_sum(t, -1),
    )

    def jacobians(functions, variable):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(variable)
            values = [fn(variable) for fn in functions]
        return [tape.jacobian(value, variable) for value in values]

    def ggn_vp(f, w, v):
        # J v by forward mode, then Jᵀ(J v) by one reverse pass of the same recording.
        with tf.GradientTape() as tape:
            tape.watch(w)
            with tf.autodiff.ForwardAccumulator(w, v) as acc:
                y = f(w)
            jv = acc.jvp(y)
        return tape.gradient(y, w, output_gradients=jv)

    def gauss_newton(f, w):
        (jacobian,) = jacobians([f], w)
        return tf.einsum("bip,biq->pq", jacobian, jacobian)

    def ntk(f, g, w):
        jf, jg = jacobians([f, g], w)
        return tf.einsum("aip,bjp->aibj", jf, jg)

    def mixed(fa, fb, x):
        ja, jb = jacobians([fa, fb], x)
        return tf.matmul(ja, jb, transpose_b=True)

    def rows(row, x):
        (jacobian,) = jacobians([row], x)
        return tf.einsum("bbj->bj", jacobian)

    def rows_independent(row, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = row(x)[:, None]
        return tape.batch_jacobian(y, x)[:, 0]

    return ns, dict(
        gauss_newton=gauss_newton, ggn_vp=ggn_vp, ntk=ntk, mixed=mixed, rows=rows, rows_independent=rows_independent
    )


def torch_programs():
    """(ops namespace, hand-written programs) with torch.func."""
    import torch
    from torch import func

    ns = types.SimpleNamespace(
        tanh=torch.tanh,
        mean0=lambda z: z.mean(0),
        reshape=torch.reshape,
        matvec=torch.mv,
        sum_last=lambda t: t.sum(-1),
    )
    return ns, _functional_programs(func, torch)


def jax_programs():
    """(ops namespace, hand-written programs) with jax's transforms."""
    import jax
    import jax.numpy as jnp

    ns = types.SimpleNamespace(
        tanh=jnp.tanh,
        mean0=lambda z: z.mean(0),
        reshape=jnp.reshape,
        matvec=jnp.matmul,
        sum_last=lambda t: t.sum(-1),
    )
    return ns, _functional_programs(jax, jnp)


def _functional_programs(ad, xp) -> dict:
    """The expert's programs with torch.func or jax: both name jacrev, jvp, vjp, grad, vmap alike."""

    def ggn_vp(f, w, v):
        jv = ad.jvp(f, (w,), (v,))[1]
        return ad.vjp(f, w)[1](jv)[0]

    def gauss_newton(f, w):
        jacobian = ad.jacrev(f)(w)
        return xp.einsum("bip,biq->pq", jacobian, jacobian)

    def ntk(f, g, w):
        return xp.einsum("aip,bjp->aibj", ad.jacrev(f)(w), ad.jacrev(g)(w))

    def mixed(fa, fb, x):
        return ad.jacrev(fa)(x) @ ad.jacrev(fb)(x).T

    def rows(row, x):
        return xp.einsum("bbj->bj", ad.jacrev(row)(x))

    def rows_independent(row, x):
        return ad.vmap(ad.grad(lambda r: row(r[None])[0]))(x)

    return dict(
        gauss_newton=gauss_newton, ggn_vp=ggn_vp, ntk=ntk, mixed=mixed, rows=rows, rows_independent=rows_independent
    )


PROGRAMS = {"tensorflow": tensorflow_programs, "torch": torch_programs, "jax": jax_programs}
