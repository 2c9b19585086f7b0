"""Wrong operands are refused, and the error names the generated function.

LANGUAGE.md: "every operand of every function is checked against its spec,
eagerly and with unknown dimensions, and the error names the function".
For random specs of the whole dialect (ein_strategies.dialect_cases) this
feeds each generated function one wrong operand:

- transpose: the same elements in a permuted layout (a different shape of
  the same size);
- resplit: the same elements split differently (two axes merged, one axis
  split, or two adjacent axes re-factored: `I,I->I` with x (2, 3) and
  y (3, 2), `II->I` with (4, 2, 2));
- rank_up / rank_down: an axis more or an axis less;
- off_by_one: one axis one longer or shorter;
- to_one: a size-1 axis where size n > 1 is expected.

A mutation is wrong only if the numpy reference (tests/numpy_ref.py, written
from the contract) refuses it: named axes agree exactly, only `...` broadcasts
size 1, a composite has one rank and one set of sizes wherever it appears,
a `where j = 4` size is checked. A mutation the rules accept (a composite
that takes another rank, a fresh group member that takes another size, a
`...` axis that broadcasts) is skipped for that draw.

The generated function must raise ValueError, TypeError or
InvalidArgumentError whose message names it, both eagerly and as a
tf.function whose input signature has only unknown dimensions; the right
operands must give the reference's value, also with zero-size dimensions.

eingrad's operands are checked too: a few hand-made wrong operands for VJP,
JVP, HVP and the batched forms.

EINIG_WRONG_OPERAND_EXAMPLES sets the number of examples of wrong operands
(default 60; the zero-size test runs half as many; `make fuzz` sets 2000).
"""

from __future__ import annotations

import os
import re

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, Phase, assume, given, settings  # noqa: E402

from tests import numpy_ref as R  # noqa: E402
from tests.ein_harness import compile_module  # noqa: E402
from tests.ein_strategies import Case, dialect_cases  # noqa: E402
from tests.wrong_operand_cases import (  # noqa: E402
    NAME,
    WRONG_CORNERS,
    ZERO_CORNERS,
    Mutation,
    wrong_operand_cases,
)
from tests.wrong_operand_cases import arrays as _arrays  # noqa: E402
from tests.wrong_operand_cases import context as _context  # noqa: E402
from tests.wrong_operand_cases import expected as _expected  # noqa: E402
from tests.wrong_operand_cases import is_wrong as _is_wrong  # noqa: E402
from tests.wrong_operand_cases import wrong_arrays as _wrong_arrays  # noqa: E402

tf = pytest.importorskip("tensorflow")

EXAMPLES = int(os.environ.get("EINIG_WRONG_OPERAND_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)

ERRORS = (ValueError, TypeError, tf.errors.InvalidArgumentError)


_GRAPH_FUNCTIONS: dict = {}


def _graph_function(case: Case, ranks):
    """The function as a tf.function with unknown dimensions (traced once per ranks)."""
    key = (case.ein_text(NAME), tuple(ranks))
    if key not in _GRAPH_FUNCTIONS:
        fn = getattr(compile_module(case.ein_text(NAME)), NAME)
        sig = [tf.TensorSpec([None] * r, tf.float64) for r in ranks]
        _GRAPH_FUNCTIONS[key] = tf.function(fn, input_signature=sig)
    return _GRAPH_FUNCTIONS[key]


def _names_function(message: str, name: str = NAME) -> bool:
    """Whether `message` names the generated function itself, not only in the
    stack traces and graph names that TensorFlow adds to its own errors."""
    scrubbed = re.sub(r'File "[^"]*", line \d+, in \w+', "", message)
    scrubbed = re.sub(r"__inference_\w+|__wrapped__\w*", "", scrubbed)
    return re.search(rf"\b{name}\b", scrubbed) is not None


def _without_traces(message: str) -> str:
    """A TensorFlow message without the stack trace it quotes."""
    lines = [line for line in message.splitlines() if line.strip() and not line.strip().startswith("File ")]
    return "\n".join(lines)[-500:]


def _require_refusal(fn, arrays, how: str, context: str, name: str = NAME):
    try:
        result = fn(*[tf.constant(a) for a in arrays])
    except ERRORS as error:
        refusal = error
    else:
        raise AssertionError(f"{how}: no error; returned shape {tuple(result.shape)}\n{context}")
    message = str(refusal)
    if not _names_function(message, name):
        kind = type(refusal).__name__
        raise AssertionError(f"{how}: the error does not name {name!r}: {kind}: {_without_traces(message)}\n{context}")


def _check_value(actual, expected, how: str, context: str):
    assert (
        tuple(actual.shape) == expected.shape
    ), f"{how}: shape {tuple(actual.shape)}, expected {expected.shape}\n{context}"
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-10, atol=1e-10, err_msg=f"{how}\n{context}")


def _check_refusal(case: Case, mutation: Mutation):
    wrong = _wrong_arrays(case, mutation)
    context = _context(case, mutation)
    fn = getattr(compile_module(case.ein_text(NAME)), NAME)
    right = _arrays(case)
    # The right operands work, so that the refusal is about the wrong one.
    _check_value(fn(*[tf.constant(a) for a in right]), _expected(case, right), "eagerly", context)
    _require_refusal(fn, wrong, "eagerly", context)
    graph = _graph_function(case, [len(s) for s in case.shapes])
    _check_value(graph(*[tf.constant(a) for a in right]), _expected(case, right), "tf.function", context)
    wrong_graph = _graph_function(case, [a.ndim for a in wrong])
    _require_refusal(wrong_graph, wrong, "tf.function with unknown dimensions", context)


@SETTINGS
@given(wrong_operand_cases())
def test_wrong_operand_is_refused_naming_the_function(pair):
    case, mutation = pair
    assume(_is_wrong(case, _wrong_arrays(case, mutation)))  # the rules accept it: not a wrong operand
    _check_refusal(case, mutation)


def _corner_id(pair) -> str:
    case, mutation = pair
    return f"{case.spec}{list(case.shapes)}:{mutation.operand}:{mutation.kind}{mutation.shape}"


@pytest.mark.parametrize("pair", WRONG_CORNERS, ids=_corner_id)
def test_wrong_corner_is_refused_naming_the_function(pair):
    case, mutation = pair
    assert _is_wrong(case, _wrong_arrays(case, mutation)), "not wrong under the rules: " + _context(case, mutation)
    _check_refusal(case, mutation)


# --- right operands with zero-size dimensions: numpy's shapes ---------------------

def _zero_size(case: Case) -> bool:
    return any(0 in shape for shape in case.shapes)


# No shrinking: its attempts rarely keep both a zero size and the failure,
# and each compiles and traces anew (five minutes for one failure).
@settings(SETTINGS, max_examples=max(1, EXAMPLES // 2), phases=[Phase.explicit, Phase.generate])
@given(dialect_cases(min_size=0))
def test_zero_size_dimensions_give_numpy_shapes(case):
    assume(_zero_size(case))
    arrays = _arrays(case)
    try:
        expected = _expected(case, arrays)
    except R.RefError:
        assume(False)  # a group of size 0 does not tell its members' sizes
    context = _context(case)
    fn = getattr(compile_module(case.ein_text(NAME)), NAME)
    _check_value(fn(*[tf.constant(a) for a in arrays]), expected, "eagerly", context)
    graph = _graph_function(case, [len(s) for s in case.shapes])
    _check_value(graph(*[tf.constant(a) for a in arrays]), expected, "tf.function", context)


@pytest.mark.parametrize("case", ZERO_CORNERS, ids=lambda c: f"{c.spec}{list(c.shapes)}")
def test_zero_size_corners(case):
    arrays = _arrays(case)
    expected = _expected(case, arrays)
    context = _context(case)
    fn = getattr(compile_module(case.ein_text(NAME)), NAME)
    _check_value(fn(*[tf.constant(a) for a in arrays]), expected, "eagerly", context)
    graph = _graph_function(case, [len(s) for s in case.shapes])
    _check_value(graph(*[tf.constant(a) for a in arrays]), expected, "tf.function", context)


def test_names_function_ignores_tensorflow_traces():
    """TensorFlow's own errors carry the traced function's name in stack
    traces and graph names: those do not count as naming it."""
    traced = (
        "Graph execution error:\n\nDetected at node MatMul defined at (most recent call last):\n"
        f'  File "/tmp/gen.py", line 12, in {NAME}\n\nMatrix size-incompatible [Op:__inference_{NAME}_123]'
    )
    assert not _names_function(traced)
    assert _names_function(f"{NAME}: axis 'j' is 3 in 'x0' but 4 in 'x1'")


# --- eingrad's operands are checked too ---------------------------------------------

EINGRAD_TEXT = """\
probe_vjp(z, y, x) = eingrad("i,i%j->j", z, y, x)
probe_jvp(y, x, v) = eingrad("i%j,j->i", y, x, v)
probe_hvp(y, x, v) = eingrad("j%k,k->j", eingrad(",%j->j", y, x), x, v)
probe_batched_jvp(y, x, v) = eingrad("bi%bj,bj->bi", y, x, v) where b independent
probe_batched_grad(y, x) = eingrad("b%bj->bj", y, x) where b independent
"""

_M = np.random.default_rng(5).standard_normal((3, 4))


def _tanh_m(x):
    return tf.tanh(tf.linalg.matvec(tf.constant(_M), x))


def _rows_tanh(x):
    return tf.tanh(tf.matmul(x, tf.constant(_M.T)))


def _quartic(x):
    return tf.reduce_sum(x**4)


def _row_norms(x):
    return tf.reduce_sum(x**2, axis=1)


def _row_norms_kept(x):
    return tf.reduce_sum(x**2, axis=1, keepdims=True)


# (function, the right callable, the right shapes, the wrong callable, the wrong shapes)
EINGRAD_WRONG = [
    ("probe_vjp", _tanh_m, [(3,), (4,)], _tanh_m, [(2,), (4,)]),  # z has 2 entries, y(x) 3
    ("probe_vjp", _tanh_m, [(3,), (4,)], _tanh_m, [(3, 1), (4,)]),  # z has rank 2
    ("probe_jvp", _tanh_m, [(4,), (4,)], _tanh_m, [(4,), (5,)]),  # v has 5 entries, x 4
    ("probe_jvp", _tanh_m, [(4,), (4,)], _tanh_m, [(4,), (1,)]),  # size 1 does not broadcast
    ("probe_hvp", _quartic, [(4,), (4,)], _quartic, [(4,), (3,)]),
    ("probe_batched_jvp", _rows_tanh, [(5, 4), (5, 4)], _rows_tanh, [(5, 4), (6, 4)]),  # v's batch differs
    ("probe_batched_jvp", _rows_tanh, [(5, 4), (5, 4)], _rows_tanh, [(5, 4), (5, 3)]),
    ("probe_batched_grad", _row_norms, [(5, 4)], _row_norms_kept, [(5, 4)]),  # y(x) is [b, 1], not [b]
]


def _eingrad_id(case) -> str:
    name, _, _, wrong_fn, wrong = case
    return f"{name}:{wrong_fn.__name__}{wrong}"


@pytest.mark.parametrize("mode", ["eagerly", "tf.function with unknown dimensions"])
@pytest.mark.parametrize(
    "name,right_fn,right,wrong_fn,wrong", EINGRAD_WRONG, ids=[_eingrad_id(c) for c in EINGRAD_WRONG]
)
def test_wrong_eingrad_operand_is_refused_naming_the_function(name, right_fn, right, wrong_fn, wrong, mode):
    probe = getattr(compile_module(EINGRAD_TEXT), name)

    def bind(fn):  # the callable is not a tensor operand: bound here
        if name == "probe_vjp":
            return lambda z, x: probe(z, fn, x)
        return lambda *tensors: probe(fn, *tensors)

    gen = np.random.default_rng(6)
    bind(right_fn)(*[tf.constant(gen.standard_normal(shape)) for shape in right])  # the right operands work
    call = bind(wrong_fn)
    if mode != "eagerly":
        call = tf.function(call, input_signature=[tf.TensorSpec([None] * len(s), tf.float64) for s in wrong])
    arrays = [gen.standard_normal(shape) for shape in wrong]
    context = f"{name} with {wrong_fn.__name__} and shapes {wrong} (right: {right_fn.__name__}, {right})"
    _require_refusal(call, arrays, mode, context, name=name)
