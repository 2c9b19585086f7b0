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
from tests.property_cases import CORNERS, DIALECT_CORNERS  # noqa: E402
from tests.property_cases import arrays as _arrays  # noqa: E402
from tests.property_cases import expected as _expected  # noqa: E402

tf = pytest.importorskip("tensorflow")

EXAMPLES = int(os.environ.get("EINIG_PROPERTY_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)

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
