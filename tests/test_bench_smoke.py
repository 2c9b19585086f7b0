"""Smoke test of the benchmark harness (`bench/run.py --smoke` at tiny sizes) and of its plan reading.

Benchmarks are not tests; this only checks that the harness runs end to end
and writes a results table with a row per case and mode, and that the plan
the benchmark reads through the compiler's stages is the one the generated
docstring states."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from bench import plans
from bench.cases import MODES, SMOKE_SIZES, build_cases  # tables only: no TensorFlow imported

import pytest

pytestmark = pytest.mark.tensorflow  # the harness times TensorFlow

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "bench" / "run.py"
CASES_EIN = REPO / "bench" / "cases.ein"


def test_bench_smoke(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, str(RUN), "--smoke", "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    table = tmp_path / "results.md"
    assert table.exists()
    text = table.read_text()
    for case in SMOKE_SIZES:
        for mode in MODES:
            assert any(
                line.startswith(f"| {case} |") and f"| {mode} |" in line for line in text.splitlines()
            ), f"no row for {case} {mode}"
    lines = text.splitlines()
    for section in ("## Notes", "## Contraction FLOPs at the benchmarked sizes", "## Peak memory: exponential-space case"):
        assert section in lines, section
    for section in ("## Compile time and start-up", "## eingrad"):
        assert section in lines, section
    assert any(line.startswith("| vjp | eager |") for line in lines), "no eingrad row"
    assert "MISMATCH" not in text
    assert (tmp_path / "ratios.png").exists()
    assert "einigc benchmark summary" in proc.stdout


def _cases_without_tensorflow():
    # Building the tables reads tf.linalg.matmul and np.einsum by name only:
    # none of the callables is called here.
    stub = SimpleNamespace(linalg=SimpleNamespace(matmul=None), einsum=None)
    return build_cases(stub, stub)


def _docstrings() -> dict[str, str]:
    from einigc import checks, ein_parser, lower
    from einigc.errors import DiagnosticSink

    sink = DiagnosticSink()
    module = lower.lower(checks.check(ein_parser.parse(CASES_EIN.read_text(), sink), sink), "cases.ein", sink)
    from einigc.targets.docstring import docstring_text

    return {function.name: docstring_text(function.doc) for function in module.functions}


def test_plan_read_from_the_ir_is_the_one_the_docstring_states():
    docs = _docstrings()
    planned = 0
    for case in _cases_without_tensorflow():
        plan = plans.compiled_plan(CASES_EIN, case, docs[case.decl])
        printed = plans._from_docstring(docs[case.decl], "the oracle")
        if case.flops_eq is None:  # one operand: no pairwise order to plan
            assert plan.source.startswith("ir") and not plan.order, case.name
            continue
        assert plan.source == "ir", (case.name, plan.source)
        assert plan.planned_flops is not None and plan.naive_flops is not None, case.name
        planned += 1
        if printed.order:  # the docstring prints an order where there were two steps or more
            assert plan.order == printed.order, case.name
            assert plan.planned_flops == printed.planned_flops, case.name
        else:
            assert len(plan.order) <= 1, case.name
    assert planned >= 6


def test_plan_uses_the_declared_where_sizes():
    # chain declares skewed sizes: at the default 64 every order costs about
    # the same, at a ~ 1000, b ~ 2 the middle pair goes first.
    sizes = dict(plans.declared_sizes(CASES_EIN)["chain"])
    assert sizes["a"] == (1000, "where ~") and sizes["b"] == (2, "where ~")
    chain = next(c for c in _cases_without_tensorflow() if c.name == "chain")
    plan = plans.compiled_plan(CASES_EIN, chain, "")
    assert plan.order[0] == "bc,cd->bd"
    assert ("a", 1000, "where ~") in plan.sizes
    assert plan.planned_flops == 4_016_000
    assert plans.path_cost(plan.order, {"a": 1000, "b": 2, "c": 1000, "d": 2, "e": 1000}) == 4_016_000
