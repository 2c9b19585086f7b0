"""Lowering choices, proven by counting what the generated code does."""

import re
from pathlib import Path

import numpy as np
import pytest

from einigc.compiler import compile_text
from tests.conftest import compile_source
from tests.ein_harness import compile_module as load_module


def function_source(text: str, name: str) -> str:
    source = compile_source(text)  # compiled once per text: tests read several functions of one
    match = re.search(rf"^def {name}\(.*?(?=^def |^@|\Z)", source, re.S | re.M)
    assert match, f"{name} not in the generated module"
    return match.group(0)


def code_lines(source: str) -> str:
    """The function without its docstring and comments."""
    body = re.sub(r'""".*?"""', "", source, count=1, flags=re.S)
    return "\n".join(line for line in body.splitlines() if not line.strip().startswith("#"))


EINGRAD = """\
vjp(z, y, x) = eingrad("i,i%j->j", z, y, x)
jvp(y, x, v) = eingrad("i%j,j->i", y, x, v)
hvp(y, x, v) = eingrad("j%k,k->j", eingrad(",%j->j", y, x), x, v)
gradient(y, x) = eingrad(",%j->j", y, x)
jacobian(y, x) = eingrad("i%j->ij", y, x)
batched_grad(y, x) = eingrad("b%bj->bj", y, x) where b independent
batched_grad_exact(y, x) = eingrad("b%bj->bj", y, x)
batched_jvp(y, x, v) = eingrad("bi%bj,bj->bi", y, x, v) where b independent
linear_vjp(z, w, x) = eingrad("i,i%j->j", z, einsum("ij,j->i", w, x), x)
"""


def test_products_never_build_a_jacobian():
    for name in ("vjp", "jvp", "hvp", "gradient", "batched_grad", "batched_jvp"):
        code = code_lines(function_source(EINGRAD, name))
        assert "_jacobian(" not in code, name
        assert "GradientTape()" in code, name


def test_vjp_is_one_reverse_pass_with_the_cotangent():
    code = code_lines(function_source(EINGRAD, "vjp"))
    assert code.count("_gradient(") == 1
    assert "_gradient(tape, y_value, x, z)" in code


def test_hvp_is_reverse_over_reverse():
    code = code_lines(function_source(EINGRAD, "hvp"))
    assert code.count("GradientTape()") == 2
    assert code.count("_gradient(") == 2
    assert "_gradient(tape, dy_dx, x, v)" in code


def test_jvp_is_the_double_backward_trick():
    code = code_lines(function_source(EINGRAD, "jvp"))
    assert code.count("_gradient(") == 2
    assert "tf.zeros_like(" in code
    assert "ForwardAccumulator" not in code


def test_jacobian_and_exact_diagonal_build_the_jacobian():
    assert code_lines(function_source(EINGRAD, "jacobian")).count("_jacobian(") == 1
    exact = code_lines(function_source(EINGRAD, "batched_grad_exact"))
    assert exact.count("_jacobian(") == 1
    assert "_diagonal(" in exact


def test_independent_batch_is_one_pass_and_the_docstring_says_so():
    source = function_source(EINGRAD, "batched_grad")
    assert code_lines(source).count("_gradient(") == 1
    assert "independent" in source.split('"""')[1]


def test_closed_form_has_no_tape_and_equals_the_tape(tf):
    code = code_lines(function_source(EINGRAD, "linear_vjp"))
    assert "GradientTape" not in code
    module = load_module(EINGRAD)
    rng = np.random.default_rng(3)
    w = tf.constant(rng.standard_normal((3, 4)))
    x = tf.constant(rng.standard_normal(4))
    z = tf.constant(rng.standard_normal(3))
    closed = module.linear_vjp(z, w, x)
    taped = module.vjp(z, lambda x: tf.linalg.matvec(w, x), x)
    np.testing.assert_allclose(closed, taped, rtol=1e-12)
    np.testing.assert_allclose(closed, z.numpy() @ w.numpy(), rtol=1e-12)


def test_only_a_jacobian_without_callables_is_traced_when_called_eagerly():
    # A trace would keep the state a callable read when traced.
    text = EINGRAD + 'square_jacobian(x) = eingrad("i%j->ij", einsum("i,i->i", x, x), x)\n'
    text += "jacobian_of(y, x) = jacobian(y, x)\n"
    text += 'nested(y, x) = eingrad("ij%k->ijk", jacobian(y, x), x)\n'
    source = compile_text(text).source
    assert "@_trace_when_eager\ndef square_jacobian(" in source
    for name in ("jacobian", "vjp", "jacobian_of", "nested"):
        assert f"@_trace_when_eager\ndef {name}(" not in source, name


GROUPS = """\
project(x, w) = einsum("bij,(ij)k->bk", x, w)
group_mix(x, y) = einsum("(bi)j,jk->b(ik)", x, y) where b = 2
tensordot(x, y) = einsum("Ij,jK->IK", x, y)
keepdims(x) = einsum("ij->i_", x)
"""


def test_groups_cost_one_reshape_per_operand_and_no_transpose():
    counts = {
        name: code_lines(function_source(GROUPS, name)).count("tf.reshape(")
        for name in ("project", "group_mix", "tensordot")
    }
    assert counts == {"project": 1, "group_mix": 2, "tensordot": 3}
    for name in counts:
        assert "tf.transpose(" not in function_source(GROUPS, name)


def test_keepdims_is_one_reduce_sum():
    code = code_lines(function_source(GROUPS, "keepdims"))
    assert "tf.reduce_sum(x, axis=1, keepdims=True)" in code
    assert "tf.reshape(" not in code


@pytest.mark.tensorflow  # runs the generated module
def test_unseen_sizes_choose_the_order_while_tracing():
    text = 'bmm3(x, y, z) = einsum("bij,bjk,bkl->bil", x, y, z)\n'
    code = code_lines(function_source(text, "bmm3"))
    assert "_static_sizes(" in code and "if order == 0:" in code
    declared = text.rstrip() + " where b ~ 8, i ~ 1024, j ~ 256, k ~ 256, l ~ 4\n"
    assert "_static_sizes(" not in function_source(declared, "bmm3")
    module = load_module(text)
    rng = np.random.default_rng(4)
    x, y, z = (rng.standard_normal(s) for s in [(2, 16, 8), (2, 8, 8), (2, 8, 1)])
    np.testing.assert_allclose(module.bmm3(x, y, z), x @ y @ z, rtol=1e-10)


@pytest.mark.slow  # about 10 s alone
def test_ten_thousand_declarations_compile():
    lines = [f'f{k}(x, y) = einsum("ij,jk->ik", x, y)' for k in range(10_000)]
    source = compile_text("\n".join(lines) + "\n").source
    assert source.count("\ndef f") == 10_000


@pytest.mark.tensorflow  # runs the generated module
def test_diagonal_indices_are_built_once_per_shape_eagerly():
    text = 'diag(x) = einsum("ijji->ij", x)\ninduced(x) = einsum("ij->jiji", x)\n'
    module = load_module(text)
    cache = module._index_once.__defaults__[0]
    rng = np.random.default_rng(5)
    for shape in [(2, 3, 3, 2), (4, 1, 1, 4), (2, 3, 3, 2)]:
        x = rng.standard_normal(shape)
        np.testing.assert_array_equal(module.diag(x), np.einsum("ijji->ij", x))
        y = rng.standard_normal(shape[:2])
        expected = np.zeros(shape[1::-1] * 2)
        for i in range(shape[0]):
            for j in range(shape[1]):
                expected[j, i, j, i] = y[i, j]
        np.testing.assert_array_equal(module.induced(y), expected)
    assert len(cache) == 4  # two shapes, two helpers: the repeated shape reused its entry
    # No transpose before the scatter: it places the entries in any order.
    assert "tf.transpose(" not in code_lines(function_source(text, "induced"))


def test_static_shapes_that_passed_the_checks_are_remembered_not_trusted_blindly(tf):
    module = load_module('mm(a, b) = einsum("ij,jk->ik", a, b)\n')
    passed = module._check_axes.__defaults__[-1]
    a, b = np.ones((2, 3)), np.ones((3, 4))
    np.testing.assert_array_equal(module.mm(a, b), a @ b)
    assert ("mm", "ij,jk", ((2, 3), tf.float64), ((3, 4), tf.float64)) in passed
    np.testing.assert_array_equal(module.mm(a, b), a @ b)
    with pytest.raises(ValueError, match="axis 'j' is 3 in 'a' but 5 in 'b'"):
        module.mm(a, np.ones((5, 4)))
    # Unknown dimensions are never remembered: they get assertions each trace.
    traced = tf.function(module.mm, input_signature=[tf.TensorSpec([None, None], tf.float64)] * 2)
    np.testing.assert_array_equal(traced(a, b), a @ b)
    assert not any(None in shape for key in passed for shape, _ in key[2:])


# --- generated functions read at a glance (issue 11, section 5) ---------------

GLANCE = """\
bmm3(x, y, z) = einsum("bij,bjk,bkl->bil", x, y, z)
outer(u, v) = einsum("i,j->ij", u, v)
row_sums(x) = einsum("ij->i_", x)
project(x, w) = einsum("bij,(ij)k->bk", x, w)
batch_matvec(x, v, w) = einsum("BI,I,IJ->BJ", x, v, w)
count(a, b) = eincount("ij,jk->ik", a, b)
gram_trace(x) = einsum("ii->", einsum("ij,kj->ik", x, x))
vjp(z, loss, x) = eingrad("i,i%j->j", z, loss, x)
gradient(loss, x) = eingrad(",%j->j", loss, x)
hessian(loss, x) = eingrad("j%k->jk", eingrad(",%j->j", loss, x), x)
uses_hessian(f, p) = hessian(f, p)
divergence(y, x) = eingrad("i%i->", y, x)
"""


def docstring(source: str) -> str:
    return source.split('"""')[1]


def test_docstrings_list_each_parameter_with_its_axes_and_the_result():
    doc = docstring(function_source(GLANCE, "bmm3"))
    assert "Args:\n        x: [b, i, j]\n        y: [b, j, k]\n        z: [b, k, l]\n" in doc
    assert "Returns:\n        [b, i, l]" in doc
    assert "w: [(i j), k]" in docstring(function_source(GLANCE, "project"))
    matvec = docstring(function_source(GLANCE, "batch_matvec"))
    assert "x: [B..., I...]" in matvec and "w: [I..., J...]" in matvec
    assert "Returns:\n        [B..., J...]" in matvec
    assert "x: [i, 1]" not in docstring(function_source(GLANCE, "row_sums"))
    assert "Returns:\n        [i, 1]" in docstring(function_source(GLANCE, "row_sums"))
    count = docstring(function_source(GLANCE, "count"))
    assert "a: [i, j], bool" in count and "Returns:\n        [i, k], int64" in count
    assert "Returns:\n        a scalar" in docstring(function_source(GLANCE, "gram_trace"))


def test_eingrad_docstrings_say_what_a_callable_is():
    assert "loss: a callable of x returning [i]" in docstring(function_source(GLANCE, "vjp"))
    assert "loss: a callable of x returning a scalar" in docstring(function_source(GLANCE, "hessian"))
    # Through a declaration that differentiates it: called with the caller's argument.
    assert "f: a callable of p returning a scalar" in docstring(function_source(GLANCE, "uses_hessian"))


def test_type_hints_and_callable_imported_only_where_used():
    source = compile_source(GLANCE)
    assert "def outer(u: tf.Tensor, v: tf.Tensor) -> tf.Tensor:" in source
    assert "def gradient(loss: Callable[[tf.Tensor], tf.Tensor], x: tf.Tensor) -> tf.Tensor:" in source
    assert "from collections.abc import Callable\n" in source
    assert "Callable" not in compile_text('f(x) = einsum("ij->j", x)\n').source


def test_a_plan_block_only_where_planning_chose_something():
    for name in ("outer", "row_sums", "project", "gram_trace"):
        assert "Plan:" not in docstring(function_source(GLANCE, name)), name
    plan = docstring(function_source(GLANCE, "bmm3"))
    assert "Plan:" in plan and "order (" in plan and "FLOPs:" in plan
    # The eingrad lowering is a decision: said once, under its spec once.
    divergence = docstring(function_source(GLANCE, "divergence"))
    assert divergence.count('eingrad("i%i->")') == 1
    assert "lowering: the full Jacobian" in divergence


SHARED = """\
square_norm(f, x) = einsum("bj,bj->b", eingrad("b%bj->bj", f, x), eingrad("b%bj->bj", f, x)) where b independent
scaled(w, x) = einsum("i,ij->ij", einsum("ij,j,j->i", w, x, x), eingrad("i%j->ij", einsum("ij,j,j->i", w, x, x), x))
"""


def test_a_value_written_twice_is_computed_once(tf):
    code = code_lines(function_source(SHARED, "square_norm"))
    assert code.count("GradientTape(") == 1
    assert code.count("= f(x)") == 1
    assert code.count("_gradient(") == 1
    assert "_1" not in code
    assert '"bj,bj"' not in code  # one tensor against one word: checked once
    module = load_module(SHARED)
    x = np.arange(6.0).reshape(2, 3)
    f = lambda t: tf.reduce_sum(t**2, axis=1)  # noqa: E731
    np.testing.assert_allclose(module.square_norm(f, tf.constant(x)).numpy(), (4 * x**2).sum(axis=1))


def test_a_value_is_computed_again_under_a_tape_watching_its_variable(tf):
    # The first einsum runs before the tape; the Jacobian needs it recorded.
    source = function_source(SHARED, "scaled")
    assert code_lines(source).count('equation="ij,j->i"') == 2
    assert docstring(source).count("FLOPs:") == 1
    module = load_module(SHARED)
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=(3, 4)), rng.normal(size=4)
    y = (w * x**2).sum(axis=1)
    expected = y[:, None] * (2 * w * x)
    np.testing.assert_allclose(module.scaled(tf.constant(w), tf.constant(x)).numpy(), expected, rtol=1e-10)


def test_comments_name_the_callable_as_the_user_did():
    code = function_source(GLANCE, "gradient")
    assert "# record loss for one reverse pass" in code
    assert "record y" not in code
    assert "# record the gradient of loss for the full Jacobian" in function_source(GLANCE, "hessian")


def test_branches_of_an_order_choice_reuse_their_names():
    text = 'bilinear(x, w, y) = einsum("bi,ijk,bk->bj", x, w, y)\n'
    code = code_lines(function_source(text, "bilinear"))
    assert "if order == 0:" in code
    assert re.search(r"\b\w+_(shape|2d)_1\b", code) is None


def test_an_operand_given_twice_keeps_one_name():
    code = code_lines(function_source(GLANCE, "gram_trace"))
    assert "x_checked" not in code
    # x as kj adds nothing to x as ij: k is in no other operand, j sits at the same axis.
    assert '(x,) = _check_axes("gram_trace", "ij", [("x", x)])' in code
    assert "MatMul(a=x, b=x, transpose_b=True)" in code
    matvec = code_lines(function_source('m(x, v) = einsum("BI,I,IJ->BJ", x, v, v)\n', "m"))
    assert matvec.count("_dims(v,") == 1


def test_a_callable_that_ignores_its_variable_has_zero_derivatives(tf):
    module = load_module(GLANCE + 'jacobian(y, x) = eingrad("i%j->ij", y, x)\n')
    x = tf.constant([1.0, 2.0, 3.0])
    constant = lambda t: tf.constant(5.0)  # noqa: E731
    np.testing.assert_array_equal(module.gradient(constant, x).numpy(), np.zeros(3))
    vector = lambda t: tf.ones([2])  # noqa: E731
    np.testing.assert_array_equal(module.jacobian(vector, x).numpy(), np.zeros((2, 3)))
    # That is the helper's one job: no generated function repeats it.
    source = compile_source(GLANCE)
    functions = source[source.index("\ndef bmm3(") :]
    assert "UnconnectedGradients" not in functions


def test_every_helper_opens_with_a_comment_that_says_what_it_does():
    from einigc.targets.runtime_source import runtime

    # Functions and classes alike: the first line of the body is a comment.
    helpers = runtime("tensorflow").definitions
    found = [re.match(r"(?:def|class) (_\w+).*?:\n(    .*)", d.source) for d in helpers]
    assert len(found) >= 20 and all(found)
    for match in found:
        assert match[2].strip().startswith("#"), match[1]


def test_a_declaration_cannot_replace_the_imported_callable():
    from einigc.errors import CompileErrors

    with pytest.raises(CompileErrors) as raised:
        compile_text('Callable(x) = einsum("i->", x)\ngradient(loss, x) = eingrad(",%j->j", loss, x)\n')
    messages = [d.message for d in raised.value.diagnostics]
    assert any("'Callable' is a name the generated module itself uses" in m for m in messages), messages


def test_an_operand_given_twice_is_checked_twice_where_that_constrains_it():
    # x as ij and as jk: x must be square; a `where` size on k checks x's first axis against it.
    square = code_lines(function_source('sq(x) = einsum("ij,jk->ik", x, x)\n', "sq"))
    assert 'x, _ = _check_axes("sq", "ij,jk", [("x", x), ("x", x)])' in square
    sized = code_lines(function_source('g(x) = einsum("ij,kj->ik", x, x) where k = 3\n', "g"))
    assert '"ij,kj"' in sized
    shared = code_lines(function_source('h(x, y) = einsum("ij,kj,k->i", x, x, y)\n', "h"))
    assert '"ij,kj,k"' in shared
