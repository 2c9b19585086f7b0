"""The per-target benchmark's competitors: the framework's einsum and hand-written code, per case, for numpy, torch and jax.

Every framework gets the same formulations where its arrays share the
spelling (`@`, `.reshape`, `.mT`, `.diagonal`); the diagonal cases and the
keepdims sum differ and are written the way that framework's experts write
them: strided views in numpy and PyTorch, `.at[].set` in JAX. The einsum
column is the whole spec as a user writes it with that einsum (the nearest
formulation for the dialect-only specs, stated in EINSUM_NOTES).
"""

from __future__ import annotations

from typing import Callable

# How the einsum column is formulated where the spec is not plain einsum.
EINSUM_NOTES = {
    "project": "einsum('bm,mk->bk', x.reshape(b, -1), w)",
    "induced": "einsum('ij,jk,il->jikl', x, eye(j), eye(i))",
    "composite": "einsum('abj,jcd->abcd') with I = ab, K = cd",
    "keepdims": "einsum('ij->i', x)[:, None]",
}

# The plain einsum spec of every case (its dialect spec is in bench/cases.py).
PLAIN = {
    "bmm3": "bij,bjk,bkl->bil",
    "bmm3_skewed": "bij,bjk,bkl->bil",
    "chain": "ab,bc,cd,de->ae",
    "bilinear": "bi,ijk,bk->bj",
    "scores": "bqd,bkd->bqk",
    "mix": "bqk,bkd->bqd",
    "diag6": "ijklji->ikjl",
    "small_matmul": "ij,jk->ik",
    "chain6": "ab,bc,cd,de,ef,fg->ag",
}


def einsum_versions(einsum: Callable, eye: Callable) -> dict[str, Callable]:
    """Each case through `einsum` (a framework's, with its path optimizer); `eye(n, like)` is its identity."""
    versions = {name: _whole(einsum, eq) for name, eq in PLAIN.items()}

    def project(x, w):
        return einsum("bm,mk->bk", x.reshape(x.shape[0], -1), w)

    def induced(x):
        i, j = x.shape
        return einsum("ij,jk,il->jikl", x, eye(j, x), eye(i, x))

    versions["project"] = project
    versions["induced"] = induced
    versions["composite"] = _whole(einsum, "abj,jcd->abcd")
    versions["keepdims"] = lambda x: einsum("ij->i", x)[:, None]
    return versions


def _whole(einsum, eq):
    return lambda *operands: einsum(eq, *operands)


def hand_versions(diag6: Callable, induced: Callable, keepdims: Callable) -> dict[str, Callable]:
    """Expert code with the operator `@` (numpy, torch and jax all spell it so) and the framework's own diagonals."""

    def bilinear(x, w, y):
        i, j, k = w.shape
        t = (x @ w.reshape(i, j * k)).reshape(-1, j, k)
        return (t @ y[:, :, None])[:, :, 0]

    def composite(x, y):
        product = x.reshape(-1, x.shape[-1]) @ y.reshape(y.shape[0], -1)
        return product.reshape(tuple(x.shape[:-1]) + tuple(y.shape[1:]))

    return {
        "bmm3": lambda x, y, z: (x @ y) @ z,
        # Same declaration, skewed sizes: the expert knows them and
        # multiplies right to left.
        "bmm3_skewed": lambda x, y, z: x @ (y @ z),
        "chain": lambda a, b, c, d: (a @ (b @ c)) @ d,
        "bilinear": bilinear,
        "project": lambda x, w: x.reshape(x.shape[0], -1) @ w,
        "scores": lambda q, k: q @ k.mT,
        "mix": lambda p, v: p @ v,
        "diag6": diag6,
        "induced": induced,
        "composite": composite,
        "keepdims": keepdims,
        "small_matmul": lambda a, b: a @ b,
        "chain6": lambda a, b, c, d, e, f: ((((a @ b) @ c) @ d) @ e) @ f,
    }


def numpy_versions(np) -> tuple[dict, dict]:
    """(hand, einsum) for numpy: np.einsum(optimize=True) is its einsum."""

    def diag6(x):
        # x[i, j, k, l, j, i] -> out[i, k, j, l]: two diagonal views, one transpose, no copy.
        return x.diagonal(0, 0, 5).diagonal(0, 0, 3).transpose(2, 0, 3, 1)

    def induced(x):
        # out[j, i, j, i] = x[i, j]: zeros, then one fancy-indexed write.
        i, j = x.shape
        out = np.zeros((j, i, j, i), x.dtype)
        jj, ii = np.arange(j)[:, None], np.arange(i)[None, :]
        out[jj, ii, jj, ii] = x.T
        return out

    hand = hand_versions(diag6, induced, lambda x: x.sum(1, keepdims=True))
    einsum = einsum_versions(
        lambda eq, *a: np.einsum(eq, *a, optimize=True), lambda n, like: np.eye(n, dtype=like.dtype)
    )
    return hand, einsum


def torch_versions(torch) -> tuple[dict, dict]:
    """(hand, einsum) for PyTorch: torch.einsum (with opt_einsum's path where it is installed)."""

    def diag6(x):
        return x.diagonal(0, 0, 5).diagonal(0, 0, 3).permute(2, 0, 3, 1)

    def induced(x):
        # out[j, i, j, i] = x[i, j]: zeros, then a copy into the diagonal's view.
        i, j = x.shape
        out = x.new_zeros(j, i, j, i)
        out.diagonal(0, 0, 2).diagonal(0, 0, 1).copy_(x.T)
        return out

    hand = hand_versions(diag6, induced, lambda x: x.sum(1, keepdim=True))
    einsum = einsum_versions(torch.einsum, lambda n, like: torch.eye(n, dtype=like.dtype, device=like.device))
    return hand, einsum


def jax_versions(jnp) -> tuple[dict, dict]:
    """(hand, einsum) for JAX: jnp.einsum (opt_einsum's path, one jitted call even eagerly)."""

    def diag6(x):
        return x.diagonal(0, 0, 5).diagonal(0, 0, 3).transpose(2, 0, 3, 1)

    def induced(x):
        # out[j, i, j, i] = x[i, j]: one scatter into zeros.
        i, j = x.shape
        jj, ii = jnp.arange(j)[:, None], jnp.arange(i)[None, :]
        return jnp.zeros((j, i, j, i), x.dtype).at[jj, ii, jj, ii].set(x.T)

    hand = hand_versions(diag6, induced, lambda x: x.sum(1, keepdims=True))
    einsum = einsum_versions(jnp.einsum, lambda n, like: jnp.eye(n, dtype=like.dtype))
    return hand, einsum
