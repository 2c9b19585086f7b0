"""Smoke test of the benchmark harness: `bench/run.py --smoke` at tiny sizes.

Benchmarks are not tests; this only checks that the harness runs end to end
and writes a results table with a row per case and mode."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.tensorflow  # the harness times TensorFlow

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "bench" / "run.py"


def _cases() -> list[str]:
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # defines tables only: TensorFlow is imported in main()
    return list(module.SMOKE_SIZES), list(module.MODES)


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
    cases, modes = _cases()
    for case in cases:
        for mode in modes:
            assert any(
                line.startswith(f"| {case} |") and f"| {mode} |" in line for line in text.splitlines()
            ), f"no row for {case} {mode}"
    assert "MISMATCH" not in text
    assert (tmp_path / "ratios.png").exists()
    assert "einigc benchmark summary" in proc.stdout
