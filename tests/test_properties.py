"""Property tests: random valid specs compile, and the generated functions
equal the numpy reference (tests/numpy_ref.py).

numpy-style specs:
Specs have up to 6 operands, repeated letters in inputs (diagonals), `...` with
numpy broadcasting (size-1 dims, different ellipsis ranks across operands),
scalars, implicit mode, outputs with any order and subset of letters, and
`where` clauses with random typical sizes so that different plans are chosen.

The whole dialect (ein_strategies.dialect_cases): composites, `_` and `()`,
groups in inputs and outputs (nested, holding composites), induced diagonals,
`where` exact sizes that split groups.

EINIG_PROPERTY_EXAMPLES raises the number of examples (default 60).
"""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import example, given, settings  # noqa: E402

from tests import numpy_ref as R  # noqa: E402
from tests.ein_harness import compile_module  # noqa: E402
from tests.ein_strategies import Case, dialect_cases, numpy_style_cases  # noqa: E402

tf = pytest.importorskip("tensorflow")

EXAMPLES = int(os.environ.get("EINIG_PROPERTY_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)

# Specs that once found bugs, or that stress a corner: always run.
CORNERS = [
    Case(",ij->ij", ((), (2, 3))),
    Case("...i,...i->i", ((2, 1, 3), (4, 3))),
    Case("...i,...i->", ((2, 1, 3), (4, 3))),
    Case("i...,...->i", ((3, 2, 1), (4, 2, 4))),
    Case("ii...,...j->j", ((3, 3, 2), (1, 4))),
    Case("...,...->...", ((), (2, 3))),
    Case(
        "iij,jk,kl,lm,mn,nn->in", ((2, 2, 3), (3, 2), (2, 4), (4, 1), (1, 3), (3, 3)), (("k", 1000), ("m", 2))
    ),
    Case(
        "ab,bc,cd,de->ae",
        ((3, 2), (2, 4), (4, 2), (2, 3)),
        (("a", 1000), ("b", 2), ("c", 1000), ("d", 2), ("e", 1000)),
    ),
    Case("a...b,b...c,c...->...a", ((2, 3, 4, 2), (2, 4, 3), (3, 1, 4)), (("b", 1000000),)),
]


def _arrays(case: Case):
    gen = np.random.default_rng(case.seed)
    return [gen.standard_normal(shape) for shape in case.shapes]


def _expected(case: Case, arrays):
    return R.einsum(case.spec, *arrays, sizes=dict(case.exact))


_FUNCTIONS: dict[str, object] = {}


def _graph_function(case: Case):
    """One tf.function per compiled function and signature (no retracing across examples)."""
    fn = compile_module(case.ein_text()).f
    key = (case.ein_text(), tuple(len(s) for s in case.shapes))
    if key not in _FUNCTIONS:
        sig = [tf.TensorSpec([None] * len(s), tf.float64) for s in case.shapes]
        _FUNCTIONS[key] = tf.function(fn, input_signature=sig)
    return _FUNCTIONS[key]


def _check(actual, expected, case):
    assert tuple(actual.shape) == expected.shape, (case, actual.shape, expected.shape)
    assert actual.dtype == tf.float64, (case, actual.dtype)
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-10, atol=1e-10, err_msg=case.ein_text())


def _with_corners(test):
    for case in CORNERS:
        test = example(case)(test)
    return test


@SETTINGS
@_with_corners
@given(numpy_style_cases())
def test_generated_function_equals_reference_eagerly(case):
    module = compile_module(case.ein_text())
    arrays = _arrays(case)
    actual = module.f(*[tf.constant(a) for a in arrays])
    _check(actual, _expected(case, arrays), case)


@SETTINGS
@_with_corners
@given(numpy_style_cases())
def test_generated_function_equals_reference_under_tf_function(case):
    f = _graph_function(case)
    arrays = _arrays(case)
    actual = f(*[tf.constant(a) for a in arrays])
    _check(actual, _expected(case, arrays), case)


# --- the whole dialect ----------------------------------------------------------------

DIALECT_CORNERS = [
    Case("bij,(ij)k->bk", ((2, 3, 4), (12, 5))),
    Case("(ij)->ij", ((8,),), exact=(("j", 4),)),
    Case("(bi)j,jk->b(ik)", ((6, 3), (3, 4)), exact=(("b", 2),)),
    Case("Ij,jK->IK", ((2, 3, 4), (4, 5, 2))),
    Case("Ij,jK->IK", ((4,), (4,))),
    Case("BI,I,IJ->BJ", ((2, 3), (3,), (3,))),
    Case("ij,jk->_i_k_", ((2, 3), (3, 4))),
    Case("i()j->j()i", ((2, 1, 3),)),
    Case("ij->jijij", ((2, 3),)),
    Case("A->AA", ((2, 3),)),
    Case("ijklji->ikjl", ((2, 3, 2, 2, 3, 2),)),
    Case("...i->(...)i", ((2, 3, 4),)),
    Case("i->(ii)", ((3,),)),
    Case("(ii),i->i", ((9,), (3,))),
    Case("a(bc),bc->a(cb)", ((2, 6), (2, 3))),
]


def _with_dialect_corners(test):
    for case in DIALECT_CORNERS:
        test = example(case)(test)
    return test


@SETTINGS
@_with_dialect_corners
@given(dialect_cases())
def test_dialect_function_equals_reference_eagerly(case):
    module = compile_module(case.ein_text())
    arrays = _arrays(case)
    actual = module.f(*[tf.constant(a) for a in arrays])
    _check(actual, _expected(case, arrays), case)


@SETTINGS
@_with_dialect_corners
@given(dialect_cases())
def test_dialect_function_equals_reference_under_tf_function(case):
    f = _graph_function(case)
    arrays = _arrays(case)
    actual = f(*[tf.constant(a) for a in arrays])
    _check(actual, _expected(case, arrays), case)


def test_repeated_output_letters_beside_ellipsis():
    """LANGUAGE.md allows induced diagonals and '...' in one output; the
    dialect strategy avoids the combination so that this test alone covers it."""
    for case in [
        Case("...t->tt...", ((2, 3),)),
        Case("...t,t->t...t", ((2, 1, 3), (3,))),
    ]:
        module = compile_module(case.ein_text())
        arrays = _arrays(case)
        _check(module.f(*[tf.constant(a) for a in arrays]), _expected(case, arrays), case)
