#!/usr/bin/env python3
"""Where one Einsum op beats reshapes around a MatMul, eagerly and under tf.function.

For `bqa,ahc->bqhc` (a FusedMatMul: rows bq, summed a, columns hc) and
`Ij,jK->IK` (composites, I = ab, K = cd) at sizes from about 1e3 to 5e8
FLOPs, times in one process, interleaved (a fresh random order each round),
medians of per-round ratios to `tf.einsum`:

  generated   the einigc-generated function (compiled from this checkout)
  tf.einsum   tf.einsum with the spec's letters
  Einsum op   one tf.raw_ops.Einsum
  reshape+MatMul   tf.reshape, tf.raw_ops.MatMul, tf.reshape (static sizes)

each eagerly and under tf.function (traced before timing). Then the fixed
per-call cost, eagerly, of a 4x4 product (`ij,jk->ik`): the generated
function, its `_check_axes` alone (a cache hit), tf.einsum, the Einsum op
and the MatMul op.

`python bench/eager_crossover.py [--rounds N] [--budget SECONDS] [--quick]`
prints markdown tables.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SPECS = '''
heads(x, w) = einsum("bqa,ahc->bqhc", x, w)
composite(x, y) = einsum("Ij,jK->IK", x, y)
small_matmul(a, b) = einsum("ij,jk->ik", a, b)
'''

# (b, q, a, h, c): 2*b*q*a*h*c FLOPs from 512 to 5.4e8; (4, 32, 64, 8, 16) is the issue's.
HEADS_SIZES = [
    (1, 4, 8, 2, 4),
    (2, 8, 16, 4, 4),
    (4, 16, 32, 4, 8),
    (4, 32, 64, 8, 16),
    (8, 32, 64, 8, 16),
    (8, 64, 64, 8, 32),
    (8, 64, 128, 8, 32),
    (16, 128, 128, 8, 32),
    (16, 128, 256, 16, 32),
]
# (a, b, j, c, d) with I = ab, K = cd: 2*a*b*j*c*d FLOPs; the last is `make bench`'s.
COMPOSITE_SIZES = [
    (2, 4, 8, 2, 4),
    (4, 4, 16, 4, 4),
    (4, 8, 32, 4, 8),
    (8, 16, 64, 4, 16),
    (8, 16, 128, 8, 16),
    (16, 32, 128, 8, 32),
    (16, 32, 256, 8, 32),
]


def load_generated():
    from einigc.compiler import compile_text

    source = compile_text(SPECS, "eager_crossover.ein").source
    path = Path(tempfile.mkdtemp()) / "eager_crossover_generated.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("eager_crossover_generated", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def time_round(fn, args, budget):
    """Per-call seconds of `fn(*args)` over about `budget` seconds (at least 3 calls)."""
    calls, start = 0, time.perf_counter()
    while True:
        fn(*args)
        calls += 1
        elapsed = time.perf_counter() - start
        if calls >= 3 and elapsed >= budget:
            return elapsed / calls


def compare(variants, args, rounds, budget, base="tf.einsum"):
    """name -> (median µs, median of per-round ratios to `base`)."""
    for fn in variants.values():  # warm-ups; traces tf.functions
        for _ in range(3):
            fn(*args)
    times = {name: [] for name in variants}
    for _ in range(rounds):
        order = list(variants)
        random.shuffle(order)
        for name in order:
            times[name].append(time_round(variants[name], args, budget))
    return {
        name: (
            statistics.median(t) * 1e6,
            statistics.median(a / b for a, b in zip(t, times[base])),
        )
        for name, t in times.items()
    }


def pair_variants(tf, generated, equation, shapes_2d, out_shape):
    """The four implementations of one pair, eagerly and as tf.functions."""
    (m, k), (_, n) = shapes_2d

    def einsum(x, y):
        return tf.einsum(equation, x, y)

    def einsum_op(x, y):
        return tf.raw_ops.Einsum(inputs=[x, y], equation=equation)

    def reshape_matmul(x, y):
        product = tf.raw_ops.MatMul(a=tf.reshape(x, [m, k]), b=tf.reshape(y, [k, n]))
        return tf.reshape(product, out_shape)

    eager = {"generated": generated, "tf.einsum": einsum, "Einsum op": einsum_op, "reshape+MatMul": reshape_matmul}
    return eager, {name: tf.function(fn) for name, fn in eager.items()}


def sweep(tf, np, title, generated, equation, sizes, shapes_of, rounds, budget):
    rows = []
    for size in sizes:
        x_shape, y_shape, shapes_2d, out_shape, flops = shapes_of(size)
        rng = np.random.default_rng(0)
        x = tf.constant(rng.standard_normal(x_shape), tf.float32)
        y = tf.constant(rng.standard_normal(y_shape), tf.float32)
        eager, graph = pair_variants(tf, generated, equation, shapes_2d, out_shape)
        expected = tf.einsum(equation, x, y).numpy()
        for fn in list(eager.values()) + list(graph.values()):
            np.testing.assert_allclose(fn(x, y).numpy(), expected, rtol=1e-4, atol=1e-3)
        for mode, variants in (("eager", eager), ("tf.function", graph)):
            result = compare(variants, (x, y), rounds, budget)
            rows.append((size, flops, mode, result))
            print(f"  {title} {size} {mode} done", file=sys.stderr)
    names = list(eager)
    lines = [
        f"### {title}",
        "",
        "| sizes | FLOPs | mode | " + " | ".join(f"{n} µs" for n in names) + " | "
        + " | ".join(f"{n}/tf.einsum" for n in names if n != "tf.einsum") + " |",
        "| --- | ---: | --- | " + " | ".join("---:" for _ in names) + " | "
        + " | ".join("---:" for n in names if n != "tf.einsum") + " |",
    ]
    for size, flops, mode, result in rows:
        lines.append(
            f"| {size} | {flops:.2g} | {mode} | "
            + " | ".join(f"{result[n][0]:,.1f}" for n in names)
            + " | "
            + " | ".join(f"{result[n][1]:.2f}×" for n in names if n != "tf.einsum")
            + " |"
        )
    return "\n".join(lines)


def overhead(tf, module, rounds, budget):
    a = tf.ones([4, 4])
    b = tf.ones([4, 4])
    variants = {
        "generated": module.small_matmul,
        "_check_axes (hit)": lambda a, b: module._check_axes("small_matmul", "ij,jk", [("a", a), ("b", b)]),
        "tf.einsum": lambda a, b: tf.einsum("ij,jk->ik", a, b),
        "Einsum op": lambda a, b: tf.raw_ops.Einsum(inputs=[a, b], equation="ij,jk->ik"),
        "MatMul op": lambda a, b: tf.raw_ops.MatMul(a=a, b=b),
        "tf.reshape": lambda a, b: tf.reshape(a, [16]),
    }
    result = compare(variants, (a, b), rounds, budget)
    lines = ["### Per-call cost eagerly, 4x4 `ij,jk->ik`", "", "| variant | µs | /tf.einsum |", "| --- | ---: | ---: |"]
    lines += [f"| {n} | {us:,.1f} | {r:.2f}× |" for n, (us, r) in result.items()]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--budget", type=float, default=0.02, help="seconds per variant per round")
    parser.add_argument("--quick", action="store_true", help="two sizes per case, three rounds")
    parser.add_argument("--only", choices=["heads", "composite", "overhead"], help="one table")
    args = parser.parse_args(argv)
    import numpy as np
    import tensorflow as tf

    random.seed(0)
    module = load_generated()
    heads_sizes, composite_sizes, rounds = HEADS_SIZES, COMPOSITE_SIZES, args.rounds
    if args.quick:
        heads_sizes, composite_sizes, rounds = HEADS_SIZES[::4], COMPOSITE_SIZES[::6], 3

    def heads_shapes(s):
        b, q, a, h, c = s
        return (b, q, a), (a, h, c), ((b * q, a), (a, h * c)), [b, q, h, c], 2 * b * q * a * h * c

    def composite_shapes(s):
        a, b, j, c, d = s
        return (a, b, j), (j, c, d), ((a * b, j), (j, c * d)), [a, b, c, d], 2 * a * b * j * c * d

    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU(s), load {os.getloadavg()[0]:.2f};"
          f" {rounds} rounds, medians of per-round ratios\n")
    if args.only in (None, "heads"):
        print(sweep(tf, np, "`bqa,ahc->bqhc` (b, q, a, h, c)", module.heads, "bqa,ahc->bqhc",
                    heads_sizes, heads_shapes, rounds, args.budget), end="\n\n")
    if args.only in (None, "composite"):
        print(sweep(tf, np, "`Ij,jK->IK` (a, b, j, c, d), I = ab, K = cd", module.composite, "abj,jcd->abcd",
                    composite_sizes, composite_shapes, rounds, args.budget), end="\n\n")
    if args.only in (None, "overhead"):
        print(overhead(tf, module, rounds, args.budget))
    print(f"\nload at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
