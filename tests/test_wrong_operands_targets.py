"""Wrong operands on the NumPy, PyTorch and JAX targets: refused, and the error names the generated function.

The same random specs, mutations and corners as tests/test_wrong_operands.py
(TensorFlow; tests/wrong_operand_cases.py holds them): each generated
function gets one wrong operand, which the numpy reference refuses too, and
must raise ValueError or TypeError whose message starts with its name; the
right operands give the reference's value. PyTorch also runs under
torch.compile (dynamic shapes, the eager backend: Dynamo's tracing and
guards, without the time of Inductor's code generation), JAX under jax.jit,
where the checks run while tracing, on the static shapes.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

from tests.ein_harness import compile_module
from tests.ein_strategies import Case
from tests.wrong_operand_cases import (
    NAME,
    WRONG_CORNERS,
    ZERO_CORNERS,
    Mutation,
    arrays,
    context,
    expected,
    is_wrong,
    wrong_arrays,
    wrong_operand_cases,
)

EXAMPLES = int(os.environ.get("EINIG_WRONG_OPERAND_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=max(1, EXAMPLES // 2),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


class _Numpy:
    modes = ("eagerly",)

    def run(self, fn, operands, mode):
        return np.asarray(fn(*operands))


class _Torch:
    modes = ("eagerly", "torch.compile")

    def __init__(self):
        import torch

        self.torch = torch
        self.compiled = {}

    def run(self, fn, operands, mode):
        tensors = [self.torch.from_numpy(np.array(a, order="C")) for a in operands]  # ascontiguousarray makes 0-d 1-d
        if mode == "torch.compile":
            if fn not in self.compiled:
                self.compiled[fn] = self.torch.compile(fn, backend="eager", dynamic=True)
            fn = self.compiled[fn]
        return fn(*tensors).numpy()


class _Jax:
    modes = ("eagerly", "jax.jit")

    def __init__(self):
        import jax

        self.jax = jax
        self.jitted = {}

    def run(self, fn, operands, mode):
        with self.jax.enable_x64(True):
            values = [self.jax.numpy.asarray(a) for a in operands]
            if mode == "jax.jit":
                if fn not in self.jitted:
                    self.jitted[fn] = self.jax.jit(fn)
                fn = self.jitted[fn]
            return np.asarray(fn(*values))


_TARGETS = {"numpy": (_Numpy, "numpy"), "torch": (_Torch, "torch"), "jax": (_Jax, "jax")}
_RUNNERS: dict = {}


def _runner(target: str):
    make, module = _TARGETS[target]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")
    if target not in _RUNNERS:
        _RUNNERS[target] = make()
    return _RUNNERS[target]


def _marks(target: str):
    return [getattr(pytest.mark, target)] if target in ("torch", "jax") else []


TARGET_PARAMS = [pytest.param(t, marks=_marks(t), id=t) for t in ("numpy", "torch", "jax")]


def _function(case: Case, target: str):
    return getattr(compile_module(case.ein_text(NAME), "spec.ein", target), NAME)


def _check_value(actual, want, how):
    assert actual.shape == want.shape, f"{how}: shape {actual.shape}, expected {want.shape}"
    np.testing.assert_allclose(actual, want, rtol=1e-10, atol=1e-10, err_msg=how)


def _check_refusal(case: Case, mutation: Mutation, target: str, modes=None):
    runner = _runner(target)
    fn = _function(case, target)
    right, wrong = arrays(case), wrong_arrays(case, mutation)
    for mode in modes or runner.modes:
        how = f"{target} {mode}\n{context(case, mutation)}"
        _check_value(runner.run(fn, right, mode), expected(case, right), how)
        with pytest.raises((ValueError, TypeError)) as raised:
            runner.run(fn, wrong, mode)
        assert str(raised.value).startswith(f"{NAME}: "), f"{how}: {type(raised.value).__name__}: {raised.value}"


@pytest.mark.parametrize("target", TARGET_PARAMS)
@pytest.mark.parametrize(
    "pair",
    WRONG_CORNERS,
    ids=[f"{c.spec}{list(c.shapes)}:{m.operand}:{m.kind}{m.shape}" for c, m in WRONG_CORNERS],
)
def test_wrong_corner_is_refused_naming_the_function(pair, target):
    case, mutation = pair
    assert is_wrong(case, wrong_arrays(case, mutation))
    _check_refusal(case, mutation, target)


def _random_refusal(target):
    @SETTINGS
    @given(wrong_operand_cases())
    def check(pair):
        case, mutation = pair
        assume(is_wrong(case, wrong_arrays(case, mutation)))
        # Compiling each random spec with torch.compile would take minutes: eagerly here, the corners compiled.
        _check_refusal(case, mutation, target, modes=[m for m in _runner(target).modes if m != "torch.compile"])

    check()


@pytest.mark.parametrize("target", TARGET_PARAMS)
def test_random_wrong_operands_are_refused_naming_the_function(target):
    _runner(target)
    _random_refusal(target)


@pytest.mark.parametrize("target", TARGET_PARAMS)
@pytest.mark.parametrize("case", ZERO_CORNERS, ids=lambda c: f"{c.spec}{list(c.shapes)}")
def test_zero_size_corners_give_numpy_shapes(case, target):
    runner = _runner(target)
    fn = _function(case, target)
    operands = arrays(case)
    for mode in runner.modes:
        _check_value(runner.run(fn, operands, mode), expected(case, operands), f"{target} {mode}\n{context(case)}")
