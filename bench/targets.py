"""The per-target benchmark: each case as the einigc module for numpy, torch or jax vs that framework's einsum vs hand-written code, eager and compiled.

For every case, in one process, all of a target's variants (generated, hand,
einsum) × its modes (numpy: eager; torch: eager and torch.compile; jax: eager
and jax.jit) are timed interleaved in a fresh random order each round after
warm-ups (bench/timing.py), medians reported. Each variant's first result is
checked against a float64 numpy reference (or, at GPU sizes, against the
framework's einsum) before it is timed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

from bench.cases import build_cases
from bench.compiled import import_path, short_error
from bench.timing import Variant, run_interleaved

VARIANTS = ("generated", "hand", "einsum")

# Settings per run kind: seconds of timed calls per case (shared by all the
# case's variants), rounds, warm-up calls.
FULL = dict(budget=7.0, rmax=300, rmin=3, warmups=3)
QUICK = dict(budget=0.2, rmax=5, rmin=2, warmups=1)

# Relative error (max |out - ref| / max |ref|) accepted per dtype.
TOLERANCE = {"float32": 2e-4, "bfloat16": 5e-2}


@dataclass(frozen=True)
class CaseRun:
    """One row group: a case at given sizes and dtype."""

    name: str  # the case (bench/cases.py), e.g. "bmm3_skewed"
    decl: str  # its declaration in bench/cases.ein
    spec: str  # as written there
    shapes: tuple  # operand shapes
    dtype: str = "float32"
    flops_eq: Optional[str] = None  # the contraction whose FLOPs a row reports
    sizes: tuple = ()  # (letter, size) pairs, for the report

    @property
    def label(self) -> str:
        return self.name if self.dtype == "float32" else f"{self.name} {self.dtype}"


def case_runs(size_table: dict, dtype: str = "float32", names=None) -> list[CaseRun]:
    """The bench cases at `size_table`'s sizes, in bench/cases.py's order."""
    # The case table is framework-free but for its TF callables, which are
    # only named here, never called: a stub stands in for tf and np.
    stub = SimpleNamespace(linalg=SimpleNamespace(matmul=None), einsum=None)
    runs = []
    for case in build_cases(stub, stub):
        if case.name not in size_table or (names and case.name not in names):
            continue
        sizes = size_table[case.name]
        runs.append(
            CaseRun(
                case.name, case.decl, case.spec, tuple(case.shapes(sizes)), dtype, case.flops_eq, tuple(sizes.items())
            )
        )
    return runs


def flops(run: CaseRun) -> Optional[int]:
    """The FLOPs of the cheapest pairwise order of the case's contraction (opt_einsum's count: a multiply-add is 2)."""
    if run.flops_eq is None:
        return None
    import opt_einsum

    sizes = dict(run.sizes)
    words = run.flops_eq.split("->")[0].split(",")
    shapes = [tuple(sizes[c] for c in word) for word in words]
    _, info = opt_einsum.contract_path(run.flops_eq, *shapes, shapes=True, optimize="optimal")
    return int(info.opt_cost)


def compile_generated(target: str, ein_path: Optional[Path], out_path: Path, text: Optional[str] = None):
    """The einigc module of `ein_path` (or of `text`, a block of eingrad_cases.ein) for `target`, or the compile error's text."""
    from einigc.compiler import compile_text

    try:
        if text is None:
            source = compile_text(ein_path.read_text(), ein_path.name, target).source
        else:
            source = compile_text(text, "eingrad_cases.ein", target).source
    except Exception as exc:  # noqa: BLE001 - a target whose printer fails is reported, its other columns still run
        return None, short_error(exc)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(source)
    return import_path(out_path, out_path.stem), ""


def measure_target(fw, runs: list[CaseRun], generated, cfg: dict, rng, reference: str = "numpy", log=print):
    """Times every case run on framework adapter `fw`; returns (rows, notes)."""
    import numpy as np

    rows, notes = [], []
    for run in runs:
        t0 = time.perf_counter()
        gen_fn = getattr(generated, run.decl, None) if generated is not None else None
        case_rows, case_notes = _measure_run(np, fw, run, gen_fn, cfg, rng, reference)
        rows += case_rows
        notes += case_notes
        summary = ", ".join(
            f"{r['mode']} gen/einsum {_ratio(r, 'einsum')} gen/hand {_ratio(r, 'hand')}" for r in case_rows
        )
        log(f"[bench] {fw.name} {run.label:<18} {time.perf_counter() - t0:5.1f} s  {summary}")
    return rows, notes


def _ratio(row, key) -> str:
    value = row.get(f"gen_over_{key}")
    return "n/a" if value is None else f"{value:.2f}×"


def _measure_run(np, fw, run: CaseRun, gen_fn, cfg, rng, reference):
    fw.before_case()
    arrays = [rng.standard_normal(shape, dtype=np.float32) for shape in run.shapes]
    args = tuple(fw.tensor(a, run.dtype) for a in arrays)
    fns = {"generated": gen_fn, "hand": fw.hand[run.name], "einsum": fw.einsum[run.name]}
    variants = []
    for key in VARIANTS:
        for mode in fw.modes:
            v = Variant(key, mode, fw.wrap(fns[key], mode) if fns[key] else None, args)
            if fns[key] is None:  # the report says once why there is no generated module
                v.ok = False
            variants.append(v)
    notes = []
    compiled_gen = next((v for v in variants if v.key == "generated" and v.mode != "eager" and v.ok), None)
    if fw.graph_breaks is not None and compiled_gen is not None:
        try:
            breaks = fw.graph_breaks(compiled_gen.fn, args)
            if breaks:
                notes.append(f"{run.label} generated {compiled_gen.mode}: {breaks} graph break(s)")
        except Exception as exc:  # noqa: BLE001 - the warm-up reports it as n/a
            notes.append(f"{run.label} generated {compiled_gen.mode}: {short_error(exc)}")
    outputs = {}
    run_interleaved(np, variants, cfg, first_outputs=outputs)
    notes += _check(np, fw, run, arrays, variants, outputs, reference)
    return _rows(run, variants), notes


def _check(np, fw, run, arrays, variants, outputs, reference) -> list[str]:
    """Each variant's first result against the reference; a variant that is off is marked MISMATCH and its time dropped."""
    if reference == "numpy":
        eq_fn = _numpy_reference()
        expected = eq_fn[run.name](*[fw.to_numpy(fw.tensor(a, run.dtype)) for a in arrays])
    else:  # the framework's einsum, eager, as the reference (too large for numpy in float64)
        expected = fw.to_numpy(outputs[("einsum", "eager")]) if ("einsum", "eager") in outputs else None
    notes = []
    for v in variants:
        if not v.ok:
            if v.note:
                notes.append(f"{run.label} {v.key} {v.mode}: {v.note}")
            continue
        if expected is None:
            continue
        error = _relative_error(np, fw.to_numpy(outputs[(v.key, v.mode)]), expected)
        if not error <= TOLERANCE[run.dtype]:
            v.note = f"MISMATCH: relative error {error:.2e}"
            notes.append(f"{run.label} {v.key} {v.mode}: {v.note}")
            v.median_us = None
    return notes


def _numpy_reference():
    import numpy as np

    from bench.target_versions import numpy_versions

    return numpy_versions(np)[1]


def _relative_error(np, out, ref) -> float:
    if out.shape != ref.shape:
        return math.inf
    if not ref.size:
        return 0.0
    return float(np.max(np.abs(out - ref))) / max(float(np.max(np.abs(ref))), 1e-30)


def _rows(run: CaseRun, variants) -> list[dict]:
    by = {(v.key, v.mode): v for v in variants}
    modes = list(dict.fromkeys(v.mode for v in variants))
    rows = []
    for mode in modes:
        row = {"case": run.label, "spec": run.spec, "mode": mode, "dtype": run.dtype, "flops": flops(run)}
        for key in VARIANTS:
            row[key] = by[(key, mode)].median_us
        for key in ("hand", "einsum"):
            row[f"gen_over_{key}"] = row["generated"] / row[key] if row["generated"] and row[key] else None
        rows.append(row)
    return rows
