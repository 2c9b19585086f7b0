"""Two `%` pairs by one Jacobian and the other pair's vectorized JVPs or VJPs: chosen by cost, exact on every target."""

from __future__ import annotations

import types

import numpy as np
import pytest

from tests import numpy_ref as R
from tests import pairs_cases as C
from einigc.compiler import compile_text
from tests.ein_harness import compile_and_import

# name: (declaration, its arguments: "f:OUT<-IN" a dense tanh(M x) function, every output reading every input, or a
# shape; the eingrad operands as argument positions, ("einsum", spec, positions) an einsum of the variable that
# comes last; what the docstring says was chosen)
ORACLE = {
    # One Jacobian of f (6 entries of the value), then g's JVPs along 'ai': two vmaps.
    "ntk_jvps": (
        '(f, g, w) = eingrad("ai%p,bj%p->aibj", f, w, g, w) where a = 2, i = 3',
        ["f:2,3<-7", "f:4,5<-7", "7"],
        [0, 2, 1, 2],
        "then JVPs of g, vectorized, with its slices along 'ai' as the tangents",
    ),
    "mixed_jvps": (
        '(f, g, x) = eingrad("i%j,k%j->ik", f, x, g, x) where i = 3',
        ["f:3<-6", "f:5<-6", "6"],
        [0, 2, 1, 2],
        "then JVPs of g, vectorized, with its slices along 'i' as the tangents",
    ),
    # JᵀJ of two functions: as many passes as both Jacobians, half the entries built.
    "gauss_newton_vjps": (
        '(f, g, w) = eingrad("bi%p,bi%q->pq", f, w, g, w)',
        ["f:3,4<-6", "f:3,4<-6", "6"],
        [0, 2, 1, 2],
        "then VJPs of g, vectorized, with its slices along 'p' as the cotangents",
    ),
    # Two variables; the cotangents are J_f's slices along 'jk': two vmaps.
    "vjps_two_levels": (
        '(f, x, g, y) = eingrad("i%jk,i%l->jkl", f, x, g, y) where j = 2, k = 3',
        ["f:4<-2,3", "2,3", "f:4<-5", "5"],
        [0, 1, 2, 3],
        "then VJPs of g, vectorized, with its slices along 'jk' as the cotangents",
    ),
    # An expression's closed-form Jacobian (no pass), then f's JVPs with its rows: the Jacobian of f never built.
    "expression_built": (
        '(f, a, x) = eingrad("i%j,k%j->ik", f, x, einsum("kj,j->k", a, x), x) where k = 3',
        ["f:3<-4", "3,4", "4"],
        [0, 2, ("einsum", "kj,j->k", [1]), 2],
        "then JVPs of f, vectorized, with its slices along 'k' as the tangents",
    ),
    # Other sizes: the Jacobians cost fewer passes.
    "mixed_jacobians": (
        '(f, g, x) = eingrad("i%j,k%j->ik", f, x, g, x) where j = 4',
        ["f:3<-4", "f:5<-4", "4"],
        [0, 2, 1, 2],
        "each pair's Jacobian (above), then one einsum",
    ),
    "gauss_newton_jacobians": (
        '(f, g, w) = eingrad("bi%p,bi%q->pq", f, w, g, w) where b = 3, i = 4',
        ["f:3,4<-6", "f:3,4<-6", "6"],
        [0, 2, 1, 2],
        "each pair's Jacobian (above), then one einsum",
    ),
    "ntk_jacobians": (
        '(f, g, w) = eingrad("ai%p,bj%p->aibj", f, w, g, w)',
        ["f:2,3<-7", "f:4,5<-7", "7"],
        [0, 2, 1, 2],
        "each pair's Jacobian (above), then one einsum",
    ),
}

# The NTK and J_f J_gᵀ with tanh of linear models whose batch rows interact (tests/pairs_cases.py).
CLOSED = {
    "ntk": ('(f, g, w) = eingrad("ai%p,bj%p->aibj", f, w, g, w) where a = 5, i = 4', "JVPs of g"),
    "mixed": ('(f, g, x) = eingrad("i%j,k%j->ik", f, x, g, x) where i = 3', "JVPs of g"),
}

SPEC = "".join(f"{name}{case[0]}\n" for name, case in ORACLE.items())
SPEC += "".join(f"closed_{name}{case[0]}\n" for name, case in CLOSED.items())
TARGETS = [pytest.param(target, marks=getattr(pytest.mark, target)) for target in ("tensorflow", "torch", "jax")]


def _module(target: str):
    return compile_and_import(SPEC, "strategies.ein", target)[0]


def _framework(target: str):
    """The framework's ops, float64, and the conversion back to numpy."""
    if target == "tensorflow":
        tf = pytest.importorskip("tensorflow")
        ops = dict(const=lambda a: tf.constant(a, tf.float64), tanh=tf.tanh, matvec=tf.linalg.matvec)
        return types.SimpleNamespace(**ops, reshape=tf.reshape, mean0=lambda z: tf.reduce_mean(z, 0)), np.asarray
    if target == "torch":
        torch = pytest.importorskip("torch")
        ops = dict(const=lambda a: torch.tensor(a, dtype=torch.float64), tanh=torch.tanh, matvec=torch.mv)
        return types.SimpleNamespace(**ops, reshape=torch.reshape, mean0=lambda z: z.mean(0)), lambda t: t.numpy()
    jnp = pytest.importorskip("jax.numpy")
    ops = dict(const=lambda a: jnp.asarray(a, jnp.float64), tanh=jnp.tanh, matvec=jnp.matmul)
    return types.SimpleNamespace(**ops, reshape=jnp.reshape, mean0=lambda z: z.mean(0)), np.asarray


def _oracle_arguments(kinds, ns, seed: int):
    rng = np.random.default_rng(seed)
    numpy_args, framework_args = [], []
    for kind in kinds:
        if ":" not in kind:
            array = rng.normal(size=tuple(int(n) for n in kind.split(",")))
            numpy_args.append(array)
            framework_args.append(ns.const(array))
            continue
        out, inp = (tuple(int(n) for n in s.split(",")) for s in kind[2:].split("<-"))
        m = rng.normal(size=(int(np.prod(out)), int(np.prod(inp)))) * 0.5
        numpy_args.append(lambda x, m=m, out=out: np.tanh(m @ np.ravel(x)).reshape(out))
        flat = (-1,)
        framework_args.append(lambda x, m=ns.const(m), out=out: ns.reshape(ns.tanh(ns.matvec(m, ns.reshape(x, flat))), out))
    return numpy_args, framework_args


def _case(name: str, ns):
    """(the generated function's name, its arguments in the framework, the expected value)."""
    if name in ORACLE:
        declaration, kinds, positions, _ = ORACLE[name]
        numpy_args, framework_args = _oracle_arguments(kinds, ns, seed=len(name))
        expected = R.eingrad(declaration.split('"')[1], *(_operand(p, numpy_args) for p in positions))
        return name, framework_args, expected
    return f"closed_{name}", C.arguments(name, C.models(ns), ns.const), C.expected(name)


def _operand(position, numpy_args):
    if isinstance(position, int):
        return numpy_args[position]
    _, spec, fixed = position
    return lambda x: np.einsum(spec, *(numpy_args[k] for k in fixed), x)


def _compiled(target: str, fn, args):
    """`fn` under the target's compiler, taking the tensor arguments only (the callables bound)."""
    tensors = [k for k, a in enumerate(args) if not callable(a)]

    def bound(*given):
        full = list(args)
        for k, t in zip(tensors, given):
            full[k] = t
        return fn(*full)

    if target == "tensorflow":
        import tensorflow as tf

        # Unknown sizes: every dimension None.
        signature = [tf.TensorSpec([None] * len(args[k].shape), tf.float64) for k in tensors]
        return tf.function(bound, input_signature=signature), [args[k] for k in tensors]
    if target == "torch":
        import torch

        return torch.compile(bound, backend="aot_eager", fullgraph=True), [args[k] for k in tensors]
    import jax

    return jax.jit(bound), [args[k] for k in tensors]


def _run(target: str, name: str, mode: str):
    ns, to_numpy = _framework(target)
    precision = _x64(target)
    with precision:
        function, args, expected = _case(name, ns)
        fn = getattr(_module(target), function)
        if mode == "compiled":
            fn, args = _compiled(target, fn, args)
        out = to_numpy(fn(*args))
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-8)


def _x64(target: str):
    import contextlib

    return pytest.importorskip("jax").enable_x64(True) if target == "jax" else contextlib.nullcontext()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(ORACLE) + sorted(CLOSED))
def test_eagerly_against_the_oracle(name, target):
    _run(target, name, "eager")


# Under tf.function (every size unknown), torch.compile and jax.jit: the new strategy's forms, closed and oracle.
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", ["ntk", "mixed", "gauss_newton_vjps", "vjps_two_levels"])
def test_compiled(name, target):
    _run(target, name, "compiled")


@pytest.mark.parametrize("target", TARGETS)
def test_the_docstring_says_which_strategy(target):
    m = _module(target)
    for name, (*_, chosen) in ORACLE.items():
        assert chosen in " ".join(getattr(m, name).__doc__.split()), name
    for name, (_, chosen) in CLOSED.items():
        doc = " ".join(getattr(m, f"closed_{name}").__doc__.split())
        assert chosen in doc and "the Jacobian of g is never built" in doc, doc
    # The counts: 6 + 6 passes (6 + 2 x 6 on tapes, whose JVPs are two reverse passes) against 6 + 64.
    passes = 18 if target == "tensorflow" else 12
    assert f"chosen by cost: {passes} passes against 70 for the Jacobians" in " ".join(m.ntk_jvps.__doc__.split())


def test_torch_and_jax_vectorize_with_vmap():
    torch_source = compile_text(SPEC, "strategies.ein", "torch").source
    body = torch_source.split("def ntk_jvps")[1].split("\ndef ")[0]
    assert "torch.func.vmap(torch.func.vmap(g_jvp))(" in body and body.count("_jacobian(") == 1, body
    jax_source = compile_text(SPEC, "strategies.ein", "jax").source
    body = jax_source.split("def vjps_two_levels")[1].split("\ndef ")[0]
    assert "jax.vmap(jax.vmap(g_vjp))(" in body and body.count("jax.jacrev(") == 1, body


@pytest.mark.parametrize("target", TARGETS)
def test_wrong_operands_name_the_function(target):
    ns, _ = _framework(target)
    m = _module(target)
    with _x64(target):
        _, args, _ = _case("gauss_newton_vjps", ns)
        f, g, w = args
        # g's value must match the cotangents, the slices of J_f.
        wrong = r"gauss_newton_vjps: .*(g\(w\).*the Jacobian of f|the Jacobian of f.*g\(w\))"
        with pytest.raises(ValueError, match=wrong):
            m.gauss_newton_vjps(f, lambda v: ns.reshape(ns.tanh(v[:4]), (1, 4)), w)
        _, args, _ = _case("vjps_two_levels", ns)
        f, x, g, y = args
        with pytest.raises(ValueError, match=r"vjps_two_levels: .*'y'"):
            m.vjps_two_levels(f, x, g, ns.const(np.ones((5, 1))))
        _, args, _ = _case("mixed_jvps", ns)
        f, g, x = args
        with pytest.raises(ValueError, match=r"mixed_jvps: .*f\(x\)"):
            m.mixed_jvps(lambda v: ns.tanh(v[:2]), g, x)


@pytest.mark.torch
def test_torch_chain_is_holomorphic_eagerly_and_evaluates_the_function_once_compiled():
    """Jᵀ(J v) on PyTorch (the runtime's _vjp_of_jvp): eagerly a jvp then a vjp; under torch.compile one
    torch.func.vjp, its pullback differentiated again."""
    torch = pytest.importorskip("torch")
    m = compile_and_import(C.SPEC, "pairs.ein", "torch")[0]
    assert "_vjp_of_jvp(f_of_w, w, v)" in compile_and_import(C.SPEC, "pairs.ein", "torch")[1].source
    calls = []
    rng = np.random.default_rng(3)
    for dtype in (torch.float64, torch.complex128):
        def tensor(*shape):
            imaginary = 1j * rng.normal(size=shape) if dtype.is_complex else 0
            return torch.tensor(rng.normal(size=shape) + imaginary, dtype=dtype)

        a, w, v = tensor(2, 3, 4), tensor(4), tensor(4)

        def f(x, a=a):
            calls.append(1)
            return torch.sin(a @ x)  # holomorphic: J[b, i, p] = cos(a x)[b, i] a[b, i, p]

        out = m.ggn_vp(f, w, v).numpy()
        jacobian = (np.cos(a.numpy() @ w.numpy())[..., None] * a.numpy()).reshape(6, 4)
        np.testing.assert_allclose(out, jacobian.T @ (jacobian @ v.numpy()), rtol=1e-10)
    assert len(calls) == 4  # eagerly twice per call: the jvp, then the vjp
    # Compiled: the double vjp (one evaluation, traced once), real and complex.
    for dtype in (torch.float64, torch.complex128):
        a, w, v = (torch.tensor(rng.normal(size=s), dtype=torch.float64).to(dtype) for s in ((2, 3, 4), (4,), (4,)))
        compiled = torch.compile(lambda w, v, a=a: m.ggn_vp(lambda x: torch.sin(a @ x), w, v), backend="aot_eager")
        jacobian = (np.cos(a.numpy() @ w.numpy())[..., None] * a.numpy()).reshape(6, 4)
        np.testing.assert_allclose(compiled(w, v).numpy(), jacobian.T @ (jacobian @ v.numpy()), rtol=1e-10)
