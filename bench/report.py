#!/usr/bin/env python3
"""`make bench`: einigc's generated code against tf.einsum, hand-written TF and numpy.

Compiles bench/cases.ein with the einigc package, imports the generated module
and, for every case, times in this one process, interleaved (a fresh random
order each round) over all variants, after warm-ups, reporting medians:

  generated   the einigc-generated function
  hand        expert hand-written TensorFlow (matmul / reshape / gather /
              scatter_nd / reduce_sum(keepdims=True)), checked numerically
              against a float64 numpy reference and against the generated
              result before it is timed
  tf.einsum   the whole spec as a user would write it with tf.einsum (the
              nearest formulation for dialect-only specs)
  np False / np True   np.einsum(optimize=False / True)

each TF variant eagerly, under tf.function (traced once before timing) and
under tf.function(jit_compile=True) where that works ('n/a' and the reason
otherwise). It also reports the FLOPs of einigc's plan against opt_einsum's
greedy and optimal paths, peak memory of an exponential-space case (a fresh
subprocess per variant), the time to compile a 1,000-declaration file and the
wall time of `einigc --help`.

Outputs: OUT/results.md, OUT/results.json, OUT/ratios.png (OUT defaults to
bench/results). `--smoke` runs everything at tiny sizes with few rounds.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib.util
import json
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MODES = ("eager", "function", "xla")
TF_VARIANTS = ("generated", "hand", "tf.einsum")
NP_VARIANTS = ("np False", "np True")

# np.einsum(optimize=False) runs one nested loop over every index: above this
# many opt_einsum "naive" FLOPs a single call takes many seconds, so it is
# skipped (and the table says so) rather than timed.
NP_NAIVE_LIMIT = 2e9

# The summary lists rows where the generated code is slower than this ratio:
# medians of interleaved runs on a shared 2-core machine move by a few percent.
LOSS = 1.05

# numpy's two variants get this share of a case's timing budget.
NP_BUDGET_SHARE = 0.25


# --------------------------------------------------------------------------
# Sizes


FULL_SIZES = {
    "bmm3": dict(b=32, i=128, j=128, k=128, l=128),
    "bmm3_skewed": dict(b=8, i=1024, j=256, k=256, l=4),
    "chain": dict(a=1000, b=2, c=1000, d=2, e=1000),
    "bilinear": dict(b=256, i=64, j=64, k=64),
    "project": dict(b=256, i=32, j=32, k=256),
    "scores": dict(b=16, q=256, k=256, d=64),
    "mix": dict(b=16, q=256, k=256, d=64),
    "diag6": dict(i=16, j=16, k=16, l=16),
    "induced": dict(i=48, j=48),
    "composite": dict(a=16, b=32, j=256, c=8, d=32),
    "keepdims": dict(i=2048, j=1024),
    "small_matmul": dict(i=4, j=4, k=4),
    "chain6": dict(a=128, b=128, c=128, d=128, e=128, f=128, g=128),
}

SMOKE_SIZES = {
    "bmm3": dict(b=2, i=3, j=4, k=5, l=6),
    "bmm3_skewed": dict(b=2, i=16, j=4, k=4, l=2),
    "chain": dict(a=10, b=2, c=10, d=2, e=10),
    "bilinear": dict(b=3, i=4, j=5, k=6),
    "project": dict(b=3, i=2, j=4, k=5),
    "scores": dict(b=2, q=3, k=4, d=5),
    "mix": dict(b=2, q=3, k=4, d=5),
    "diag6": dict(i=2, j=3, k=4, l=5),
    "induced": dict(i=3, j=4),
    "composite": dict(a=2, b=3, j=4, c=5, d=2),
    "keepdims": dict(i=5, j=7),
    "small_matmul": dict(i=4, j=4, k=4),
    "chain6": dict(a=3, b=4, c=5, d=3, e=4, f=5, g=3),
}

# Settings per run kind: seconds of timed calls per case, rounds, sizes of the
# memory case and of the compile-time file.
FULL = dict(budget=15.0, eingrad_budget=6.0, rmax=500, rmin=3, warmups=3, mem_n=14, decls=1000, compile_runs=3, help_runs=7)
SMOKE = dict(budget=0.25, eingrad_budget=0.25, rmax=5, rmin=2, warmups=1, mem_n=5, decls=100, compile_runs=1, help_runs=3)


# --------------------------------------------------------------------------
# Cases


@dataclass
class Case:
    name: str  # key of the size tables, label in the results
    decl: str  # the declaration in cases.ein
    spec: str  # the spec as written in cases.ein
    shapes: Callable[[dict], list]  # sizes -> operand shapes
    hand: Callable  # expert TF
    einsum: Callable  # tf.einsum as a user would write it
    einsum_note: str  # how the tf.einsum column is formulated, if not the spec itself
    np_fn: Callable  # (optimize, *arrays) -> array: np.einsum formulation
    np_eq: str  # the equation np_fn passes to np.einsum (for its naive cost)
    np_shapes: Callable[[dict], list]  # sizes -> shapes of np_fn's einsum operands
    flops_eq: Optional[str] = None  # core equation of the contraction, for FLOPs
    flops_note: str = ""


def _letters_shape(word: str) -> Callable[[dict], tuple]:
    return lambda s: tuple(s[c] for c in word)


def _operand_shapes(eq: str) -> Callable[[dict], list]:
    words = eq.split("->")[0].split(",")
    return lambda s: [tuple(s[c] for c in w) for w in words]


def build_cases(tf, np) -> list[Case]:
    mm = tf.linalg.matmul

    def tf_einsum_of(eq):
        def einsum(*operands):
            return tf.einsum(eq, *operands)

        return einsum

    def np_einsum(eq):
        return lambda optimize, *a: np.einsum(eq, *a, optimize=optimize)

    def core(name, decl, spec, hand, note="", np_eq=None):
        return Case(
            name=name,
            decl=decl,
            spec=spec,
            shapes=_operand_shapes(spec),
            hand=hand,
            einsum=tf_einsum_of(spec),
            einsum_note=note,
            np_fn=np_einsum(spec),
            np_eq=spec,
            np_shapes=_operand_shapes(spec),
            flops_eq=spec if "," in spec else None,
        )

    # -- hand-written references ---------------------------------------
    def bilinear_hand(x, w, y):
        i, j, k = w.shape
        t = tf.reshape(mm(x, tf.reshape(w, [i, j * k])), [-1, j, k])
        return tf.linalg.matvec(t, y)

    def project_hand(x, w):
        return mm(tf.reshape(x, [x.shape[0], -1]), w)

    def project_einsum(x, w):
        return tf.einsum("bm,mk->bk", tf.reshape(x, [x.shape[0], -1]), w)

    def diag6_hand(x):
        # x[i, j, k, l, j, i] -> out[i, k, j, l]: one gather of precomputable flat indices.
        shape = x.shape.as_list()
        stride = [1] * 6
        for axis in range(4, -1, -1):
            stride[axis] = stride[axis + 1] * shape[axis + 1]
        i, j, k, l = shape[:4]
        index = (
            tf.reshape(tf.range(i) * (stride[0] + stride[5]), [-1, 1, 1, 1])
            + tf.reshape(tf.range(k) * stride[2], [1, -1, 1, 1])
            + tf.reshape(tf.range(j) * (stride[1] + stride[4]), [1, 1, -1, 1])
            + tf.reshape(tf.range(l) * stride[3], [1, 1, 1, -1])
        )
        return tf.gather(tf.reshape(x, [-1]), index)

    def induced_hand(x):
        # out[j, i, j, i] = x[i, j]: entry m of transpose(x) lands at flat m * (n + 1).
        i, j = x.shape
        n = i * j
        position = tf.reshape(tf.range(n) * (n + 1), [-1, 1])
        flat = tf.scatter_nd(position, tf.reshape(tf.transpose(x), [-1]), [n * n])
        return tf.reshape(flat, [j, i, j, i])

    def induced_einsum(x):
        i, j = x.shape
        return tf.einsum("ij,jk,il->jikl", x, tf.eye(j, dtype=x.dtype), tf.eye(i, dtype=x.dtype))

    def induced_np(optimize, x):
        i, j = x.shape
        return np.einsum("ij,jk,il->jikl", x, np.eye(j, dtype=x.dtype), np.eye(i, dtype=x.dtype), optimize=optimize)

    def composite_hand(x, y):
        out_shape = x.shape[:-1].concatenate(y.shape[1:])
        product = mm(tf.reshape(x, [-1, x.shape[-1]]), tf.reshape(y, [y.shape[0], -1]))
        return tf.reshape(product, out_shape)

    cases = [
        core("bmm3", "bmm3", "bij,bjk,bkl->bil", lambda x, y, z: mm(mm(x, y), z)),
        # Same declaration, skewed sizes at run time: the expert knows them
        # and multiplies right to left.
        core("bmm3_skewed", "bmm3", "bij,bjk,bkl->bil", lambda x, y, z: mm(x, mm(y, z))),
        core("chain", "chain", "ab,bc,cd,de->ae", lambda a, b, c, d: mm(mm(a, mm(b, c)), d)),
        core("bilinear", "bilinear", "bi,ijk,bk->bj", bilinear_hand),
        Case(
            name="project",
            decl="project",
            spec="bij,(ij)k->bk",
            shapes=lambda s: [(s["b"], s["i"], s["j"]), (s["i"] * s["j"], s["k"])],
            hand=project_hand,
            einsum=project_einsum,
            einsum_note="tf.einsum('bm,mk->bk', reshape(x, [b, -1]), w)",
            np_fn=lambda optimize, x, w: np.einsum("bm,mk->bk", x.reshape(x.shape[0], -1), w, optimize=optimize),
            np_eq="bm,mk->bk",
            np_shapes=lambda s: [(s["b"], s["i"] * s["j"]), (s["i"] * s["j"], s["k"])],
            flops_eq="bij,ijk->bk",
            flops_note="core form bij,ijk->bk",
        ),
        core("scores", "scores", "bqd,bkd->bqk", lambda q, k: mm(q, k, transpose_b=True)),
        core("mix", "mix", "bqk,bkd->bqd", lambda p, v: mm(p, v)),
        core("diag6", "diag6", "ijklji->ikjl", diag6_hand),
        Case(
            name="induced",
            decl="induced",
            spec="ij->jiji",
            shapes=_operand_shapes("ij->"),
            hand=induced_hand,
            einsum=induced_einsum,
            einsum_note="tf.einsum('ij,jk,il->jikl', x, eye(j), eye(i))",
            np_fn=induced_np,
            np_eq="ij,jk,il->jikl",
            np_shapes=lambda s: [(s["i"], s["j"]), (s["j"], s["j"]), (s["i"], s["i"])],
        ),
        Case(
            name="composite",
            decl="composite",
            spec="Ij,jK->IK",
            shapes=_operand_shapes("abj,jcd->"),
            hand=composite_hand,
            einsum=lambda x, y: tf.einsum("abj,jcd->abcd", x, y),
            einsum_note="tf.einsum('abj,jcd->abcd') with I = ab, K = cd",
            np_fn=np_einsum("abj,jcd->abcd"),
            np_eq="abj,jcd->abcd",
            np_shapes=_operand_shapes("abj,jcd->"),
            flops_eq="abj,jcd->abcd",
            flops_note="I = ab, K = cd",
        ),
        Case(
            name="keepdims",
            decl="keepdims",
            spec="ij->i_",
            shapes=_operand_shapes("ij->"),
            hand=lambda x: tf.reduce_sum(x, axis=1, keepdims=True),
            einsum=lambda x: tf.expand_dims(tf.einsum("ij->i", x), -1),
            einsum_note="expand_dims(tf.einsum('ij->i', x), -1)",
            np_fn=lambda optimize, x: np.einsum("ij->i", x, optimize=optimize)[:, None],
            np_eq="ij->i",
            np_shapes=_operand_shapes("ij->"),
        ),
        core("small_matmul", "small_matmul", "ij,jk->ik", lambda a, b: mm(a, b)),
        core(
            "chain6",
            "chain6",
            "ab,bc,cd,de,ef,fg->ag",
            lambda a, b, c, d, e, f: mm(mm(mm(mm(mm(a, b), c), d), e), f),
        ),
    ]
    return cases


# --------------------------------------------------------------------------
# Compilation


def compile_file(ein_path: Path, out_path: Path) -> None:
    """Compiles `ein_path` with the einigc package into `out_path`."""
    from einigc.compiler import compile_text

    result = compile_text(ein_path.read_text(), ein_path.name)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(result.source)


def import_path(path: Path, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def short_error(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    diagnostic = getattr(exc, "diagnostic", None)
    if diagnostic is not None:
        text = diagnostic.message
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = lines[0] if lines else type(exc).__name__
    return f"{type(exc).__name__}: {line}"[:160]


# --------------------------------------------------------------------------
# Timing


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


def run_interleaved(np, variants: list[Variant], cfg: dict, reference=None, tolerance=2e-4, first_outputs=None):
    """Warm-up (first call traces / compiles), check, then interleaved timing in random orders."""
    for v in variants:
        if not v.ok:
            continue
        try:
            start = time.perf_counter()
            out = v.fn(*v.args)
            first = time.perf_counter() - start
        except Exception as exc:  # noqa: BLE001 - reported, not hidden
            v.ok = False
            v.note = "n/a: " + short_error(exc)
            continue
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

    live = [v for v in variants if v.ok]
    if not live:
        return
    share = cfg["budget"] / len(live)
    for v in live:
        # Batch sub-200 µs calls so the timer and loop overhead stay negligible.
        v.inner = max(1, min(50, int(200e-6 / max(v.estimate, 1e-7))))
        per_sample = v.estimate * v.inner
        v.rounds = max(cfg["rmin"], min(cfg["rmax"], int(share / max(per_sample, 1e-9))))
    rmax = max(v.rounds for v in live)
    gc.collect()
    gc.disable()
    try:
        # A fresh random order each round: a variant measured right after
        # another inherits its after-effects (an eager tape's deallocations
        # slowed the tf.function call after it by 10-15 %), so no variant may
        # always follow the same one, as it would in a fixed rotation.
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
    finally:
        gc.enable()
    for v in live:
        v.median_us = statistics.median(v.samples) * 1e6


# --------------------------------------------------------------------------
# FLOPs


def parse_docstring_plan(doc: str):
    """The pairwise order and planned FLOPs recorded in a generated docstring."""
    order = None
    # The order may wrap onto continuation lines; it ends where "FLOPs:" starts.
    match = re.search(r"order \([^)]*\):(.+?)(?:FLOPs:|sizes assumed:|\n\s*\n|$)", doc or "", re.DOTALL)
    if match:
        text = re.sub(r"\s+", "", match.group(1))
        order = [step for step in text.split(";") if step]
    flops = None
    match = re.search(r"FLOPs:\s*([\d,]+)\s+planned", doc or "")
    if match:
        flops = int(match.group(1).replace(",", ""))
    return order, flops


def path_cost(steps: list[str], sizes: dict) -> int:
    from opt_einsum.helpers import flop_count

    total = 0
    for step in steps:
        lhs, out = step.split("->")
        inputs = lhs.split(",")
        letters = set("".join(inputs)) | set(out)
        inner = bool(set("".join(inputs)) - set(out))
        total += flop_count(letters, inner, len(inputs), sizes)
    return total


def flops_report(case: Case, sizes: dict, generated_fn) -> dict:
    import opt_einsum

    row = {"case": case.name, "spec": case.spec, "note": case.flops_note}
    if case.flops_eq is None:
        row["skip"] = "one operand: no contraction path"
        return row
    shapes = _operand_shapes(case.flops_eq)(sizes)
    _, greedy = opt_einsum.contract_path(case.flops_eq, *shapes, shapes=True, optimize="greedy")
    _, optimal = opt_einsum.contract_path(case.flops_eq, *shapes, shapes=True, optimize="optimal")
    row["greedy"] = int(greedy.opt_cost)
    row["optimal"] = int(optimal.opt_cost)
    row["naive"] = int(optimal.naive_cost)
    order, doc_flops = parse_docstring_plan(getattr(generated_fn, "__doc__", ""))
    row["doc_flops"] = doc_flops
    n_inputs = len(case.flops_eq.split("->")[0].split(","))
    if order:
        row["einigc"] = path_cost(order, sizes)
        row["order"] = "; ".join(order)
    elif n_inputs <= 2:
        row["einigc"] = row["optimal"]  # one pair: the only path
        row["order"] = "(single pairwise step)"
    else:
        row["einigc"] = None
        row["order"] = "no 'order' line in the docstring"
    try:
        from einigc.plan import plan_contraction

        lhs, out = case.flops_eq.split("->")
        plan = plan_contraction(
            [tuple(w) for w in lhs.split(",")], tuple(out), {k: (v, "bench") for k, v in sizes.items()}
        )
        row["einigc_known_sizes"] = int(plan.planned_flops)
    except Exception as exc:  # noqa: BLE001
        row["einigc_known_sizes"] = None
        row["plan_error"] = short_error(exc)
    return row


# --------------------------------------------------------------------------
# Memory: one fresh subprocess per variant


MEMORY_VARIANTS = ("generated", "hand", "tf.einsum", "naive broadcast (TF)", "np True", "np False")
MEMORY_EQ = "ab,bc,cd,de,ef,fg->ag"


def _vm(field_name: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def memory_child(variant: str, n: int, build: Path) -> None:
    """Runs one variant of the memory case once and prints its peaks as JSON."""
    import numpy as np
    import tensorflow as tf

    gen = import_path(build / "cases_generated.py", "cases_generated")
    rng = np.random.default_rng(0)

    def inputs(size):
        arrays = [rng.standard_normal((size, size)).astype(np.float32) for _ in range(6)]
        return arrays, [tf.constant(a) for a in arrays]

    def naive_broadcast(a, b, c, d, e, f):
        # Every index at once: [a, b, c, d, e, f, g], then sum b..f.
        size = a.shape[0]
        product = tf.reshape(a, [size, size, 1, 1, 1, 1, 1])
        for axis, m in enumerate((b, c, d, e, f), start=1):
            shape = [1] * 7
            shape[axis], shape[axis + 1] = size, size
            product = product * tf.reshape(m, shape)
        return tf.reduce_sum(product, axis=[1, 2, 3, 4, 5])

    mm = tf.linalg.matmul
    fns = {
        "generated": lambda *t: gen.chain6(*t),
        "hand": lambda a, b, c, d, e, f: mm(mm(mm(mm(mm(a, b), c), d), e), f),
        "tf.einsum": lambda *t: tf.einsum(MEMORY_EQ, *t),
        "naive broadcast (TF)": naive_broadcast,
        "np True": lambda *a: np.einsum(MEMORY_EQ, *a, optimize=True),
        "np False": lambda *a: np.einsum(MEMORY_EQ, *a, optimize=False),
    }
    fn = fns[variant]
    is_np = variant.startswith("np")
    # Warm the runtime and this variant's kernels at a tiny size first.
    small_np, small_tf = inputs(2)
    fn(*(small_np if is_np else small_tf))
    arrays, tensors = inputs(n)
    args = arrays if is_np else tensors
    gc.collect()
    try:
        tf.config.experimental.reset_memory_stats("CPU:0")
    except Exception:  # noqa: BLE001
        pass
    rss_before = _vm("VmRSS")
    reset = False
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM (the peak RSS) to the current RSS
        reset = True
    except OSError:
        pass
    out = fn(*args)
    _ = to_numpy(out)
    hwm = _vm("VmHWM")
    tf_peak = None
    if not is_np:
        try:
            tf_peak = int(tf.config.experimental.get_memory_info("CPU:0")["peak"])
        except Exception:  # noqa: BLE001
            tf_peak = None
    result = {
        "variant": variant,
        "rss_before_kb": rss_before,
        "hwm_after_kb": hwm if reset else None,
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "tf_peak_bytes": tf_peak,
    }
    print("MEMORY-RESULT " + json.dumps(result))


def measure_memory(n: int, build: Path, parallel: int) -> list[dict]:
    def one(variant):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-variant", variant, "--memory-n", str(n), "--build", str(build)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        for line in proc.stdout.splitlines():
            if line.startswith("MEMORY-RESULT "):
                return json.loads(line[len("MEMORY-RESULT "):])
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"variant": variant, "error": f"exit {proc.returncode}: {tail[:160]}"}

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, MEMORY_VARIANTS))


# --------------------------------------------------------------------------
# Compile time and start-up


DECL_TEMPLATES = [
    ('einsum("ij,jk->ik", x, y)', "x, y", ""),
    ('einsum("bij,bjk,bkl->bil", x, y, z)', "x, y, z", ""),
    ('einsum("ab,bc,cd,de->ae", a, b, c, d)', "a, b, c, d", " where a ~ 1000, b ~ 2, c ~ 1000, d ~ 2, e ~ 1000"),
    ('einsum("bi,ijk,bk->bj", x, w, y)', "x, w, y", ""),
    ('einsum("bij,(ij)k->bk", x, w)', "x, w", ""),
    ('einsum("bqd,bkd->bqk", q, k)', "q, k", ""),
    ('einsum("ijklji->ikjl", x)', "x", ""),
    ('einsum("ij->jiji", x)', "x", ""),
    ('einsum("Ij,jK->IK", x, y)', "x, y", ""),
    ('einsum("ij->i_", x)', "x", ""),
    ('einsum("...i,...i->...", x, y)', "x, y", ""),
    ('einsum("ii->", einsum("ij,kj->ik", x, x))', "x", ""),
    ('eincount("ij,jk->ik", a, b)', "a, b", ""),
    ('einsum("ab,bc,cd,de,ef,fg->ag", a, b, c, d, e, f)', "a, b, c, d, e, f", ""),
]


def write_many_declarations(path: Path, count: int) -> None:
    lines = ['"""Generated by bench/run.py: compile-time benchmark."""', ""]
    for index in range(count):
        expr, params, where = DECL_TEMPLATES[index % len(DECL_TEMPLATES)]
        lines.append(f"# Declaration {index}.")
        lines.append(f"d{index}({params}) = {expr}{where}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def einigc_command() -> list[str]:
    script = Path(sys.executable).parent / "einigc"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "einigc"]


def measure_compile(build: Path, count: int, runs: int) -> dict:
    """In-process compile once (it is the slow part); the command `runs` times."""
    from einigc.compiler import compile_text

    source = build / f"decls{count}.ein"
    write_many_declarations(source, count)
    text = source.read_text()
    result = {"declarations": count}
    try:
        times, size = [], 0
        for _ in range(1):
            start = time.perf_counter()
            out = compile_text(text, source.name)
            times.append(time.perf_counter() - start)
            size = len(out.source)
        result["in_process_s"] = statistics.median(times)
        result["generated_lines"] = out.source.count("\n")
        result["generated_bytes"] = size
    except Exception as exc:  # noqa: BLE001
        result["in_process_error"] = short_error(exc)
    times = []
    for _ in range(runs):
        cmd = einigc_command() + [str(source), "-o", str(build / f"decls{count}_generated.py")]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            result["cli_error"] = (proc.stderr.strip().splitlines() or ["?"])[0][:160]
            break
    result["cli_wall_s"] = statistics.median(times)
    return result


def measure_help(runs: int) -> dict:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(einigc_command() + ["--help"], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
    return {
        "runs": runs,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "returncode": proc.returncode,
    }


# --------------------------------------------------------------------------
# eingrad (compiled block by block: skipped, with the compiler's message,
# while einigc rejects eingrad)


EINGRAD_SIZES = {"full": dict(i=64, j=64, b=64), "smoke": dict(i=3, j=4, b=2)}


def eingrad_blocks(text: str) -> list[tuple[str, str]]:
    blocks = []
    for chunk in re.split(r"\n\s*\n", text):
        body = [ln for ln in chunk.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if not body or '"""' in chunk:
            continue
        match = re.match(r"\s*([A-Za-z_]\w*)\s*\(", body[0])
        if match and "eingrad(" in chunk:
            blocks.append((match.group(1), chunk.strip() + "\n"))
    return blocks


def build_eingrad_cases(tf, np, sizes: dict, rng):
    """name -> (args, hand, naive loop); the callables close over fixed weights."""
    i, j, b = sizes["i"], sizes["j"], sizes["b"]
    def weights(shape):
        return tf.constant((rng.standard_normal(shape) / np.sqrt(j)).astype(np.float32))

    w, wsq, wb = weights((i, j)), weights((j, j)), weights((j, i))
    x = tf.constant(rng.standard_normal(j).astype(np.float32))
    xb = tf.constant(rng.standard_normal((b, j)).astype(np.float32))
    z = tf.constant(rng.standard_normal(i).astype(np.float32))
    v = tf.constant(rng.standard_normal(j).astype(np.float32))
    vb = tf.constant(rng.standard_normal((b, j)).astype(np.float32))

    def f_vec(t):  # R^j -> R^i
        return tf.tanh(tf.linalg.matvec(w, t))

    def f_square(t):  # R^j -> R^j
        return tf.tanh(tf.linalg.matvec(wsq, t))

    def f_scalar(t):  # R^j -> R
        return tf.reduce_sum(tf.tanh(tf.linalg.matvec(w, t)) ** 2)

    def f_rows(t):  # [b, j] -> [b], rows independent
        return tf.reduce_sum(tf.tanh(tf.linalg.matmul(t, wb)) ** 2, axis=1)

    def f_rows_vec(t):  # [b, j] -> [b, i], rows independent
        return tf.tanh(tf.linalg.matmul(t, wb))

    def loop_rows(f, t):
        # The naive Jacobian: one reverse pass per output entry.
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(t)
            out = tf.reshape(f(t), [-1])
            entries = [out[r] for r in range(out.shape[0])]
        return tf.stack([tape.gradient(e, t) for e in entries])

    def vjp_hand(z, f, t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            out = f(t)
        return tape.gradient(out, t, output_gradients=z)

    def jacobian_hand(f, t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            out = f(t)
        return tape.jacobian(out, t)

    def hessian_hand(f, t):
        with tf.GradientTape() as outer:
            outer.watch(t)
            with tf.GradientTape() as inner:
                inner.watch(t)
                out = f(t)
            grad = inner.gradient(out, t)
        return outer.jacobian(grad, t)

    def hessian_naive(f, t):
        with tf.GradientTape(persistent=True) as outer:
            outer.watch(t)
            with tf.GradientTape() as inner:
                inner.watch(t)
                out = f(t)
            grad = inner.gradient(out, t)
            entries = [grad[r] for r in range(grad.shape[0])]
        return tf.stack([outer.gradient(e, t) for e in entries])

    def batched_grad_hand(f, t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            out = f(t)
        return tape.gradient(out, t)  # rows independent: the sum's gradient is the diagonal

    def batched_grad_naive(f, t):
        jac = loop_rows(f, t)  # [b, b, j]
        return tf.einsum("bbj->bj", jac)

    def jvp_hand(f, t, tangent):
        with tf.autodiff.ForwardAccumulator(t, tangent) as acc:
            out = f(t)
        return acc.jvp(out)

    def jvp_naive(f, t, tangent):
        return tf.linalg.matvec(loop_rows(f, t), tangent)

    def batched_jvp_naive(f, t, tangent):
        # The classic per-output-column loop: gradients(y[:, i], x) is row b's
        # gradient of y[b, i] because rows are independent; then dot with v.
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(t)
            out = f(t)
            columns = [out[:, c] for c in range(out.shape[1])]
        return tf.stack([tf.reduce_sum(tape.gradient(col, t) * tangent, axis=1) for col in columns], axis=1)

    def divergence_hand(f, t):
        return tf.linalg.trace(jacobian_hand(f, t))

    def divergence_naive(f, t):
        return tf.linalg.trace(loop_rows(f, t))

    def batched_grad_exact_hand(f, t):
        return tf.einsum("bbj->bj", jacobian_hand(f, t))

    def batched_jacobian_hand(f, t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            out = f(t)
        return tape.batch_jacobian(out, t)

    def batched_jacobian_naive(f, t):
        jac = loop_rows(f, t)  # [b * i, b, j]
        return tf.einsum("bibj->bij", tf.reshape(jac, [t.shape[0], -1, *t.shape]))

    def square(t):
        return t * t

    return {
        "batched_grad_exact": ((f_rows, xb), batched_grad_exact_hand, batched_grad_naive),
        "batched_jacobian": ((f_rows_vec, xb), batched_jacobian_hand, batched_jacobian_naive),
        "expression_jacobian": ((x,), lambda t: jacobian_hand(square, t), lambda t: loop_rows(square, t)),
        "vjp": ((z, f_vec, x), vjp_hand, lambda z, f, t: tf.linalg.matvec(loop_rows(f, t), z, transpose_a=True)),
        "jacobian": ((f_vec, x), jacobian_hand, lambda f, t: loop_rows(f, t)),
        "hessian": ((f_scalar, x), hessian_hand, hessian_naive),
        "batched_grad": ((f_rows, xb), batched_grad_hand, batched_grad_naive),
        "jvp": ((f_vec, x, v), jvp_hand, jvp_naive),
        "batched_jvp": ((f_rows_vec, xb, vb), jvp_hand, batched_jvp_naive),
        "divergence": ((f_square, x), divergence_hand, divergence_naive),
    }


def run_eingrad(tf, np, cfg, build: Path, kind: str, rng, only=None) -> dict:
    text = (BENCH / "eingrad_cases.ein").read_text()
    blocks = eingrad_blocks(text)
    refs = build_eingrad_cases(tf, np, EINGRAD_SIZES[kind], rng)
    report = {"rows": [], "skipped": [], "reference_checks": [], "traced_when_eager": [], "sizes": EINGRAD_SIZES[kind]}
    for name, block in blocks:
        if only is not None and name not in only:
            continue
        if name not in refs:
            report["skipped"].append((name, "no hand-written reference in bench/run.py"))
            continue
        args, hand, naive = refs[name]
        # The references check each other whether or not einigc compiles the case.
        try:
            err = relative_error(np, to_numpy(naive(*args)), to_numpy(hand(*args)))
            report["reference_checks"].append((name, err))
        except Exception as exc:  # noqa: BLE001
            report["reference_checks"].append((name, short_error(exc)))
        try:
            module = compile_module_text(block, build / f"eingrad_{name}_generated.py", f"eingrad_{name}")
            gen = getattr(module, name)
            source = (build / f"eingrad_{name}_generated.py").read_text()
            if re.search(r"@\w*trace\w*\s*\ndef " + name + r"\(", source):
                report["traced_when_eager"].append(name)
        except Exception as exc:  # noqa: BLE001
            report["skipped"].append((name, short_error(exc)))
            continue
        reference = to_numpy(hand(*args))
        variants = []
        for key, fn in (("generated", gen), ("hand", hand), ("naive loop", naive)):
            for mode in MODES:
                wrapped = fn if mode == "eager" else tf.function(fn, jit_compile=(mode == "xla"))
                variants.append(Variant(key, mode, wrapped, args))
        run_interleaved(np, variants, dict(cfg, budget=cfg["eingrad_budget"]), reference=reference, tolerance=1e-3)
        report["rows"].append((name, variants))
    return report


def compile_module_text(text: str, out_path: Path, module_name: str):
    from einigc.compiler import compile_text

    result = compile_text(text, "eingrad_cases.ein")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(result.source)
    return import_path(out_path, module_name)


# --------------------------------------------------------------------------
# Output


def fmt_us(value) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}×"


def fmt_int(value) -> str:
    return "n/a" if value is None else f"{value:,}"


def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "einigc"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        return rev + (" (einigc/ has uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def write_chart(path: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    cases = []
    for row in rows:
        if row["case"] not in cases:
            cases.append(row["case"])
    fig, ax = plt.subplots(figsize=(max(8, 0.75 * len(cases) + 2), 5.5))
    width = 0.27
    colors = {"eager": "#4c72b0", "function": "#dd8452", "xla": "#55a868"}
    values_seen = []
    for m, mode in enumerate(MODES):
        xs, ys, missing = [], [], []
        for c, case in enumerate(cases):
            row = next((r for r in rows if r["case"] == case and r["mode"] == mode), None)
            ratio = row and row.get("gen_over_hand")
            x = c + (m - 1) * width
            if ratio:
                xs.append(x)
                ys.append(ratio)
                values_seen.append(ratio)
            else:
                missing.append(x)
        # Bars grow from 1×: up = generated slower, down = generated faster.
        ax.bar(xs, [y - 1 for y in ys], width, bottom=1, label=mode, color=colors[mode])
        for x in missing:
            ax.text(x, 1.0, "n/a", ha="center", va="bottom", fontsize=6, rotation=90)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}×"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    if values_seen:
        ax.set_ylim(min(0.5, min(values_seen) / 1.3), max(2.0, max(values_seen) * 1.3))
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(cases, rotation=30, ha="right")
    ax.set_ylabel("generated / hand-written (median time, log)")
    ax.set_title("einigc generated code vs expert hand-written TF (below 1 = generated faster)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render_markdown(meta, rows, flops, memory, compile_res, help_res, eingrad, notes) -> str:
    out = []
    out.append("# einigc benchmark results")
    out.append("")
    out.append(
        f"{meta['kind']} run; TensorFlow {meta['tf']}, numpy {meta['numpy']}, opt_einsum {meta['opt_einsum']}, "
        f"Python {meta['python']}, {meta['cpus']} CPU(s), {meta['machine']}; einigc at {meta['git']}, "
        f"generated module sha256 {meta['generated_sha256']}… (copies of the measured generated code: generated/); "
        f"{meta['date']}; total {meta['total_s']:.0f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in meta['phases_s'].items())}); load average (1/5/15 min) "
        f"{'/'.join(f'{x:.2f}' for x in meta['load_before'])} at the start, "
        f"{'/'.join(f'{x:.2f}' for x in meta['load_after'])} at the end."
    )
    out.append("")
    out.append(
        "Median wall time per call in µs, measured in one process, interleaved in a fresh random order each round over the nine TF "
        "variants of a case (3 implementations × 3 modes; numpy's two variants interleaved with each other "
        "afterwards) after warm-ups (first call of tf.function / XLA variants traces and is not timed). "
        "`np False` / `np True`: np.einsum(optimize=False / True), eager rows only. "
        "Ratios: generated / hand-written and generated / tf.einsum (below 1 = generated faster)."
    )
    out.append("")
    out.append("| case | spec | mode | generated µs | hand µs | tf.einsum µs | np False µs | np True µs | gen/hand | gen/tf.einsum |")
    out.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        npf = fmt_us(row.get("np False")) if row["mode"] == "eager" else "—"
        npt = fmt_us(row.get("np True")) if row["mode"] == "eager" else "—"
        if row["mode"] == "eager" and row.get("np False") is None and row.get("np False note"):
            npf = "skipped"
        out.append(
            f"| {row['case']} | `{row['spec']}` | {row['mode']} | {fmt_us(row['generated'])} | {fmt_us(row['hand'])} | "
            f"{fmt_us(row['tf.einsum'])} | {npf} | {npt} | {fmt_ratio(row['generated'], row['hand'])} | "
            f"{fmt_ratio(row['generated'], row['tf.einsum'])} |"
        )
    out.append("")
    out.append("Sizes per case: " + "; ".join(f"{name}: {', '.join(f'{k}={v}' for k, v in s.items())}" for name, s in meta["sizes"].items()) + ".")
    out.append("")
    out.append("## Notes")
    out.append("")
    for note in notes:
        out.append(f"- {note}")
    out.append("")
    out.append("## Contraction FLOPs at the benchmarked sizes")
    out.append("")
    out.append(
        "`einigc` is the pairwise order in the generated docstring (chosen at compile time from `where` sizes or the "
        "default), costed at the benchmarked sizes; `einigc, sizes known` is what `einigc.plan.plan_contraction` "
        "chooses when given the benchmarked sizes; `docstring` is the FLOPs the docstring states for the sizes it "
        "assumed. opt_einsum cost model (a multiply-add counts 2)."
    )
    out.append("")
    out.append("| case | spec | einigc | einigc, sizes known | opt_einsum greedy | opt_einsum optimal | einigc/optimal | greedy/optimal | docstring | einigc order |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in flops:
        if "skip" in row:
            out.append(f"| {row['case']} | `{row['spec']}` | — | — | — | — | — | — | — | {row['skip']} |")
            continue
        order = row.get("order", "")
        if row.get("note"):
            order += f" ({row['note']})"
        out.append(
            f"| {row['case']} | `{row['spec']}` | {fmt_int(row['einigc'])} | {fmt_int(row.get('einigc_known_sizes'))} | "
            f"{fmt_int(row['greedy'])} | {fmt_int(row['optimal'])} | {fmt_ratio(row['einigc'], row['optimal'])} | "
            f"{fmt_ratio(row['greedy'], row['optimal'])} | {fmt_int(row.get('doc_flops'))} | {order} |"
        )
    out.append("")
    out.append("## Peak memory: exponential-space case")
    out.append("")
    out.append(
        f"`chain6` = `{MEMORY_EQ}` with every axis of size {memory['n']} (the naive broadcast product holds "
        f"{memory['n']}^7 = {memory['n'] ** 7:,} float32 = {memory['n'] ** 7 * 4 / 2**20:,.1f} MiB). One fresh "
        "subprocess per variant; the variant runs once eagerly after a warm-up at size 2. `peak RSS increase` = "
        "VmHWM after the call (reset via /proc/self/clear_refs just before it) minus VmRSS before it; "
        "`ru_maxrss` = resource.getrusage peak of the whole child process (includes importing TensorFlow, "
        f"and starts from the parent's RSS, {memory['parent_rss_kb'] / 1024:,.0f} MiB when the children ran); "
        "`TF allocator peak` = tf.config.experimental.get_memory_info('CPU:0') during the call."
    )
    out.append("")
    out.append("| variant | peak RSS increase KiB | ru_maxrss MiB | TF allocator peak KiB |")
    out.append("| --- | ---: | ---: | ---: |")
    for res in memory["results"]:
        if "error" in res:
            out.append(f"| {res['variant']} | error: {res['error']} | | |")
            continue
        inc = None
        if res.get("hwm_after_kb") is not None and res.get("rss_before_kb") is not None:
            inc = max(0, res["hwm_after_kb"] - res["rss_before_kb"])
        tfp = res.get("tf_peak_bytes")
        out.append(
            f"| {res['variant']} | {'n/a' if inc is None else f'{inc:,}'} | {res['ru_maxrss_kb'] / 1024:,.0f} | "
            f"{'—' if tfp is None else f'{tfp / 1024:,.1f}'} |"
        )
    out.append("")
    out.append("## Compile time and start-up")
    out.append("")
    c = compile_res
    out.append(
        f"- Compiling a generated {c['declarations']:,}-declaration file (bench/build/decls{c['declarations']}.ein): "
        + (
            f"{c['in_process_s']:.2f} s in-process (`einigc.compiler.compile_text`, one run), "
            if "in_process_s" in c
            else f"in-process compile failed: {c.get('in_process_error')}; "
        )
        + f"{c['cli_wall_s']:.2f} s wall for the `einigc` command (median of {meta['compile_runs']})"
        + (f", error: {c['cli_error']}" if "cli_error" in c else "")
        + (f"; {c['generated_lines']:,} generated lines." if "generated_lines" in c else ".")
    )
    out.append(
        f"- `einigc --help`: {help_res['median_s'] * 1000:.0f} ms wall, median of {help_res['runs']} subprocess runs "
        f"(min {help_res['min_s'] * 1000:.0f} ms)."
    )
    out.append("")
    out.append("## eingrad")
    out.append("")
    sz = eingrad["sizes"]
    out.append(
        f"Sizes i={sz['i']}, j={sz['j']}, b={sz['b']}, float32. Functions differentiated: y(x) = tanh(W x) "
        "(vjp, jacobian, jvp; W is i×j), tanh(W x) with square W (divergence), sum(tanh(W x)²) (hessian), "
        "per-row sum(tanh(x W)², axis=1) (batched_grad, batched_grad_exact), tanh(x W) (batched_jvp, "
        "batched_jacobian) and x * x (expression_jacobian, an einsum of x). `hand (tape)`: "
        "tape.gradient with output_gradients, tape.jacobian, nested tapes, ForwardAccumulator (jvp, batched_jvp). "
        "`naive loop`: one tape.gradient per output entry (per output column for batched_jvp), as with "
        "tf.gradients loops, then the einsum."
    )
    out.append("")
    if eingrad["traced_when_eager"]:
        out.append(
            "The generated " + ", ".join(f"`{n}`" for n in eingrad["traced_when_eager"]) + " carry a decorator "
            "that traces them into a tf.function when called eagerly (only functions that take no callable, "
            "for which a trace cannot go stale), so their `eager` row times a cached graph call while the eager "
            "hand-written and naive versions run op by op (pfor for tape.jacobian). The other eager Jacobians "
            "are computed afresh on every call: a loop of reverse passes up to 128 rows, tape.jacobian beyond."
        )
        out.append("")
    if eingrad["rows"]:
        out.append("| case | mode | generated µs | hand (tape) µs | naive loop µs | gen/hand | gen/naive |")
        out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for name, variants in eingrad["rows"]:
            for mode in MODES:
                t = {v.key: v.median_us for v in variants if v.mode == mode}
                out.append(
                    f"| {name} | {mode} | {fmt_us(t.get('generated'))} | {fmt_us(t.get('hand'))} | {fmt_us(t.get('naive loop'))} | "
                    f"{fmt_ratio(t.get('generated'), t.get('hand'))} | {fmt_ratio(t.get('generated'), t.get('naive loop'))} |"
                )
            for v in variants:
                if v.note:
                    out.append(f"- {name} {v.key} {v.mode}: {v.note}")
        out.append("")
    if eingrad["skipped"]:
        out.append("Not measured (einigc rejected the declaration, so there is no generated code to time):")
        out.append("")
        for name, reason in eingrad["skipped"]:
            out.append(f"- `{name}`: {reason}")
        out.append("")
    if eingrad["reference_checks"]:
        checks = ", ".join(
            f"{n} {e:.1e}" if isinstance(e, float) else f"{n} {e}" for n, e in eingrad["reference_checks"]
        )
        out.append(f"Hand-written tape references vs naive per-entry loops (relative error): {checks}.")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------
# Main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, few rounds (< 60 s)")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    parser.add_argument("--build", type=Path, default=None, help="build directory (default bench/build, or OUT/build with --out)")
    parser.add_argument("--only", default="", help="comma-separated case names (for development)")
    parser.add_argument("--memory-variant", help=argparse.SUPPRESS)
    parser.add_argument("--memory-n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_variant:
        memory_child(args.memory_variant, args.memory_n, args.build)
        return 0

    started = time.perf_counter()
    load_before = os.getloadavg()
    out_dir = args.out or BENCH / "results"
    build = args.build or (out_dir / "build" if args.out else BENCH / "build")
    out_dir.mkdir(parents=True, exist_ok=True)
    build.mkdir(parents=True, exist_ok=True)
    kind = "smoke" if args.smoke else "full"
    cfg = SMOKE if args.smoke else FULL
    size_table = SMOKE_SIZES if args.smoke else FULL_SIZES

    print(f"[bench] {kind} run: compiling bench/cases.ein", flush=True)
    compile_file(BENCH / "cases.ein", build / "cases_generated.py")
    phases = {}

    # Memory first, while this process is still small: a child's ru_maxrss
    # starts from its parent's RSS (it is kept across fork and exec).
    memory = {"n": cfg["mem_n"], "results": [], "parent_rss_kb": _vm("VmRSS")}
    if not args.only:
        print("[bench] memory case (one subprocess per variant)", flush=True)
        mark = time.perf_counter()
        memory["results"] = measure_memory(cfg["mem_n"], build, parallel=2)
        phases["memory"] = time.perf_counter() - mark

    import numpy as np
    import opt_einsum
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # pfor's retracing warnings inside tape.jacobian
    gen = import_path(build / "cases_generated.py", "cases_generated")
    mark = time.perf_counter()

    rng = np.random.default_rng(1234)
    cases = build_cases(tf, np)
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.name in wanted]

    rows, flops, notes = [], [], []
    for case in cases:
        sizes = size_table[case.name]
        t0 = time.perf_counter()
        arrays = [rng.standard_normal(shape).astype(np.float32) for shape in case.shapes(sizes)]
        tensors = [tf.constant(a) for a in arrays]
        reference = case.np_fn(True, *[a.astype(np.float64) for a in arrays])
        gen_fn = getattr(gen, case.decl)
        variants = []
        for key, fn in (("generated", gen_fn), ("hand", case.hand), ("tf.einsum", case.einsum)):
            for mode in MODES:
                wrapped = fn if mode == "eager" else tf.function(fn, jit_compile=(mode == "xla"))
                variants.append(Variant(key, mode, wrapped, tuple(tensors)))
        np_variants = []
        np_note = ""
        for key, optimize in (("np False", False), ("np True", True)):
            v = Variant(key, "numpy", lambda *a, _o=optimize: case.np_fn(_o, *a), tuple(arrays))
            if not optimize:
                _, info = opt_einsum.contract_path(case.np_eq, *case.np_shapes(sizes), shapes=True)
                if info.naive_cost > NP_NAIVE_LIMIT:
                    v.ok = False
                    np_note = f"skipped: its nested loop would do {int(info.naive_cost):,} FLOPs (> {NP_NAIVE_LIMIT:.0e}) per call"
                    v.note = np_note
            np_variants.append(v)
        outputs = {}
        # The TF variants are interleaved with each other; numpy's separately
        # afterwards: a long single-threaded numpy call between TF calls lets
        # TF's thread pool fall asleep and skews whichever TF call follows it.
        run_interleaved(np, variants, cfg, reference=reference, first_outputs=outputs)
        run_interleaved(np, np_variants, dict(cfg, budget=cfg["budget"] * NP_BUDGET_SHARE), reference=reference)
        variants += np_variants
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
        by = {(v.key, v.mode): v for v in variants}
        for mode in MODES:
            row = {"case": case.name, "spec": case.spec, "mode": mode}
            for key in TF_VARIANTS:
                row[key] = by[(key, mode)].median_us
            if mode == "eager":
                for key in NP_VARIANTS:
                    row[key] = by[(key, "numpy")].median_us
                    row[key + " note"] = by[(key, "numpy")].note
            row["gen_over_hand"] = row["generated"] / row["hand"] if row["generated"] and row["hand"] else None
            row["gen_over_einsum"] = (
                row["generated"] / row["tf.einsum"] if row["generated"] and row["tf.einsum"] else None
            )
            rows.append(row)
        if case.einsum_note:
            notes.append(f"{case.name}: tf.einsum column is {case.einsum_note}")
        flops.append(flops_report(case, sizes, gen_fn))
        summary = ", ".join(
            f"{r['mode']} gen/hand {fmt_ratio(r['generated'], r['hand'])} gen/tf.einsum {fmt_ratio(r['generated'], r['tf.einsum'])}"
            for r in rows[-3:]
        )
        print(f"[bench] {case.name:<13} {time.perf_counter() - t0:5.1f} s  {summary}", flush=True)

    phases["einsum cases"] = time.perf_counter() - mark
    print("[bench] eingrad cases", flush=True)
    mark = time.perf_counter()
    eingrad = run_eingrad(tf, np, cfg, build, kind, rng, only=set(args.only.split(",")) if args.only else None)
    phases["eingrad cases"] = time.perf_counter() - mark

    compile_res = {"declarations": 0, "cli_wall_s": float("nan"), "in_process_error": "skipped (--only)"}
    help_res = {"runs": 0, "median_s": float("nan"), "min_s": float("nan")}
    if not args.only:
        print("[bench] compile time and --help", flush=True)
        mark = time.perf_counter()
        compile_res = measure_compile(build, cfg["decls"], cfg["compile_runs"])
        help_res = measure_help(cfg["help_runs"])
        phases["compile and --help"] = time.perf_counter() - mark

    # Keep the exact generated code that was measured next to the numbers.
    snapshot = out_dir / "generated"
    snapshot.mkdir(exist_ok=True)
    for path in [build / "cases_generated.py", *sorted(build.glob("eingrad_*_generated.py"))]:
        if path.exists():
            (snapshot / path.name).write_text(path.read_text())

    meta = {
        "kind": kind,
        "tf": tf.__version__,
        "numpy": np.__version__,
        "opt_einsum": opt_einsum.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "git": git_revision(),
        "generated_sha256": hashlib.sha256((build / "cases_generated.py").read_bytes()).hexdigest()[:16],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "sizes": {c.name: size_table[c.name] for c in cases},
        "compile_runs": cfg["compile_runs"],
        "total_s": time.perf_counter() - started,
        "phases_s": {k: round(v, 1) for k, v in phases.items()},
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    markdown = render_markdown(meta, rows, flops, memory, compile_res, help_res, eingrad, notes)
    (out_dir / "results.md").write_text(markdown + "\n")
    json_rows = [{k: v for k, v in r.items()} for r in rows]
    (out_dir / "results.json").write_text(
        json.dumps(
            {
                "meta": meta,
                "rows": json_rows,
                "flops": flops,
                "memory": memory,
                "compile": compile_res,
                "help": help_res,
                "eingrad_skipped": eingrad["skipped"],
                "eingrad_rows": [
                    {"case": n, "key": v.key, "mode": v.mode, "median_us": v.median_us, "note": v.note}
                    for n, vs in eingrad["rows"]
                    for v in vs
                ],
                "notes": notes,
            },
            indent=1,
            default=str,
        )
        + "\n"
    )
    try:
        chart_rows = list(rows)
        for name, variants in eingrad["rows"]:
            for mode in MODES:
                t = {v.key: v.median_us for v in variants if v.mode == mode}
                ratio = t["generated"] / t["hand"] if t.get("generated") and t.get("hand") else None
                chart_rows.append({"case": f"eingrad {name}", "mode": mode, "gen_over_hand": ratio})
        write_chart(out_dir / "ratios.png", chart_rows)
    except Exception as exc:  # noqa: BLE001
        print(f"[bench] chart failed: {short_error(exc)}", file=sys.stderr)
        traceback.print_exc()

    print_summary(rows, flops, memory, compile_res, help_res, eingrad, notes, out_dir, meta)
    return 0


def print_summary(rows, flops, memory, compile_res, help_res, eingrad, notes, out_dir, meta) -> None:
    lines = ["", f"einigc benchmark summary ({meta['kind']}, {meta['total_s']:.0f} s; full table: {out_dir / 'results.md'})"]
    lines.append("  phases: " + ", ".join(f"{k} {v:.0f} s" for k, v in meta["phases_s"].items()))
    losses_hand = [r for r in rows if r["gen_over_hand"] and r["gen_over_hand"] > LOSS]
    losses_einsum = [r for r in rows if r["gen_over_einsum"] and r["gen_over_einsum"] > LOSS]
    lines.append(f"  generated more than {LOSS - 1:.0%} slower than hand-written in {len(losses_hand)} of {len(rows)} case/mode rows:")
    for r in sorted(losses_hand, key=lambda r: -r["gen_over_hand"]):
        lines.append(f"    {r['case']:<13} {r['mode']:<8} {r['gen_over_hand']:.2f}×  ({fmt_us(r['generated'])} vs {fmt_us(r['hand'])} µs)")
    lines.append(f"  generated more than {LOSS - 1:.0%} slower than tf.einsum in {len(losses_einsum)} of {len(rows)} rows:")
    for r in sorted(losses_einsum, key=lambda r: -r["gen_over_einsum"]):
        lines.append(f"    {r['case']:<13} {r['mode']:<8} {r['gen_over_einsum']:.2f}×  ({fmt_us(r['generated'])} vs {fmt_us(r['tf.einsum'])} µs)")
    na = [r for r in rows if r["generated"] is None]
    if na:
        lines.append("  generated n/a: " + ", ".join(f"{r['case']} {r['mode']}" for r in na))
    off = [f for f in flops if f.get("einigc") and f.get("optimal") and f["einigc"] > f["optimal"]]
    lines.append(
        "  plan FLOPs above opt_einsum optimal: "
        + (", ".join(f"{f['case']} {f['einigc'] / f['optimal']:.1f}×" for f in off) if off else "none")
    )
    mem = []
    for res in memory["results"]:
        if res.get("hwm_after_kb") is not None and res.get("rss_before_kb") is not None:
            mem.append(f"{res['variant']} +{max(0, res['hwm_after_kb'] - res['rss_before_kb']):,} KiB")
        else:
            mem.append(f"{res['variant']} {res.get('error', 'n/a')}")
    lines.append(f"  peak RSS increase, chain6 at n={memory['n']}: " + "; ".join(mem))
    c = compile_res
    if "in_process_s" in c:
        lines.append(f"  compile {c['declarations']} declarations: {c['in_process_s']:.2f} s in-process, {c['cli_wall_s']:.2f} s CLI")
    else:
        lines.append(f"  compile {c['declarations']} declarations failed: {c.get('in_process_error')}")
    lines.append(f"  einigc --help: {help_res['median_s'] * 1000:.0f} ms (median of {help_res['runs']})")
    for name, variants in eingrad["rows"]:
        for mode in MODES:
            t = {v.key: v.median_us for v in variants if v.mode == mode}
            if t.get("generated") and t.get("hand") and t["generated"] / t["hand"] > LOSS:
                lines.append(
                    f"  eingrad {name} {mode}: generated {t['generated'] / t['hand']:.2f}× hand-written "
                    f"({fmt_us(t['generated'])} vs {fmt_us(t['hand'])} µs)"
                )
    if eingrad["skipped"]:
        lines.append(f"  eingrad: {len(eingrad['skipped'])} case(s) not measured: " + "; ".join(f"{n} ({r})" for n, r in eingrad["skipped"][:2]) + ("; ..." if len(eingrad["skipped"]) > 2 else ""))
    mismatches = [n for n in notes if "MISMATCH" in n or "differ" in n]
    if mismatches:
        lines.append("  NUMERICAL MISMATCHES: " + "; ".join(mismatches))
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
