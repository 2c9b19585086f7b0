"""Timing: every variant of a case in this one process, interleaved in a fresh random order each round."""

from __future__ import annotations

import gc
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from bench.cases import MODES, NP_VARIANTS, TF_VARIANTS, Case
from bench.compiled import short_error

# np.einsum(optimize=False) runs one nested loop over every index: above this
# many opt_einsum "naive" FLOPs a single call takes many seconds, so it is
# skipped (and the table says so) rather than timed.
NP_NAIVE_LIMIT = 2e9

# numpy's two variants get this share of a case's timing budget.
NP_BUDGET_SHARE = 0.25


@dataclass
class Variant:
    key: str  # generated / hand / tf.einsum / np False / np True / ...
    mode: str  # eager / function / xla / numpy
    fn: Callable
    args: tuple
    note: str = ""
    ok: bool = True
    samples: list = field(default_factory=list)
    estimate: float = 0.0
    inner: int = 1
    rounds: int = 0
    median_us: Optional[float] = None
    error: Optional[float] = None  # relative error against the reference


def relative_error(np, out, ref) -> float:
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if out.shape != ref.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(ref))) if ref.size else 0.0, 1e-30)
    return float(np.max(np.abs(out - ref))) / scale if ref.size else 0.0


def to_numpy(value):
    return value.numpy() if hasattr(value, "numpy") else value


def tf_variants(tf, fns: list[tuple[str, Callable]], args: tuple) -> list[Variant]:
    """Each (key, fn) eagerly, under tf.function and under tf.function(jit_compile=True)."""
    variants = []
    for key, fn in fns:
        for mode in MODES:
            wrapped = fn if mode == "eager" else tf.function(fn, jit_compile=(mode == "xla"))
            variants.append(Variant(key, mode, wrapped, args))
    return variants


def run_interleaved(np, variants: list[Variant], cfg: dict, reference=None, tolerance=2e-4, first_outputs=None):
    """Warm-up (first call traces / compiles), check, then interleaved timing in random orders."""
    for v in variants:
        if v.ok:
            _warm_up(np, v, cfg, reference, tolerance, first_outputs)
    live = [v for v in variants if v.ok]
    if not live:
        return
    share = cfg["budget"] / len(live)
    for v in live:
        # Batch sub-200 µs calls so the timer and loop overhead stay negligible.
        v.inner = max(1, min(50, int(200e-6 / max(v.estimate, 1e-7))))
        per_sample = v.estimate * v.inner
        v.rounds = max(cfg["rmin"], min(cfg["rmax"], int(share / max(per_sample, 1e-9))))
    gc.collect()
    gc.disable()
    try:
        _timed_rounds(live)
    finally:
        gc.enable()
    for v in live:
        v.median_us = statistics.median(v.samples) * 1e6


def _warm_up(np, v: Variant, cfg: dict, reference, tolerance, first_outputs) -> None:
    """The first call (checked against `reference`), then an estimate of one call's time."""
    try:
        out = v.fn(*v.args)
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        v.ok = False
        v.note = "n/a: " + short_error(exc)
        return
    if first_outputs is not None:
        first_outputs[(v.key, v.mode)] = out
    if reference is not None:
        v.error = relative_error(np, to_numpy(out), reference)
        if not v.error <= tolerance:
            v.note = f"MISMATCH: relative error {v.error:.2e}"
    # The first call may trace or compile: estimate from the calls after it
    # (only one more for slow variants).
    times = []
    for _ in range(cfg["warmups"]):
        start = time.perf_counter()
        v.fn(*v.args)
        times.append(time.perf_counter() - start)
        if times[-1] > 0.2:
            break
    v.estimate = min(times)


def _timed_rounds(live: list[Variant]) -> None:
    # A fresh random order each round: a variant measured right after
    # another inherits its after-effects (an eager tape's deallocations
    # slowed the tf.function call after it by 10-15 %), so no variant may
    # always follow the same one, as it would in a fixed rotation.
    rmax = max(v.rounds for v in live)
    shuffler = random.Random(20261126)
    for r in range(rmax):
        order = shuffler.sample(live, len(live))
        for v in order:
            # Spread each variant's rounds evenly over the rmax rounds.
            if (r + 1) * v.rounds // rmax == r * v.rounds // rmax:
                continue
            fn, args, inner = v.fn, v.args, v.inner
            start = time.perf_counter()
            for _ in range(inner):
                fn(*args)
            v.samples.append((time.perf_counter() - start) / inner)


def measure_case(tf, np, case: Case, sizes: dict, gen_fn, cfg: dict, rng) -> tuple[list[dict], list[str]]:
    """Times one case's variants; returns its rows (one per mode) and its notes."""
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in case.shapes(sizes)]
    tensors = [tf.constant(a) for a in arrays]
    reference = case.np_fn(True, *[a.astype(np.float64) for a in arrays])
    variants = tf_variants(tf, [("generated", gen_fn), ("hand", case.hand), ("tf.einsum", case.einsum)], tuple(tensors))
    np_variants = _numpy_variants(case, sizes, arrays)
    outputs = {}
    # The TF variants are interleaved with each other; numpy's separately
    # afterwards: a long single-threaded numpy call between TF calls lets
    # TF's thread pool fall asleep and skews whichever TF call follows it.
    run_interleaved(np, variants, cfg, reference=reference, first_outputs=outputs)
    run_interleaved(np, np_variants, dict(cfg, budget=cfg["budget"] * NP_BUDGET_SHARE), reference=reference)
    variants += np_variants
    notes = []
    # The hand-written reference must equal the generated result, not only numpy's.
    gen_out, hand_out = outputs.get(("generated", "eager")), outputs.get(("hand", "eager"))
    if gen_out is not None and hand_out is not None:
        err = relative_error(np, to_numpy(gen_out), to_numpy(hand_out))
        if not err <= 2e-4:
            notes.append(f"{case.name}: generated and hand-written results differ (relative error {err:.2e})")
    for v in variants:
        if v.mode in ("function", "xla") and v.ok and hasattr(v.fn, "experimental_get_tracing_count"):
            count = v.fn.experimental_get_tracing_count()
            if count != 1:
                notes.append(f"{case.name} {v.key} {v.mode}: traced {count} times")
        if v.note:
            notes.append(f"{case.name} {v.key} {v.mode}: {v.note}")
    return _rows(case, variants), notes


def _numpy_variants(case: Case, sizes: dict, arrays: list) -> list[Variant]:
    import opt_einsum

    variants = []
    for key, optimize in (("np False", False), ("np True", True)):
        v = Variant(key, "numpy", lambda *a, _o=optimize: case.np_fn(_o, *a), tuple(arrays))
        if not optimize:
            _, info = opt_einsum.contract_path(case.np_eq, *case.np_shapes(sizes), shapes=True)
            if info.naive_cost > NP_NAIVE_LIMIT:
                v.ok = False
                v.note = f"skipped: its nested loop would do {int(info.naive_cost):,} FLOPs (> {NP_NAIVE_LIMIT:.0e}) per call"
        variants.append(v)
    return variants


def _rows(case: Case, variants: list[Variant]) -> list[dict]:
    by = {(v.key, v.mode): v for v in variants}
    rows = []
    for mode in MODES:
        row = {"case": case.name, "spec": case.spec, "mode": mode}
        for key in TF_VARIANTS:
            row[key] = by[(key, mode)].median_us
        if mode == "eager":
            for key in NP_VARIANTS:
                row[key] = by[(key, "numpy")].median_us
                row[key + " note"] = by[(key, "numpy")].note
        row["gen_over_hand"] = row["generated"] / row["hand"] if row["generated"] and row["hand"] else None
        row["gen_over_einsum"] = row["generated"] / row["tf.einsum"] if row["generated"] and row["tf.einsum"] else None
        rows.append(row)
    return rows
