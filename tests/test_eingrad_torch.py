"""eingrad on PyTorch: every form of examples/derivatives.ein against numpy, eagerly and under torch.compile."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests import eingrad_cases as C  # noqa: E402
from tests import numpy_ref as R  # noqa: E402
from tests.ein_harness import compile_and_import  # noqa: E402

EXAMPLE = (Path(__file__).resolve().parent.parent / "examples" / "derivatives.ein").read_text()

OPS = types.SimpleNamespace(
    tanh=torch.tanh,
    sin=torch.sin,
    sum=lambda x, axis=None, keepdims=False: x.sum() if axis is None else x.sum(axis, keepdim=keepdims),
    mean0=lambda x: x.mean(0),
    softmax0=lambda s: torch.softmax(s, 0),
    const=lambda name, like: CONSTANTS[name, like.dtype],
)
# Made once: torch.compile fails its own guards on a tensor made from numpy
# inside a torch.func transform (torch 2.13).
CONSTANTS = {
    (name, dtype): torch.tensor(array, dtype=dtype)
    for name, array in C.MATRICES.items()
    for dtype in (torch.float32, torch.float64)
}
FNS = C.functions(OPS)
TOL = {torch.float32: dict(rtol=2e-4, atol=2e-4), torch.float64: dict(rtol=1e-7, atol=1e-7)}


def module(text: str = EXAMPLE):
    return compile_and_import(text, "derivatives.ein", "torch")[0]


def _run(fn, args, mode):
    if mode == "eager":
        return fn(*args)
    # The callables are closed over: the compiled function sees the tensors;
    # fullgraph: no graph breaks (every form traces whole, measured).
    return torch.compile(fn, backend="aot_eager", fullgraph=True, dynamic=True)(*args)


def _assert(out, expected, dtype, what):
    assert isinstance(out, torch.Tensor), what
    assert out.dtype == dtype, (what, out.dtype)
    assert tuple(out.shape) == expected.shape, (what, out.shape, expected.shape)
    np.testing.assert_allclose(out.detach().numpy(), expected, err_msg=what, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(C.FORMS))
def test_forms_eagerly(name, dtype):
    kinds, shapes, reference = C.FORMS[name]
    values = C.inputs(shapes, seed=len(name))
    tensors = [torch.tensor(v, dtype=dtype) for v in values]
    out = getattr(module(), name)(*C.operands(kinds, FNS, tensors))
    _assert(out, reference(*values), dtype, name)


# torch.compile of every form costs ~1-3 s each on the development machine:
# the forms whose transforms differ (reverse, forward, Jacobian, nested).
COMPILED = ["vjp", "jvp", "jacobian", "hessian", "hvp", "batched_jacobian", "divergence"]


@pytest.mark.parametrize("name", COMPILED)
def test_forms_under_torch_compile(name):
    kinds, shapes, reference = C.FORMS[name]
    values = C.inputs(shapes, seed=len(name))
    tensors = [torch.tensor(v) for v in values]
    fn = getattr(module(), name)

    def call(*ts):
        return fn(*C.operands(kinds, FNS, ts))

    _assert(_run(call, tensors, "compiled"), reference(*values), torch.float64, f"{name} compiled")


def test_nested_transforms_under_inductor():
    """The default backend (inductor) compiles a Hessian-vector product: ~4 s, ~15 s on first use."""
    kinds, shapes, reference = C.FORMS["hvp"]
    values = C.inputs(shapes, seed=3)
    fn = module().hvp
    compiled = torch.compile(lambda *ts: fn(*C.operands(kinds, FNS, ts)), fullgraph=True, dynamic=True)
    _assert(compiled(*(torch.tensor(v) for v in values)), reference(*values), torch.float64, "hvp inductor")


@pytest.mark.parametrize("which", sorted(C.DIAGONALS))
def test_shared_letter_is_exact_when_rows_interact(which):
    """Without `independent`, `b` shared across `%` is the diagonal of the full Jacobian."""
    generated = module(C.EXACT_DIAGONALS)
    spec, shapes, kinds = C.DIAGONALS[which]
    values = C.inputs(shapes, seed=len(which) + 7)
    tensors = [torch.tensor(v) for v in values]
    for mixing in (True, False):
        fn = ("mixing_" if mixing else "rows_") + ("scalar" if which == "grad" else "vec")
        fns = {"fn": FNS[fn]}
        expected = R.eingrad(spec, *C.operands(kinds, {"fn": C.REF[fn]}, values))
        prefixes = ("exact",) if mixing else ("exact", "fast")
        for prefix in prefixes:
            out = getattr(generated, f"{prefix}_{which}")(*C.operands(kinds, fns, tensors))
            _assert(out, expected, torch.float64, f"{prefix}_{which} ({fn})")
    # The fast lowering assumes independent rows: with interacting rows it differs.
    fns = {"fn": FNS["mixing_" + ("scalar" if which == "grad" else "vec")]}
    fast = getattr(generated, f"fast_{which}")(*C.operands(kinds, fns, tensors))
    exact = getattr(generated, f"exact_{which}")(*C.operands(kinds, fns, tensors))
    assert not np.allclose(fast.numpy(), exact.numpy())


def test_expressions_left_of_percent():
    generated = module(C.EXPRESSIONS)
    x, w, v = (torch.tensor(a) for a in C.inputs([(4,), (4, 4), (4,)], seed=17))
    xn, wn, vn = x.numpy(), w.numpy(), v.numpy()
    _assert(generated.cube_grad(x), 3 * xn**2, torch.float64, "cube_grad")
    _assert(generated.quadratic_grad(x, w), (wn + wn.T) @ xn, torch.float64, "quadratic_grad")
    _assert(generated.quadratic_hessian(x, w), wn + wn.T, torch.float64, "quadratic_hessian")
    _assert(generated.quadratic_hvp(x, w, v), (wn + wn.T) @ vn, torch.float64, "quadratic_hvp")
    x3, w3 = (torch.tensor(a) for a in C.inputs([(3,), (3, 3, 2)], seed=18))
    expected = R.eingrad("k%j->kj", lambda a: R.einsum("i,ijk,j->k", a, w3.numpy(), a), x3.numpy())
    _assert(generated.bilinear_jacobian(x3, w3), expected, torch.float64, "bilinear_jacobian")
    u, wk, xo = (torch.tensor(a) for a in C.inputs([(3,), (2,), (4,)], seed=19))

    def outer(x):
        return torch.outer(FNS["vec"](x), torch.arange(1.0, 3.0, dtype=x.dtype))

    expected = R.eingrad(
        "i,k,ik%j->j", u.numpy(), wk.numpy(), lambda a: np.outer(C.REF["vec"](a), [1.0, 2.0]), xo.numpy()
    )
    _assert(generated.outer_vjp(u, wk, outer, xo), expected, torch.float64, "outer_vjp")


@pytest.mark.parametrize("name", sorted(C.CONTRACTION_CASES))
def test_jacobians_contracted_with_more_operands(name):
    spec, shapes = C.CONTRACTION_CASES[name]
    values = C.inputs(shapes, seed=len(name) + 30)
    out = getattr(module(C.CONTRACTIONS), name)(FNS["vec"], *(torch.tensor(v) for v in values))
    _assert(out, R.eingrad(spec, C.REF["vec"], *values), torch.float64, name)


def test_jacobian_mode_follows_the_sizes_the_spec_fixes():
    """`where i = 6, j = 2`: fewer entries in x than in the value, so forward mode."""
    generated, result = compile_and_import(C.EXPRESSIONS, "derivatives.ein", "torch")
    assert "_jacobian_forward(y_of_x, x)" in result.source
    x = torch.tensor(C.inputs([(2,)], seed=3)[0])
    w = torch.tensor(C.inputs([(6, 2)], seed=4)[0])
    out = generated.sized_jacobian(lambda x: torch.tanh(w @ x), x)
    expected = R.eingrad("i%j->ij", lambda a: np.tanh(w.numpy() @ a), x.numpy())
    _assert(out, expected, torch.float64, "sized_jacobian")


def test_complex_forms_follow_one_convention():
    """Holomorphic J for complex dtypes: J of z -> c z^2 is diag(2 c z); JVP J v, VJP z^T J."""
    generated = module()
    rng = np.random.default_rng(5)
    z, c, v, u = (torch.tensor(rng.standard_normal(4) + 1j * rng.standard_normal(4)) for _ in range(4))

    def f(x):
        return c * x * x

    jac = np.diag(2 * (c * z).numpy())
    np.testing.assert_allclose(generated.jacobian(f, z).numpy(), jac, rtol=1e-12)
    np.testing.assert_allclose(generated.jvp(f, z, v).numpy(), jac @ v.numpy(), rtol=1e-12)
    np.testing.assert_allclose(generated.vjp(u, f, z).numpy(), u.numpy() @ jac, rtol=1e-12)
    np.testing.assert_allclose(generated.divergence(f, z).numpy(), np.trace(jac), rtol=1e-12)

    # Second order: sum(c z^3) has the gradient 3 c z^2 and the Hessian diag(6 c z).
    def g(x):
        return (c * x**3).sum()

    hessian = np.diag(6 * (c * z).numpy())
    np.testing.assert_allclose(generated.gradient(g, z).numpy(), 3 * (c * z * z).numpy(), rtol=1e-12)
    np.testing.assert_allclose(generated.hessian(g, z).numpy(), hessian, rtol=1e-12)
    np.testing.assert_allclose(generated.hvp(g, z, v).numpy(), hessian @ v.numpy(), rtol=1e-12)
    # Forward mode (jacfwd, chosen by the sizes `where` fixes) follows the same convention.
    sized = module(C.EXPRESSIONS).sized_jacobian
    w = torch.tensor(rng.standard_normal((6, 2)) + 1j * rng.standard_normal((6, 2)))
    z2 = z[:2]
    expected = w.numpy() * np.cos((w @ z2).numpy())[:, None]
    np.testing.assert_allclose(sized(lambda x: torch.sin(w @ x), z2).numpy(), expected, rtol=1e-12)


def test_generated_derivatives_under_vmap():
    """torch.func.vmap over a generated derivative: the checks inside see one entry's shapes."""
    generated = module()
    xs = torch.tensor(C.inputs([(3, 5)], seed=11)[0])
    out = torch.func.vmap(lambda x: generated.gradient(FNS["scalar"], x))(xs)
    expected = np.stack([R.eingrad(",%j->j", C.REF["scalar"], x) for x in xs.numpy()])
    _assert(out, expected, torch.float64, "vmap(gradient)")
    out = torch.func.vmap(lambda x: generated.jacobian(FNS["vec"], x))(xs[:, :4])
    expected = np.stack([R.eingrad("i%j->ij", C.REF["vec"], x) for x in xs[:, :4].numpy()])
    _assert(out, expected, torch.float64, "vmap(jacobian)")


def test_wrong_operands_name_the_function_and_operand():
    generated = module(C.WRONG_OPERANDS)
    x = torch.zeros(4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"vjp: .*'z'"):
        generated.vjp(torch.zeros(5, dtype=torch.float64), FNS["vec"], x)
    with pytest.raises(ValueError, match=r"jvp: .*'v'"):
        generated.jvp(FNS["vec"], x, torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"jvp: .*'x'"):
        generated.jvp(FNS["vec"], torch.zeros(4, 1, dtype=torch.float64), x)
    # The value of the callable is checked, named after the user's names.
    with pytest.raises(ValueError, match=r"batched_jacobian: .*'y\(x\)'"):
        generated.batched_jacobian(lambda x: x.sum(1), torch.zeros(2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"batched_jacobian: .*'b'.*'y\(x\)'"):
        generated.batched_jacobian(lambda x: x[:1], torch.zeros(2, 4, dtype=torch.float64))


def test_gradients_flow_through_the_generated_derivative():
    """torch.autograd differentiates the result (as a user training through it)."""
    generated = module()
    x = torch.tensor(C.inputs([(5,)], seed=9)[0], requires_grad=True)
    g = generated.gradient(FNS["scalar"], x)
    (second,) = torch.autograd.grad(g.sum(), x)
    expected = R.eingrad("j%k->jk", C.scalar_grad, x.detach().numpy()).sum(axis=0)
    np.testing.assert_allclose(second.numpy(), expected, rtol=1e-6, atol=1e-6)
