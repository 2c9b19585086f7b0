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
from dataclasses import dataclass

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, Phase, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests import numpy_ref as R  # noqa: E402
from tests.ein_harness import compile_module  # noqa: E402
from tests.ein_strategies import Case, dialect_cases  # noqa: E402

tf = pytest.importorskip("tensorflow")

EXAMPLES = int(os.environ.get("EINIG_WRONG_OPERAND_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)

# A name no TensorFlow message contains by chance.
NAME = "wrong_operand_probe"
ERRORS = (ValueError, TypeError, tf.errors.InvalidArgumentError)


@dataclass(frozen=True)
class Mutation:
    """Operand `operand` replaced by one of shape `shape`: its own elements
    transposed by `perm` or reshaped (`same_elements`), or fresh values."""

    operand: int
    kind: str
    shape: tuple[int, ...]
    perm: tuple[int, ...] | None = None
    same_elements: bool = False


def _factor_pairs(n: int):
    return [(a, n // a) for a in range(1, n + 1) if n % a == 0]


def _resplits(shape):
    """Shapes holding the same elements as `shape`, split differently."""
    out = []
    for k in range(len(shape) - 1):
        a, b = shape[k], shape[k + 1]
        out.append(shape[:k] + (a * b,) + shape[k + 2 :])  # merged
        for pair in _factor_pairs(a * b):
            if pair != (a, b):
                out.append(shape[:k] + pair + shape[k + 2 :])  # re-factored
    for k, n in enumerate(shape):
        for pair in _factor_pairs(n):
            out.append(shape[:k] + pair + shape[k + 1 :])  # split
    return [s for s in out if s != shape]


@st.composite
def mutations(draw, case: Case) -> Mutation:
    k = draw(st.integers(0, len(case.shapes) - 1))
    shape = tuple(case.shapes[k])
    kinds = ["rank_up"]
    if len(set(shape)) > 1:
        kinds.append("transpose")
    if shape:
        kinds += ["rank_down", "off_by_one"]
    if any(n > 1 for n in shape):
        kinds.append("to_one")
    if _resplits(shape):
        kinds.append("resplit")
    kind = draw(st.sampled_from(kinds))
    if kind == "transpose":
        perm = list(draw(st.permutations(range(len(shape)))))
        if tuple(shape[p] for p in perm) == shape:
            i, j = next((i, j) for i in range(len(shape)) for j in range(i) if shape[i] != shape[j])
            perm[i], perm[j] = perm[j], perm[i]
        return Mutation(k, kind, tuple(shape[p] for p in perm), perm=tuple(perm))
    if kind == "resplit":
        return Mutation(k, kind, draw(st.sampled_from(_resplits(shape))), same_elements=True)
    if kind == "rank_up":
        at = draw(st.integers(0, len(shape)))
        return Mutation(k, kind, shape[:at] + (draw(st.integers(1, 3)),) + shape[at:])
    if kind == "to_one":
        at = draw(st.sampled_from([i for i, n in enumerate(shape) if n > 1]))
        return Mutation(k, kind, shape[:at] + (1,) + shape[at + 1 :])
    at = draw(st.integers(0, len(shape) - 1))
    if kind == "rank_down":
        return Mutation(k, kind, shape[:at] + shape[at + 1 :])
    delta = 1 if shape[at] == 1 else draw(st.sampled_from([-1, 1]))
    return Mutation(k, kind, shape[:at] + (shape[at] + delta,) + shape[at + 1 :])


@st.composite
def wrong_operand_cases(draw):
    case = draw(dialect_cases())
    return case, draw(mutations(case))


def _arrays(case: Case):
    gen = np.random.default_rng(case.seed)
    return [gen.standard_normal(shape) for shape in case.shapes]


def _wrong_arrays(case: Case, mutation: Mutation):
    arrays = _arrays(case)
    right = arrays[mutation.operand]
    if mutation.perm is not None:
        wrong = np.transpose(right, mutation.perm)
    elif mutation.same_elements:
        wrong = right.reshape(mutation.shape)
    else:
        wrong = np.random.default_rng(case.seed + 1).standard_normal(mutation.shape)
    assert wrong.shape == mutation.shape
    arrays[mutation.operand] = wrong
    return arrays


def _expected(case: Case, arrays):
    return R.einsum(case.spec, *arrays, sizes=dict(case.exact))


def _is_wrong(case: Case, arrays) -> bool:
    """Whether the language's rules refuse these operands (the reference says)."""
    try:
        _expected(case, arrays)
    except R.RefError:
        return True
    return False


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


def _context(case: Case, mutation: Mutation | None = None) -> str:
    text = case.ein_text(NAME).strip()
    shapes = f"right shapes {case.shapes}"
    if mutation is None:
        return f"{text}\n{shapes}"
    return f"{text}\n{shapes}; operand {mutation.operand} given shape {mutation.shape} ({mutation.kind})"


# The cases of issue 10 and the rules they stress: always run.
WRONG_CORNERS = [
    # a composite split differently in two operands
    (Case("I,I->I", ((2, 3), (2, 3))), Mutation(1, "transpose", (3, 2), perm=(1, 0))),
    # a repeated composite whose halves differ
    (Case("II->I", ((4, 4),)), Mutation(0, "resplit", (4, 2, 2), same_elements=True)),
    (Case("II->I", ((2, 3, 2, 3),)), Mutation(0, "transpose", (2, 3, 3, 2), perm=(0, 1, 3, 2))),
    # a composite's rank differs between operands
    (Case("Ij,Ij->j", ((2, 3, 4), (2, 3, 4))), Mutation(1, "resplit", (6, 4), same_elements=True)),
    (Case("BI,I,IJ->BJ", ((2, 3, 4), (3, 4), (3, 4, 2))), Mutation(1, "resplit", (12,), same_elements=True)),
    # a named axis of size 1 does not broadcast
    (Case("ij,jk->ik", ((2, 3), (3, 4))), Mutation(1, "to_one", (1, 4))),
    (Case("bij,bjk,bkl->bil", ((2, 3, 4), (2, 4, 5), (2, 5, 3))), Mutation(0, "to_one", (1, 3, 4))),
    # the same elements transposed
    (Case("ij,jk->ik", ((2, 3), (3, 4))), Mutation(0, "transpose", (3, 2), perm=(1, 0))),
    # a group whose members are fixed elsewhere
    (Case("bij,(ij)k->bk", ((2, 3, 4), (12, 5))), Mutation(1, "off_by_one", (13, 5))),
    (Case("bij,(ij)k->bk", ((2, 3, 4), (12, 5))), Mutation(1, "resplit", (3, 4, 5), same_elements=True)),
    # a `where` exact size
    (Case("(ij)->ij", ((8,),), exact=(("j", 4),)), Mutation(0, "off_by_one", (6,))),
    (Case("(bi)j,jk->b(ik)", ((6, 3), (3, 4)), exact=(("b", 2),)), Mutation(0, "off_by_one", (7, 3))),
    # a diagonal whose axes differ
    (Case("ii->i", ((3, 3),)), Mutation(0, "off_by_one", (3, 4))),
    (Case("ii->", ((3, 3),)), Mutation(0, "rank_up", (3, 3, 1))),
    # `_` stands for size 1; `...` broadcasts only size 1
    (Case("i_j->ij", ((2, 1, 3),)), Mutation(0, "rank_down", (2, 3))),
    (Case("...i,...i->...", ((2, 3), (2, 3))), Mutation(1, "off_by_one", (3, 3))),
    # found by the property: composites inside groups, composites of rank 0
    (Case("W(W)q", ((1, 1),)), Mutation(0, "rank_down", (1,))),
    (Case("(D)DDdd,DD(d)D,e->Dd", ((1, 3, 3), (3,), (2,))), Mutation(0, "rank_down", (3, 3))),
    (Case("(OO),,,r((jr))Or()->O()(Oj)", ((4,), (), (), (1, 1, 2, 1, 1))), Mutation(0, "rank_up", (2, 4))),
]


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

ZERO_CORNERS = [
    Case("bij,bjk,bkl->bil", ((0, 2, 3), (0, 3, 4), (0, 4, 2))),
    Case("bij,bjk,bkl->bil", ((2, 2, 0), (2, 0, 4), (2, 4, 2))),
    Case("ij,jk->ik", ((0, 3), (3, 4))),
    Case("ii->", ((0, 0),)),
    Case("ii->i", ((0, 0),)),
    Case("II->I", ((0, 0),)),
    Case("Ij,jK->IK", ((2, 0, 3), (3, 4))),
    Case("bij,(ij)k->bk", ((2, 3, 4), (12, 0))),
    Case("bij,(ij)k->bk", ((2, 0, 4), (0, 5))),
    Case("(ij)->ij", ((0,),), exact=(("j", 4),)),
    Case("i->ii", ((0,),)),
    Case("ij->i_", ((0, 3),)),
    Case("...i,...i->...", ((0, 3), (1, 3))),
    Case("(a),(a),(A)a,A", ((0,), (0,), (1, 0), ())),
    Case("dd(_)yd,dyd_->(y)()d_d", ((0, 0, 1, 0, 0), (0, 0, 0, 1))),
    Case("(a)a->a_a", ((0, 0),)),
    Case("Ye", ((1, 0, 0),)),
]


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
