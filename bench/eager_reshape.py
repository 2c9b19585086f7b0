#!/usr/bin/env python3
"""What eager reshapes and composites cost, and what the runtime's `_shape` and `_equation` would save.

Three tables, times in one process, interleaved (a fresh random order each
round), medians of per-round ratios (reuses eager_crossover's timing):

  targets     one reshape of an 8x8 float32 tensor eagerly, its target
              handed over as a list, a numpy array, a tf.constant, `_shape`
  composites  `Ij,jK->IK` and `bIj,jK->bIK` over sizes: the generated code
              today, with `_shape` targets, and with an eager branch of one
              Einsum op whose equation `_equation` spells at call time;
              eagerly, and under tf.function (where `_shape` returns the list);
              `bqa,ahc->bqhc`: its eager choice (Einsum op) against its MatMul
              branch run eagerly with `_shape` targets
  cases       every case of bench/cases.py at `make bench`'s sizes, eagerly:
              the generated module today against the same module hand-patched
              (reshape targets through `_shape`, the composite's eager branch)

The patched module is the generated one with text replaced (see `patched`):
it is how the printer would print the port (bench/results/eager_reshape.md).

`python bench/eager_reshape.py [--rounds N] [--budget SECONDS] [--only NAME]`
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import re
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.eager_crossover import compare  # noqa: E402

COMPOSITE_SPECS = '''
composite(x, y) = einsum("Ij,jK->IK", x, y)
batched(x, y) = einsum("bIj,jK->bIK", x, y)
heads(x, w) = einsum("bqa,ahc->bqhc", x, w)
'''

# The composite's eager branch, as the printer would print it.
EAGER_BRANCH = '''
    # Eagerly, each reshape costs tens of µs: one Einsum op is faster.
    if tf.executing_eagerly():
        return tf.raw_ops.Einsum(inputs=[x, y], equation=_equation("{spec}", x, y))
'''


def load(source, name):
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compiled(text):
    from einigc.compiler import compile_text

    return compile_text(text, "eager_reshape.ein").source


def runtime_source(*names):
    from einigc.targets.runtime_source import runtime

    by_name = {d.name: d.source for d in runtime("tensorflow").definitions}
    return "\n\n".join(by_name[name] for name in names)


def patched(source, eager_branch=True, shapes=True):
    """The generated `source` as the port would print it."""
    if shapes:
        # A one-line reshape whose target is a list, or a sum of lists.
        source = re.sub(r"tf\.reshape\((\w+), (?!_shape)(.+)\)\n", r"tf.reshape(\1, _shape(\2))\n", source)
        # The runtime's own reshapes (diagonals).
        source = source.replace("shape=[-1])", "shape=_shape([-1]))")
        source = source.replace("shape=result_shape)", "shape=_shape(result_shape))")
        source = source.replace("shape=[math.prod(result_shape)]", "shape=_shape([math.prod(result_shape)])")
    if eager_branch:
        # Composites only (no groups, `_`): right after the axis check.
        def branch(match):
            return match.group(0) + EAGER_BRANCH.format(spec=match.group(2))

        source = re.sub(
            r'    x, y = _check_axes\("(\w+)", "([A-Za-z.,]+)", \[\("x", x\), \("y", y\)\]\)\n(?=    x_shape = _dims\(x, needed_by="\1: )',
            lambda m: m.group(0) + EAGER_BRANCH.format(spec=m.group(2) + "->" + OUTPUTS[m.group(1)])[1:],
            source,
        )
    return source + HELPERS + runtime_source("_shape", "_equation") + "\n"


OUTPUTS = {"composite": "IK", "batched": "bIK"}
HELPERS = "\n\n# ---- the runtime helpers the port adds\n\n"


def targets_table(tf, np, module, rounds, budget):
    x = tf.ones([8, 8])
    constant = tf.constant([4, 16])
    variants = {
        "tf.reshape(x, [4, 16])": lambda: tf.reshape(x, [4, 16]),
        "raw Reshape, list": lambda: tf.raw_ops.Reshape(tensor=x, shape=[4, 16]),
        "tf.reshape, np.array int32": lambda: tf.reshape(x, np.array([4, 16], np.int32)),
        "tf.reshape, tf.constant per call": lambda: tf.reshape(x, tf.constant([4, 16])),
        "tf.reshape, a made constant": lambda: tf.reshape(x, constant),
        "raw Reshape, a made constant": lambda: tf.raw_ops.Reshape(tensor=x, shape=constant),
        "tf.reshape(x, _shape([4, 16]))": lambda: tf.reshape(x, module._shape([4, 16])),
        "raw Reshape, _shape": lambda: tf.raw_ops.Reshape(tensor=x, shape=module._shape([4, 16])),
        "_shape([4, 16]) alone": lambda: module._shape([4, 16]),
        "raw Einsum ij->ji": lambda: tf.raw_ops.Einsum(inputs=[x], equation="ij->ji"),
        "raw MatMul": lambda: tf.raw_ops.MatMul(a=x, b=x),
    }
    result = compare(variants, (), rounds, budget, base="tf.reshape(x, [4, 16])")
    lines = ["### Reshape targets eagerly (8x8 float32)", "", "| variant | µs | /list |", "| --- | ---: | ---: |"]
    lines += [f"| `{n}` | {us:,.1f} | {r:.2f}× |" for n, (us, r) in result.items()]
    return "\n".join(lines)


HEADS_SIZES = [(1, 4, 8, 2, 4), (4, 16, 32, 4, 8), (4, 32, 64, 8, 16), (8, 64, 128, 8, 32), (16, 128, 256, 16, 32)]
COMPOSITE_SIZES = [(2, 4, 8, 2, 4), (4, 8, 32, 4, 8), (8, 16, 64, 4, 16), (16, 32, 128, 8, 32), (16, 32, 256, 8, 32)]
BATCHED_SIZES = [(2, 2, 4, 8, 2, 4), (4, 4, 8, 32, 4, 8), (8, 8, 16, 64, 4, 16), (8, 16, 32, 256, 8, 32)]


def composites_table(tf, np, today, shapes_only, both, rounds, budget):
    lines = []
    for name, equation, sizes in (
        ("composite", "abj,jcd->abcd", COMPOSITE_SIZES),
        ("batched", "zabj,jcd->zabcd", BATCHED_SIZES),
        ("heads", "bqa,ahc->bqhc", HEADS_SIZES),
    ):
        rows = []
        for size in sizes:
            if name == "heads":  # today's eager choice against its graph branch run eagerly
                b, q, a, h, c = size
                xs, ys, flops = (b, q, a), (a, h, c), 2 * b * q * a * h * c
            elif name == "composite":
                a, b, j, c, d = size
                xs, ys, flops = (a, b, j), (j, c, d), 2 * a * b * j * c * d
            else:
                z, a, b, j, c, d = size
                xs, ys, flops = (z, a, b, j), (j, c, d), 2 * z * a * b * j * c * d
            rng = np.random.default_rng(0)
            x = tf.constant(rng.standard_normal(xs), tf.float32)
            y = tf.constant(rng.standard_normal(ys), tf.float32)
            eager = {
                "today": getattr(today, name),
                "_shape": getattr(shapes_only, name),
                "_shape + Einsum": getattr(both, name),
                "tf.einsum": lambda x, y, e=equation: tf.einsum(e, x, y),
            }
            graph = {n: tf.function(f) for n, f in eager.items()}
            expected = np.einsum(equation, x.numpy(), y.numpy())
            for fn in list(eager.values()) + list(graph.values()):
                np.testing.assert_allclose(fn(x, y).numpy(), expected, rtol=1e-4, atol=1e-3)
            for mode, variants in (("eager", eager), ("tf.function", graph)):
                rows.append((size, flops, mode, compare(variants, (x, y), rounds, budget)))
                print(f"  {name} {size} {mode} done", file=sys.stderr)
        names = list(eager)
        spec = {"composite": "Ij,jK->IK (a, b, j, c, d)", "batched": "bIj,jK->bIK (b, a1, a2, j, c, d)",
                "heads": "bqa,ahc->bqhc (b, q, a, h, c); _shape: its MatMul branch eagerly (no Einsum op)"}[name]
        lines += [f"### `{spec}`", "", "| sizes | FLOPs | mode | " + " | ".join(f"{n} µs" for n in names)
                  + " | " + " | ".join(f"{n}/tf.einsum" for n in names[:-1]) + " |",
                  "| --- | ---: | --- | " + " | ".join("---:" for _ in names) + " | " + " | ".join("---:" for _ in names[:-1]) + " |"]
        for size, flops, mode, r in rows:
            lines.append(f"| {size} | {flops:.2g} | {mode} | " + " | ".join(f"{r[n][0]:,.1f}" for n in names)
                         + " | " + " | ".join(f"{r[n][1]:.2f}×" for n in names[:-1]) + " |")
        lines.append("")
    return "\n".join(lines)


def cases_table(tf, np, rounds, budget, only):
    from bench.cases import FULL_SIZES, build_cases

    text = (REPO / "bench" / "cases.ein").read_text()
    source = compiled(text)
    today = load(source, "cases_today")
    after = load(patched(source), "cases_after")
    lines = ["### Bench cases eagerly (make bench's sizes)", "",
             "| case | today µs | patched µs | tf.einsum µs | today/tf.einsum | patched/tf.einsum | code changed |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for case in build_cases(tf, np):
        if only and case.name not in only:
            continue
        sizes = FULL_SIZES[case.name]
        rng = np.random.default_rng(0)
        operands = [tf.constant(rng.standard_normal(s), tf.float32) for s in case.shapes(sizes)]
        gen_today, gen_after = getattr(today, case.decl), getattr(after, case.decl)
        changed = _function_source(source, case.decl) != _function_source(patched(source), case.decl)
        changed = changed or case.name in ("diag6", "induced")  # their runtime helpers changed
        expected = case.einsum(*operands).numpy()
        for fn in (gen_today, gen_after):
            np.testing.assert_allclose(fn(*operands).numpy(), expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())
        r = compare({"today": gen_today, "patched": gen_after, "tf.einsum": case.einsum}, operands, rounds, budget)
        lines.append(f"| {case.name} | {r['today'][0]:,.1f} | {r['patched'][0]:,.1f} | {r['tf.einsum'][0]:,.1f} | "
                     f"{r['today'][1]:.2f}× | {r['patched'][1]:.2f}× | {'yes' if changed else 'no'} |")
        print(f"  {case.name} done", file=sys.stderr)
    return "\n".join(lines)


def _function_source(source, name):
    source = source.split(HELPERS)[0]
    match = re.search(rf"\ndef {name}\(.*?(?=\ndef |\Z)", source, re.S)
    return match.group(0) if match else ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--budget", type=float, default=0.02, help="seconds per variant per round")
    parser.add_argument("--only", choices=["targets", "composites", "cases"])
    parser.add_argument("--cases", default="", help="comma-separated case names for the cases table")
    args = parser.parse_args(argv)
    import numpy as np
    import tensorflow as tf

    random.seed(0)
    source = compiled(COMPOSITE_SPECS)
    today = load(source, "composites_today")
    matmul_eagerly = patched(source, eager_branch=False).replace("if tf.executing_eagerly():", "if False:")
    shapes_only = load(matmul_eagerly, "composites_shape")
    both = load(patched(source), "composites_both")
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU(s), load {os.getloadavg()[0]:.2f};"
          f" {args.rounds} rounds, medians of per-round ratios\n")
    if args.only in (None, "targets"):
        print(targets_table(tf, np, both, args.rounds, args.budget), end="\n\n")
    if args.only in (None, "composites"):
        print(composites_table(tf, np, today, shapes_only, both, args.rounds, args.budget), end="\n\n")
    if args.only in (None, "cases"):
        only = set(filter(None, args.cases.split(",")))
        print(cases_table(tf, np, args.rounds, args.budget, only), end="\n\n")
    print(f"load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
