"""einmax, einmin, einlogsumexp on the PyTorch target: the dialect against the numpy reference (eagerly, and under
torch.compile with dynamic shapes on corners), infinities, the matrix product's range, dtypes, autograd, blocks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import numpy_ref as R
from tests.ein_harness import compile_module
from tests.ein_strategies import dialect_cases
from tests.property_cases import arrays
from tests.semiring_cases import CORNERS, FUNCS, SETTINGS, check, chosen_onehot, expected, softmax_weights, text
from tests.semiring_cases import with_corners

torch = pytest.importorskip("torch")

TEXT = 'f(a, b) = einmax("ij,jk->ik", a, b)\ng(a, b) = einmin("ij,jk->ik", a, b)\nh(a, b) = einlogsumexp("ij,jk->ik", a, b)\n'
BY_FUNC = {"einmax": "f", "einmin": "g", "einlogsumexp": "h"}


def _tensors(values):
    return [torch.as_tensor(value) for value in values]


@SETTINGS
@with_corners
@given(dialect_cases(), st.sampled_from(FUNCS))
def test_equals_reference_eagerly(case, func):
    module = compile_module(text(case, func), target="torch")
    values = arrays(case)
    check(module.f(*_tensors(values)), expected(case, values, func), case, func)


# A pair, a chain, an induced diagonal, `...`, a group, a reduction only:
# each with its first shapes, then other sizes of the same ranks.
COMPILED = [(CORNERS[k], func) for k in (0, 1, 6, 8, 11, 3) for func in FUNCS]


@pytest.mark.parametrize("case, func", COMPILED, ids=[f"{c.spec}-{f}" for c, f in COMPILED])
def test_equals_reference_under_torch_compile_with_dynamic_shapes(case, func):
    module = compile_module(text(case, func), target="torch")
    torch._dynamo.reset()
    compiled = torch.compile(module.f, fullgraph=True, dynamic=True, backend="eager")
    values = arrays(case)
    check(compiled(*_tensors(values)), expected(case, values, func), case, func)
    if case.exact:
        return  # a group's sizes are fixed
    grown = [np.random.default_rng(1).standard_normal([n + 1 for n in value.shape]) for value in values]
    if case.spec.startswith("...j,"):
        grown[1] = np.random.default_rng(2).standard_normal((values[0].shape[-1] + 1, 5))
    check(compiled(*_tensors(grown)), R.evaluate(case.spec, *grown, func=func), case, func)


def test_zero_size_contraction_gives_the_semirings_zero():
    module = compile_module(TEXT, target="torch")
    for func, zero in (("einmax", -np.inf), ("einmin", np.inf), ("einlogsumexp", -np.inf)):
        result = getattr(module, BY_FUNC[func])(torch.zeros(2, 0), torch.zeros(0, 3)).numpy()
        assert result.shape == (2, 3) and (result == zero).all(), (func, result)
    reduced = compile_module('f(x) = einmax("ij->i", x)\n', target="torch").f(torch.zeros(3, 0))
    assert reduced.shape == (3,) and (reduced == -np.inf).all()


def test_infinities():
    module = compile_module(TEXT, target="torch")
    a = torch.tensor([[-np.inf, -np.inf], [0.0, 1.0]], dtype=torch.float64)
    b = torch.tensor([[0.0, -np.inf], [2.0, -np.inf]], dtype=torch.float64)
    want = np.array([[-np.inf, -np.inf], [np.logaddexp(0.0, 3.0), -np.inf]])
    np.testing.assert_allclose(module.h(a, b).numpy(), want)  # -inf, not NaN
    a = np.array([[-np.inf, 1.0], [-np.inf, -np.inf]])
    b = np.array([[2.0, np.inf], [3.0, 0.0]])
    with np.errstate(invalid="ignore"):  # -inf + inf is NaN, in both
        for func, reduce in (("einmax", np.max), ("einmin", np.min)):
            got = getattr(module, BY_FUNC[func])(*_tensors([a, b])).numpy()
            np.testing.assert_array_equal(got, reduce(a[:, :, None] + b[None], axis=1))


@pytest.mark.parametrize("spread", [1.0, 300.0])  # within the matrix product's range, and beyond it
def test_logsumexp_is_exact_where_a_linear_space_einsum_overflows(spread):
    module = compile_module(TEXT, target="torch")
    gen = np.random.default_rng(1)
    a = (gen.standard_normal((8, 16)) * spread + 500).astype(np.float32)
    b = (gen.standard_normal((16, 4)) * spread - 200).astype(np.float32)
    want = R.evaluate("ij,jk->ik", a.astype(np.float64), b.astype(np.float64), func="einlogsumexp")
    np.testing.assert_allclose(module.h(*_tensors([a, b])).numpy(), want, rtol=2e-7)
    f = compile_module('f(a, b) = einlogsumexp("...jk,jkl->...l", a, b)\n', target="torch").f
    a, b = gen.standard_normal((2, 3, 4, 2)) * spread, gen.standard_normal((4, 2, 5)) * spread
    want = R.evaluate("...jk,jkl->...l", a, b, func="einlogsumexp")
    np.testing.assert_allclose(f(*_tensors([a, b])).numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("dtype", [torch.int32, torch.bool])
def test_integers_and_booleans_are_refused_naming_the_function(func, dtype):
    module = compile_module(f'paths(a, b) = {func}("ij,jk->ik", a, b)\n', target="torch")
    value = torch.ones(2, 2, dtype=dtype)
    name = str(dtype).rpartition(".")[2]
    with pytest.raises(TypeError, match=rf"^paths: {func} needs floating operands; operand 'a' is {name}$"):
        module.paths(value, value)


def test_float16_and_bfloat16_run():
    module = compile_module(TEXT, target="torch")
    for dtype in (torch.float16, torch.bfloat16):
        a = torch.ones(2, 3, dtype=dtype)
        assert module.h(a, a.mT).dtype == dtype
        np.testing.assert_allclose(module.f(a, a.mT).float().numpy(), 2.0)
        np.testing.assert_allclose(module.h(a, a.mT).float().numpy(), 2 + np.log(3), rtol=1e-2)  # log(3 e**2)


def _gradients(function, a, b, w):
    a, b = (torch.tensor(x, requires_grad=True) for x in (a, b))
    (function(a, b) * torch.as_tensor(w)).sum().backward()
    return a.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_gradients(compiled):
    module = compile_module(TEXT, target="torch")
    gen = np.random.default_rng(3)
    a, b, w = gen.standard_normal((3, 5)), gen.standard_normal((5, 4)), gen.standard_normal((3, 4))
    torch._dynamo.reset()
    wrap = (lambda f: torch.compile(f, fullgraph=True, dynamic=True, backend="eager")) if compiled else (lambda f: f)
    for name, weights in (
        ("h", softmax_weights(a, b)),
        ("f", chosen_onehot(a, b, np.argmax)),
        ("g", chosen_onehot(a, b, np.argmin)),
    ):
        grad_a, grad_b = _gradients(wrap(getattr(module, name)), a, b, w)
        np.testing.assert_allclose(grad_a, np.einsum("ijk,ik->ij", weights, w), rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(grad_b, np.einsum("ijk,ik->jk", weights, w), rtol=1e-10, err_msg=name)


def test_gradcheck_through_a_chain_and_the_blocked_recompute():
    chain = compile_module('f(a, b, c) = einlogsumexp("ij,jk,kl->il", a, b, c)\n', target="torch").f
    gen = np.random.default_rng(4)
    inputs = [torch.tensor(gen.standard_normal(s), requires_grad=True) for s in ((2, 3), (3, 4), (4, 2))]
    assert torch.autograd.gradcheck(chain, inputs)
    # Spread beyond the product's range: entries are recomputed in blocks.
    h = compile_module(TEXT, target="torch").h
    a = torch.tensor(gen.standard_normal((3, 4)) * 400, requires_grad=True)
    b = torch.tensor(gen.standard_normal((4, 2)) * 400, requires_grad=True)
    assert torch.autograd.gradcheck(h, [a, b])


def test_small_blocks_give_the_same_result():
    module = compile_module(TEXT, target="torch")
    gen = np.random.default_rng(5)
    a, b = gen.standard_normal((4, 7)), gen.standard_normal((7, 3))
    total = a[:, :, None] + b[None]
    ta, tb = _tensors([a, b])
    for block in (1, 5, 12, 13, 10**9):  # 1 to 3 entries of j per block, and all
        for kind, reduce in (("max", np.max), ("min", np.min)):
            result = module._semiring_pair(kind, "ij,jk->ik", ta, tb, block)
            np.testing.assert_array_equal(result.numpy(), reduce(total, 1))
        blocks = module._semiring_blocks("logsumexp", ta[:, None, :], tb.mT[None], 1, block)
        np.testing.assert_allclose(blocks.numpy(), np.log(np.exp(total).sum(1)), rtol=1e-12)
