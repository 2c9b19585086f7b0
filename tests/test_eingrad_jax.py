"""eingrad on JAX: every form of examples/derivatives.ein against numpy, eagerly and under jax.jit.

float64 runs under `jax.enable_x64(True)`, a context manager, so jax's
global config does not leak into other test modules.
"""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

from tests import eingrad_cases as C  # noqa: E402
from tests import numpy_ref as R  # noqa: E402
from tests.ein_harness import compile_and_import  # noqa: E402

EXAMPLE = (Path(__file__).resolve().parent.parent / "examples" / "derivatives.ein").read_text()

OPS = types.SimpleNamespace(
    tanh=jnp.tanh,
    sin=jnp.sin,
    sum=lambda x, axis=None, keepdims=False: jnp.sum(x, axis=axis, keepdims=keepdims),
    mean0=lambda x: jnp.mean(x, axis=0),
    softmax0=lambda s: jax.nn.softmax(s, axis=0),
    const=lambda name, like: jnp.asarray(C.MATRICES[name], dtype=like.dtype),
)
FNS = C.functions(OPS)
TOL = {"float32": dict(rtol=2e-4, atol=2e-4), "float64": dict(rtol=1e-7, atol=1e-7)}
MODES = ["eager", "jit"]


def module(text: str = EXAMPLE):
    return compile_and_import(text, "derivatives.ein", "jax")[0]


def _run(fn, args, mode):
    # The callables are closed over: jax.jit sees the arrays.
    return fn(*args) if mode == "eager" else jax.jit(fn)(*args)


def _assert(out, expected, dtype, what):
    assert isinstance(out, jax.Array), what
    assert out.dtype == np.dtype(dtype), (what, out.dtype)
    assert out.shape == expected.shape, (what, out.shape, expected.shape)
    np.testing.assert_allclose(np.asarray(out), expected, err_msg=what, **TOL[np.dtype(dtype).name])


# Eagerly, jax runs a transform op by op (each op compiled once per shape):
# slower than one jax.jit, on the 2-core machine up to 7 s for an exact
# diagonal. Every form runs both ways; the larger cases under jax.jit only.
FORM_CASES = [(dtype, mode) for dtype in ("float32", "float64") for mode in MODES if (dtype, mode) != ("float32", "eager")]


@pytest.mark.parametrize("dtype,mode", FORM_CASES)
@pytest.mark.parametrize("name", sorted(C.FORMS))
def test_forms(name, dtype, mode):
    kinds, shapes, reference = C.FORMS[name]
    values = C.inputs(shapes, seed=len(name))
    fn = getattr(module(), name)
    with jax.enable_x64(dtype == "float64"):
        arrays = [jnp.asarray(v, dtype=dtype) for v in values]
        out = _run(lambda *a: fn(*C.operands(kinds, FNS, a)), arrays, mode)
        _assert(out, reference(*values), dtype, f"{name} {mode}")


@pytest.mark.parametrize("mode", ["jit"])
@pytest.mark.parametrize("which", sorted(C.DIAGONALS))
def test_shared_letter_is_exact_when_rows_interact(which, mode):
    """Without `independent`, `b` shared across `%` is the diagonal of the full Jacobian."""
    generated = module(C.EXACT_DIAGONALS)
    spec, shapes, kinds = C.DIAGONALS[which]
    values = C.inputs(shapes, seed=len(which) + 7)
    kind = "scalar" if which == "grad" else "vec"
    with jax.enable_x64(True):
        arrays = [jnp.asarray(v) for v in values]

        def call(prefix, fn):
            f = getattr(generated, f"{prefix}_{which}")
            return _run(lambda *a: f(*C.operands(kinds, {"fn": FNS[fn]}, a)), arrays, mode)

        for fn, prefixes in ((f"mixing_{kind}", ("exact",)), (f"rows_{kind}", ("exact", "fast"))):
            expected = R.eingrad(spec, *C.operands(kinds, {"fn": C.REF[fn]}, values))
            for prefix in prefixes:
                _assert(call(prefix, fn), expected, "float64", f"{prefix}_{which} ({fn}) {mode}")
        # The fast lowering assumes independent rows: with interacting rows it differs.
        assert not np.allclose(call("fast", f"mixing_{kind}"), call("exact", f"mixing_{kind}"))


@pytest.mark.parametrize("mode", ["jit"])
def test_expressions_left_of_percent(mode):
    generated = module(C.EXPRESSIONS)
    with jax.enable_x64(True):
        x, w, v = (jnp.asarray(a) for a in C.inputs([(4,), (4, 4), (4,)], seed=17))
        xn, wn, vn = (np.asarray(a) for a in (x, w, v))
        _assert(_run(generated.cube_grad, [x], mode), 3 * xn**2, "float64", "cube_grad")
        _assert(_run(generated.quadratic_grad, [x, w], mode), (wn + wn.T) @ xn, "float64", "quadratic_grad")
        _assert(_run(generated.quadratic_hessian, [x, w], mode), wn + wn.T, "float64", "quadratic_hessian")
        _assert(_run(generated.quadratic_hvp, [x, w, v], mode), (wn + wn.T) @ vn, "float64", "quadratic_hvp")
        x3, w3 = (jnp.asarray(a) for a in C.inputs([(3,), (3, 3, 2)], seed=18))
        expected = R.eingrad("k%j->kj", lambda a: R.einsum("i,ijk,j->k", a, np.asarray(w3), a), np.asarray(x3))
        _assert(_run(generated.bilinear_jacobian, [x3, w3], mode), expected, "float64", "bilinear_jacobian")
        u, wk, xo = (jnp.asarray(a) for a in C.inputs([(3,), (2,), (4,)], seed=19))

        def outer(x):
            return jnp.outer(FNS["vec"](x), jnp.arange(1.0, 3.0, dtype=x.dtype))

        expected = R.eingrad(
            "i,k,ik%j->j", *(np.asarray(a) for a in (u, wk)), lambda a: np.outer(C.REF["vec"](a), [1.0, 2.0]), np.asarray(xo)
        )
        out = _run(lambda u, wk, xo: generated.outer_vjp(u, wk, outer, xo), [u, wk, xo], mode)
        _assert(out, expected, "float64", "outer_vjp")


@pytest.mark.parametrize("name", sorted(C.CONTRACTION_CASES))
def test_jacobians_contracted_with_more_operands(name):
    spec, shapes = C.CONTRACTION_CASES[name]
    values = C.inputs(shapes, seed=len(name) + 30)
    fn = getattr(module(C.CONTRACTIONS), name)
    with jax.enable_x64(True):
        out = _run(lambda *a: fn(FNS["vec"], *a), [jnp.asarray(v) for v in values], "jit")
        _assert(out, R.eingrad(spec, C.REF["vec"], *values), "float64", name)


def test_jacobian_mode_follows_the_sizes_the_spec_fixes():
    """`where i = 6, j = 2`: fewer entries in x than in the value, so forward mode (jacfwd)."""
    generated, result = compile_and_import(C.EXPRESSIONS, "derivatives.ein", "jax")
    assert "jax.jacfwd(y_of_x, holomorphic=jnp.iscomplexobj(x))(x)" in result.source
    with jax.enable_x64(True):
        x = jnp.asarray(C.inputs([(2,)], seed=3)[0])
        w = jnp.asarray(C.inputs([(6, 2)], seed=4)[0])
        out = generated.sized_jacobian(lambda x: jnp.tanh(w @ x), x)
        expected = R.eingrad("i%j->ij", lambda a: np.tanh(np.asarray(w) @ a), np.asarray(x))
        _assert(out, expected, "float64", "sized_jacobian")


@pytest.mark.parametrize("mode", MODES)
def test_complex_forms_follow_one_convention(mode):
    """Holomorphic J for complex dtypes: J of z -> c z^2 is diag(2 c z); JVP J v, VJP z^T J."""
    generated = module()
    rng = np.random.default_rng(5)
    z, c, v, u = (rng.standard_normal(4) + 1j * rng.standard_normal(4) for _ in range(4))
    with jax.enable_x64(True):

        def f(x):
            return jnp.asarray(c) * x * x

        jac = np.diag(2 * c * z)
        za, va, ua = jnp.asarray(z), jnp.asarray(v), jnp.asarray(u)
        check = lambda out, want: np.testing.assert_allclose(np.asarray(out), want, rtol=1e-12)  # noqa: E731
        check(_run(lambda z: generated.jacobian(f, z), [za], mode), jac)
        check(_run(lambda z, v: generated.jvp(f, z, v), [za, va], mode), jac @ v)
        check(_run(lambda u, z: generated.vjp(u, f, z), [ua, za], mode), u @ jac)
        check(_run(lambda z: generated.divergence(f, z), [za], mode), np.trace(jac))

        # Second order: sum(c z^3) has the gradient 3 c z^2 and the Hessian diag(6 c z).
        def g(x):
            return jnp.sum(jnp.asarray(c) * x**3)

        hessian = np.diag(6 * c * z)
        check(_run(lambda z: generated.gradient(g, z), [za], mode), 3 * c * z * z)
        check(_run(lambda z: generated.hessian(g, z), [za], mode), hessian)
        check(_run(lambda z, v: generated.hvp(g, z, v), [za, va], mode), hessian @ v)
        # Forward mode (jacfwd, chosen by the sizes `where` fixes) follows the same convention.
        sized = module(C.EXPRESSIONS).sized_jacobian
        w = rng.standard_normal((6, 2)) + 1j * rng.standard_normal((6, 2))
        expected = w * np.cos(w @ z[:2])[:, None]
        check(_run(lambda z: sized(lambda x: jnp.sin(jnp.asarray(w) @ x), z), [za[:2]], mode), expected)


def test_generated_derivatives_under_vmap():
    """jax.vmap over a generated derivative: the checks inside see one entry's shapes."""
    generated = module()
    with jax.enable_x64(True):
        xs = jnp.asarray(C.inputs([(3, 5)], seed=11)[0])
        out = jax.jit(jax.vmap(lambda x: generated.gradient(FNS["scalar"], x)))(xs)
        expected = np.stack([R.eingrad(",%j->j", C.REF["scalar"], x) for x in np.asarray(xs)])
        _assert(out, expected, "float64", "vmap(gradient)")
        out = jax.jit(jax.vmap(lambda x: generated.jacobian(FNS["vec"], x)))(xs[:, :4])
        expected = np.stack([R.eingrad("i%j->ij", C.REF["vec"], x) for x in np.asarray(xs[:, :4])])
        _assert(out, expected, "float64", "vmap(jacobian)")


@pytest.mark.parametrize("mode", MODES)
def test_wrong_operands_name_the_function_and_operand(mode):
    generated = module(C.WRONG_OPERANDS)
    x = jnp.zeros(4)
    with pytest.raises(ValueError, match=r"vjp: .*'z'"):
        _run(lambda z, x: generated.vjp(z, FNS["vec"], x), [jnp.zeros(5), x], mode)
    with pytest.raises(ValueError, match=r"jvp: .*'v'"):
        _run(lambda x, v: generated.jvp(FNS["vec"], x, v), [x, jnp.zeros(3)], mode)
    with pytest.raises(ValueError, match=r"jvp: .*'x'"):
        _run(lambda x, v: generated.jvp(FNS["vec"], x, v), [jnp.zeros((4, 1)), x], mode)
    # The value of the callable is checked, named after the user's names.
    with pytest.raises(ValueError, match=r"batched_jacobian: .*'y\(x\)'"):
        _run(lambda x: generated.batched_jacobian(lambda x: x.sum(1), x), [jnp.zeros((2, 4))], mode)
    with pytest.raises(ValueError, match=r"batched_jacobian: .*'b'.*'y\(x\)'"):
        _run(lambda x: generated.batched_jacobian(lambda x: x[:1], x), [jnp.zeros((2, 4))], mode)


def test_jax_grad_through_the_generated_derivative():
    """jax.grad differentiates the result (as a user training through it)."""
    generated = module()
    with jax.enable_x64(True):
        x = jnp.asarray(C.inputs([(5,)], seed=9)[0])
        second = jax.grad(lambda x: jnp.sum(generated.gradient(FNS["scalar"], x)))(x)
        expected = R.eingrad("j%k->jk", C.scalar_grad, np.asarray(x)).sum(axis=0)
        np.testing.assert_allclose(np.asarray(second), expected, rtol=1e-6, atol=1e-6)
