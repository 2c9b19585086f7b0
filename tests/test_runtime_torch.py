"""The PyTorch runtime helpers called directly, as einigc copies them: eagerly, under autograd, vmap and torch.compile."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from einigc.targets.runtime_source import runtime as runtime_module  # noqa: E402
from einigc.targets.torch import runtime  # noqa: E402
from tests.test_runtime_numpy import (  # noqa: E402
    DIAGONALS,
    RIGHT_OPERANDS,
    diagonal_case,
    induced_case,
    induced_reference,
    message_of,
    named,
    wrong_operands,
)


def ones(shape):
    return torch.ones(shape)


# ---- _check_axes


@pytest.mark.parametrize("spec, shapes, sizes, message", wrong_operands())
def test_check_axes_rejects_wrong_operands_with_the_tensorflow_runtimes_message(spec, shapes, sizes, message):
    assert message_of(runtime._check_axes, spec, named(shapes, ones), sizes) == message


@pytest.mark.parametrize("spec, shapes, sizes", RIGHT_OPERANDS)
def test_check_axes_accepts_right_operands_and_returns_them(spec, shapes, sizes):
    operands = named(shapes, ones)
    checked = runtime._check_axes("right", spec, operands, sizes)
    assert all(c is value for c, (_, value) in zip(checked, operands))


MIXED_DTYPES = "mm: the operands must have one dtype, got 'a' float32, 'b' float64"


def test_check_axes_takes_tensors_of_one_dtype_as_torch_einsum_does():
    with pytest.raises(TypeError) as raised:
        runtime._check_axes("mm", "i,i", [("a", torch.ones(2)), ("b", torch.ones(2, dtype=torch.float64))])
    assert str(raised.value) == MIXED_DTYPES


def test_the_mixed_dtypes_message_is_the_tensorflow_runtimes(tf):
    from einigc.targets.tensorflow import runtime as tensorflow

    with pytest.raises(TypeError) as raised:
        tensorflow._check_axes("mm", "i,i", [("a", tf.ones([2])), ("b", tf.ones([2], tf.float64))])
    assert str(raised.value) == MIXED_DTYPES


def test_check_axes_names_what_torch_einsum_refuses():
    # torch.einsum converts nothing: lists, numbers and numpy arrays are errors.
    for value, kind in [([1.0, 2.0], "list"), (np.ones(2), "ndarray"), (2.0, "float")]:
        with pytest.raises(TypeError) as raised:
            runtime._check_axes("f", "i", [("a", value)])
        assert str(raised.value) == (
            f"f: operand 'a' is not a tensor: expected a torch.Tensor, got {kind} (convert it with torch.as_tensor)"
        )
    sparse = torch.eye(2).to_sparse()
    with pytest.raises(TypeError, match=r"^f: operand 'a' is a torch.sparse_coo tensor; it takes dense tensors"):
        runtime._check_axes("f", "ij", [("a", sparse)])


def test_check_axes_under_torch_compile_guards_on_the_sizes():
    # The "eager" backend: dynamo's tracing and guards, without the minutes
    # of inductor's code generation on this CPU.
    def product(a, b):
        a, b = runtime._check_axes("compiled", "ij,jk", [("a", a), ("b", b)])
        return runtime._diagonal(a @ b, "ii", "i"), runtime._induced_diagonal(a, "ij", "iji")

    compiled = torch.compile(product, backend="eager", dynamic=True, fullgraph=True)
    a, b = torch.arange(6.0).reshape(2, 3), torch.arange(6.0).reshape(3, 2)
    for x, y in [(a, b), (a.T, b.T)]:  # the second with other sizes: SymInts
        diagonal, induced = compiled(x, y)
        np.testing.assert_array_equal(diagonal, np.diag(x.numpy() @ y.numpy()))
        np.testing.assert_array_equal(induced, induced_reference(x.numpy(), "ij", "iji", dict(zip("ij", x.shape))))
    with pytest.raises(ValueError) as raised:  # raised while tracing: eager fallback
        torch.compile(product, backend="eager", dynamic=True)(a, a)
    assert str(raised.value) == "compiled: axis 'j' is 3 in 'a' but 2 in 'b'"


# ---- _diagonal, _induced_diagonal


@pytest.mark.parametrize("axes, result_axes, sizes", DIAGONALS)
def test_diagonal_matches_numpy_as_a_view_eagerly_and_by_torch_diagonal(axes, result_axes, sizes):
    x, expected = diagonal_case(axes, result_axes, sizes)
    tensor = torch.from_numpy(x)
    diagonal = runtime._diagonal(tensor, axes, result_axes)
    np.testing.assert_array_equal(diagonal, expected)
    assert diagonal.untyped_storage().data_ptr() == tensor.untyped_storage().data_ptr()
    # A strided input with a storage offset; the views that torch.compile takes.
    offset = torch.from_numpy(np.stack([np.zeros_like(x), x]))[1]
    np.testing.assert_array_equal(runtime._diagonal(offset, axes, result_axes), expected)
    np.testing.assert_array_equal(runtime._diagonal_views(offset, axes, result_axes), expected)


@pytest.mark.parametrize("axes, result_axes, sizes", DIAGONALS)
def test_induced_diagonal_matches_numpy(axes, result_axes, sizes):
    y, expected = induced_case(axes, result_axes, sizes)
    induced = runtime._induced_diagonal(torch.from_numpy(y), result_axes, axes)
    np.testing.assert_array_equal(induced, expected)
    assert induced.dtype == torch.float64


def test_the_diagonals_are_each_others_adjoints_under_autograd():
    # d/dx <w, diag(x)> = induced(w), and d/dy <v, induced(y)> = diag(v).
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.standard_normal((3, 2, 2, 3)), requires_grad=True)
    w = torch.tensor(rng.standard_normal((3, 2)))
    (runtime._diagonal(x, "ijji", "ij") * w).sum().backward()
    np.testing.assert_array_equal(x.grad, runtime._induced_diagonal(w, "ij", "ijji"))
    y = torch.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    v = torch.tensor(rng.standard_normal((3, 2, 2, 3)))
    (runtime._induced_diagonal(y, "ij", "ijji") * v).sum().backward()
    np.testing.assert_array_equal(y.grad, np.einsum("ijji->ij", v.numpy()))


def test_induced_diagonal_under_vmap():
    batch = torch.arange(12.0).reshape(3, 2, 2)
    induced = torch.func.vmap(lambda y: runtime._induced_diagonal(y, "ij", "iji"))(batch)
    expected = np.stack([induced_reference(y, "ij", "iji", dict(i=2, j=2)) for y in batch.numpy()])
    np.testing.assert_array_equal(induced, expected)


# ---- _gradient, _jacobian


def test_vjp_of_small_closed_forms_holomorphic_for_complex_dtypes():
    x = torch.tensor([1.0, -2.0, 3.0])
    gradient = runtime._gradient(lambda x: (x**3).sum(), x, torch.tensor(1.0))
    np.testing.assert_allclose(gradient, 3 * x.numpy() ** 2)
    # A function that ignores its variable has a zero gradient.
    zero = runtime._gradient(lambda x: torch.tensor(5.0), x, torch.tensor(1.0))
    np.testing.assert_array_equal(zero, np.zeros(3))
    # d(z^2)/dz = 2z, with a cotangent of 1; with cotangent c, 2zc.
    z = torch.tensor([1 + 2j, -0.5j])
    for c in (torch.ones(2, dtype=z.dtype), torch.tensor([2 - 1j, 1j])):
        gradient = runtime._gradient(lambda z: z * z, z, c)
        np.testing.assert_allclose(gradient, 2 * z.numpy() * c.numpy())


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_jacobian_of_a_map_with_a_closed_form(dtype):
    rng = np.random.default_rng(3)
    a = torch.tensor(rng.standard_normal((4, 3)), dtype=dtype)
    x = torch.tensor(rng.standard_normal(3) + (1j * rng.standard_normal(3) if dtype.is_complex else 0), dtype=dtype)
    jacobian = runtime._jacobian(lambda x: a @ x + (x * x).sum(), x)  # 3 -> 4
    expected = a.numpy() + 2 * x.numpy()
    np.testing.assert_allclose(jacobian, expected, rtol=1e-12)
    matrix = runtime._jacobian(lambda m: m * m, a)  # 4x3 -> 4x3: [a, b, c, d] shaped
    assert matrix.shape == (4, 3, 4, 3)
    np.testing.assert_allclose(matrix.reshape(12, 12), np.diag(2 * a.numpy().reshape(12)), rtol=1e-12)


# ---- the small ones


def test_require_bool_names_the_operand_and_its_dtype():
    runtime._require_bool(torch.tensor([True]), "count", "x")
    with pytest.raises(TypeError) as raised:
        runtime._require_bool(torch.tensor([1.0]), "count", "x")
    assert str(raised.value) == "count: operand 'x' must be boolean, got float32"


def test_the_runtime_copies_stand_alone():
    helpers = runtime_module("torch")
    needed = helpers.needed(["_check_axes", "_diagonal", "_induced_diagonal", "_require_bool"])
    assert helpers.modules_used(needed) == ["math", "torch"]
    namespace = {}
    source = "import math\n\nimport torch\n\n" + "\n\n".join(d.source for d in needed)
    exec(compile(source, "generated", "exec"), namespace)
    diagonal = namespace["_diagonal"](torch.eye(3) * 2, "ii", "i")
    np.testing.assert_array_equal(diagonal, [2.0, 2.0, 2.0])
