"""The PyTorch target: examples/specs.ein and random specs of the whole dialect against the numpy reference.

Every function eagerly in each dtype and under torch.compile (fullgraph,
dynamic shapes), its gradients by torch.autograd.gradcheck, and the errors
for wrong operands, which name the function.
"""

from __future__ import annotations

import os
import zlib

import numpy as np
import pytest
from hypothesis import example, given, settings

from tests import matmul_cases
from tests.ein_harness import compile_and_import, compile_module
from tests.ein_strategies import dialect_cases, numpy_style_cases
from tests.example_cases import BOOLEAN, NUMERIC, REFERENCE, SEMIRING, SHAPES, SPECS
from tests.property_cases import CORNERS, DIALECT_CORNERS, arrays, expected

torch = pytest.importorskip("torch")

EXAMPLES = int(os.environ.get("EINIG_PROPERTY_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.int32]
EPS = {
    torch.float16: 2.0**-11,
    torch.bfloat16: 2.0**-8,
    torch.float32: 2.0**-24,
    torch.float64: 2.0**-53,
    torch.complex64: 2.0**-24,
    torch.int32: 0.0,
}
ULPS = 64


@pytest.fixture(scope="module")
def specs():
    return compile_module(SPECS.read_text(encoding="utf-8"), "specs.ein", "torch")


def make_inputs(shapes, dtype, seed):
    """Tensors of `dtype`, and their values in float64/complex128/int64 numpy arrays for the reference."""
    gen = np.random.default_rng(seed)
    inputs, values = [], []
    for shape in shapes:
        if dtype == torch.bool:
            x = gen.random(shape) < 0.4
        elif not dtype.is_floating_point and not dtype.is_complex:
            x = gen.integers(-3, 4, size=shape)
        elif dtype.is_complex:
            x = gen.standard_normal(shape) + 1j * gen.standard_normal(shape)
        else:
            x = gen.standard_normal(shape)
        tensor = torch.as_tensor(x).to(dtype)
        inputs.append(tensor)
        # The reference sees the values as rounded to `dtype`.
        if dtype == torch.bool:
            values.append(tensor.numpy())
        elif dtype.is_complex:
            values.append(tensor.to(torch.complex128).numpy())
        elif dtype.is_floating_point:
            values.append(tensor.to(torch.float64).numpy())
        else:
            values.append(tensor.to(torch.int64).numpy())
    return inputs, values


def assert_matches(name, result, values, dtype):
    reference = REFERENCE[name]
    want = reference(*values)
    assert isinstance(result, torch.Tensor), type(result)
    assert tuple(result.shape) == want.shape, (name, tuple(result.shape), want.shape)
    if name in BOOLEAN:
        assert result.dtype == (torch.bool if name == "reachable" else torch.int64), result.dtype
        np.testing.assert_array_equal(result.numpy(), want)
        return
    assert result.dtype == dtype, (name, result.dtype, dtype)
    if not dtype.is_floating_point and not dtype.is_complex:
        np.testing.assert_array_equal(result.numpy(), want)
        return
    scale = np.abs(reference(*[np.abs(v) for v in values]))
    bound = ULPS * EPS[dtype] * scale + 1e-300
    wide = torch.complex128 if dtype.is_complex else torch.float64
    error = np.abs(result.detach().to(wide).numpy() - want)
    assert not error.size or np.max(error - bound) <= 0, f"{name} {dtype}: error {np.max(error)}"


def test_the_module_imports_only_torch(specs):
    _, result = compile_and_import(SPECS.read_text(encoding="utf-8"), "specs.ein", "torch")
    assert "import torch\n" in result.source
    imports = [line for line in result.source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["import math", "import torch"], imports
    assert "# Target: torch." in result.source
    assert sorted(specs.__all__) == sorted(REFERENCE)


CASES = [(name, dtype, k) for name in NUMERIC for dtype in DTYPES for k in range(len(SHAPES[name]))]


@pytest.mark.parametrize("name, dtype, k", CASES, ids=[f"{n}-{str(d)[6:]}-{k}" for n, d, k in CASES])
def test_example_functions_match_the_reference(specs, name, dtype, k):
    inputs, values = make_inputs(SHAPES[name][k], dtype, zlib.crc32(f"{name}{k}".encode()))
    assert_matches(name, getattr(specs, name)(*inputs), values, dtype)


# einmax and einlogsumexp (Viterbi, HMM forward): floating dtypes only, and
# gradients of the reference's max or log-sum-exp (no ties in random values).
# The rest of the semirings: tests/test_semirings_torch.py.
@pytest.mark.parametrize("name", sorted(SEMIRING))
def test_semiring_functions_match_the_reference_and_gradcheck(specs, name):
    for dtype in (torch.float32, torch.float64):
        for k, shapes in enumerate(SHAPES[name]):
            inputs, values = make_inputs(shapes, dtype, zlib.crc32(f"{name}{k}".encode()))
            assert_matches(name, getattr(specs, name)(*inputs), values, dtype)
    inputs, _ = make_inputs(SHAPES[name][0], torch.float64, 3)
    assert torch.autograd.gradcheck(getattr(specs, name), [x.requires_grad_() for x in inputs])


@pytest.mark.parametrize("name", sorted(BOOLEAN))
def test_boolean_functions_match_and_reject_other_dtypes(specs, name):
    inputs, values = make_inputs(SHAPES[name][0], torch.bool, 7)
    assert_matches(name, getattr(specs, name)(*inputs), values, torch.bool)
    with pytest.raises(TypeError, match=f"^{name}: operand 'a' must be boolean, got float64"):
        getattr(specs, name)(inputs[0].to(torch.float64), inputs[1].to(torch.float64))


# torch.compile traces each function once for all sizes of its operands'
# ranks (dynamic=True) and fails on any graph break (fullgraph=True). The
# "eager" backend runs dynamo's tracing and guards without inductor's code
# generation, which takes seconds a function; a few functions compile with
# inductor too. Each runs on its first shapes, then on the same ranks with
# other sizes (without compiling again), then (but with inductor) on its
# other shapes.
COMPILED = sorted(REFERENCE)

# Composites and a chosen order (batch_matvec), `...` (batched_dot), a
# group with a `where` size (group_mix), diagonals in and out, booleans.
INDUCTOR = ["batch_matvec", "batched_dot", "group_mix", "high_rank_diagonal", "diag_matrix", "reachable"]

# Other sizes for the first shapes where one more per axis breaks the spec.
RESIZED = {
    "project": [(3, 4, 5), (20, 6)],
    "unflatten": [(16,)],
    "squeeze": [(3, 1, 4)],
    "group_mix": [(12, 4), (4, 5)],
}


def _run_compiled(specs, name, backend, all_shapes=True):
    torch._dynamo.reset()
    function = torch.compile(getattr(specs, name), fullgraph=True, dynamic=True, backend=backend)
    dtype = torch.bool if name in BOOLEAN else torch.float32
    first, *others = SHAPES[name]
    resized = RESIZED.get(name) or [tuple(n + 1 for n in shape) for shape in first]
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    for k, shapes in enumerate([first, resized] + (others if all_shapes else [])):
        inputs, values = make_inputs(shapes, dtype, k)
        assert_matches(name, function(*inputs), values, dtype)
        if k == 1:
            compiled = torch._dynamo.utils.counters["stats"]["unique_graphs"] - graphs
            assert compiled == 1, f"{name} compiled {compiled} times for two sizes of the same ranks"


@pytest.mark.parametrize("name", COMPILED)
def test_every_function_compiles_without_graph_breaks(specs, name):
    _run_compiled(specs, name, "eager")


@pytest.mark.parametrize("name", INDUCTOR)
def test_functions_compile_with_inductor(specs, name):
    _run_compiled(specs, name, "inductor", all_shapes=False)


def test_a_compiled_function_checks_its_operands(specs):
    # A failing check is no graph to trace: torch.compile runs the frame
    # eagerly, which raises the check's error; with fullgraph=True dynamo
    # raises instead, quoting it.
    message = "matmul: axis 'j' is 4 in 'a' but 3 in 'b'"
    torch._dynamo.reset()
    matmul = torch.compile(specs.matmul, fullgraph=True, dynamic=True, backend="eager")
    assert matmul(torch.ones(2, 3), torch.ones(3, 4)).shape == (2, 4)
    with pytest.raises(torch._dynamo.exc.Unsupported, match=message):
        matmul(torch.ones(3, 4), torch.ones(3, 2))
    torch._dynamo.reset()
    matmul = torch.compile(specs.matmul, dynamic=True, backend="eager")
    assert matmul(torch.ones(2, 3), torch.ones(3, 4)).shape == (2, 4)
    with pytest.raises(ValueError, match=f"^{message}$"):
        matmul(torch.ones(3, 4), torch.ones(3, 2))


@pytest.mark.parametrize("name", NUMERIC)
def test_gradients_match_central_differences(specs, name):
    inputs, _ = make_inputs(SHAPES[name][0], torch.float64, 3)
    inputs = [x.requires_grad_() for x in inputs]
    assert torch.autograd.gradcheck(getattr(specs, name), inputs)


def test_complex_gradients_match_central_differences(specs):
    for name in ["bilinear", "high_rank_diagonal", "interleave", "dot_sum"]:
        inputs, _ = make_inputs(SHAPES[name][0], torch.complex128, 5)
        assert torch.autograd.gradcheck(getattr(specs, name), [x.requires_grad_() for x in inputs])


def _gradients(function, inputs):
    leaves = [x.detach().requires_grad_() for x in inputs]
    function(*leaves).square().sum().backward()
    return [leaf.grad for leaf in leaves]


def test_gradients_flow_through_a_compiled_function(specs):
    # aot_eager: autograd's traced backward, without inductor's code generation.
    torch._dynamo.reset()
    compiled = torch.compile(specs.bilinear, fullgraph=True, dynamic=True, backend="aot_eager")
    inputs, _ = make_inputs(SHAPES["bilinear"][0], torch.float64, 11)
    for got, want in zip(_gradients(compiled, inputs), _gradients(specs.bilinear, inputs)):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_zero_size_dimensions_give_numpy_shapes(specs):
    assert specs.matmul(torch.ones(0, 3), torch.ones(3, 2)).shape == (0, 2)
    assert specs.matmul(torch.ones(2, 0), torch.ones(0, 2)).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert specs.tensordot(torch.ones(2, 0, 4), torch.ones(4, 3)).shape == (2, 0, 3)
    assert specs.diag_matrix(torch.ones(0)).shape == (0, 0)
    assert specs.dot_sum(torch.ones(0, 3), torch.ones(3)).tolist() == [0.0, 0.0, 0.0]
    assert specs.batched_dot(torch.ones(2, 0, 3), torch.ones(3)).shape == (2, 0)
    assert specs.high_rank_diagonal(torch.ones(2, 0, 2, 2, 0, 2)).shape == (2, 2, 0, 2)


def test_a_sum_over_no_leading_axes_keeps_every_axis(specs):
    # torch.sum sums everything over an empty `dim`: `...` of rank 0 must not.
    x, y = torch.arange(4.0), torch.ones(4)
    assert specs.dot_sum(x, y).tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: s.matmul(torch.ones(3, 4), torch.ones(3, 2)), r"^matmul: axis 'j' is 4 in 'a' but 3 in 'b'"),
        (lambda s: s.trace(torch.ones(3, 4)), r"^trace: axis 'i' is 3 and also 4 in 'x', which holds it twice: the two must be equal"),
        (lambda s: s.bmm3(torch.ones(2, 3), torch.ones(2, 3, 3), torch.ones(2, 3, 3)), r"^bmm3: operand 'x'"),
        (lambda s: s.unflatten(torch.ones(7)), r"^unflatten: "),
        (lambda s: s.batched_dot(torch.ones(2, 4), torch.ones(3, 4)), r"^batched_dot: "),
    ],
)
def test_wrong_operands_raise_an_error_naming_the_function(specs, call, message):
    with pytest.raises(ValueError, match=message):
        call(specs)


@pytest.mark.parametrize(
    "operand, kind",
    [([[1.0, 2.0]], "list"), (np.ones((1, 2)), "ndarray"), (2.0, "float")],
)
def test_operands_that_are_not_tensors_are_a_type_error(specs, operand, kind):
    message = rf"^matmul: operand 'a' is not a tensor: expected a torch.Tensor, got {kind} \(convert it"
    with pytest.raises(TypeError, match=message):
        specs.matmul(operand, torch.ones(2, 1))


def test_operands_of_two_dtypes_are_a_type_error(specs):
    with pytest.raises(TypeError, match=r"^matmul: the operands must have one dtype, got 'a' float32, 'b' float64"):
        specs.matmul(torch.ones(2, 2), torch.ones(2, 2, dtype=torch.float64))


def test_the_order_is_chosen_from_the_shapes_when_called():
    module, result = compile_and_import('f(a, b, c) = einsum("ij,jk,kl->il", a, b, c)\n', "spec.ein", "torch")
    assert "from the static shapes when called" in result.source
    gen = np.random.default_rng(0)
    for shapes in [((2, 50), (50, 3), (3, 40)), ((40, 3), (3, 50), (50, 2))]:
        a, b, c = (torch.as_tensor(gen.standard_normal(s)) for s in shapes)
        torch.testing.assert_close(module.f(a, b, c), a @ b @ c, rtol=1e-12, atol=1e-12)


def _check(case):
    inputs = [torch.as_tensor(x) for x in arrays(case)]
    actual = compile_module(case.ein_text(), "spec.ein", "torch").f(*inputs)
    want = expected(case, arrays(case))
    assert tuple(actual.shape) == want.shape, (case, tuple(actual.shape), want.shape)
    np.testing.assert_allclose(actual.numpy(), want, rtol=1e-10, atol=1e-10, err_msg=case.ein_text())


def _with(corners):
    def decorate(test):
        for case in corners:
            test = example(case)(test)
        return test

    return decorate


@SETTINGS
@_with(CORNERS)
@given(numpy_style_cases())
def test_random_numpy_style_specs_match_the_reference(case):
    _check(case)


@SETTINGS
@_with(DIALECT_CORNERS)
@given(dialect_cases())
def test_random_dialect_specs_match_the_reference(case):
    _check(case)


@pytest.fixture(scope="module")
def views():
    return compile_module(matmul_cases.SPEC, "views.ein", "torch")


@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64, torch.complex128])
@pytest.mark.parametrize("name, k", matmul_cases.CASES)
def test_transposed_broadcast_and_vector_products_match_np_einsum(views, name, k, dtype):
    # torch.matmul of `.mT` views and unsqueezed columns: a transpose, never a conjugate.
    operands = [torch.as_tensor(x).to(dtype) for x in matmul_cases.inputs(name, k, dtype.is_complex)]
    result = getattr(views, name)(*operands)
    assert result.dtype == dtype
    wide = torch.complex128 if dtype.is_complex else torch.float64
    matmul_cases.assert_close(
        name, result.to(wide).numpy(), [x.to(wide).numpy() for x in operands], torch.finfo(dtype).eps
    )
