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

This file runs the phases; the parts are modules of the bench package:
cases.py (specs, sizes, hand-written versions), timing.py (interleaved
timing), memory.py (peak memory, one child per variant), plans.py (the plan
of a generated function as data, FLOPs), eingrad.py (the eingrad cases),
compile_time.py (compile time, start-up), report.py (tables, chart, summary).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# Run as a script, Python puts bench/ first on the path, where the package's
# modules (timing, memory, report, ...) would shadow top-level modules of the
# same names: they are imported as bench.* from the repository root instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.cases import FULL, FULL_SIZES, SMOKE, SMOKE_SIZES, build_cases  # noqa: E402
from bench.compile_time import measure_compile, measure_help  # noqa: E402
from bench.compiled import compile_file, import_path  # noqa: E402
from bench.eingrad import run_eingrad  # noqa: E402
from bench.memory import measure_memory, memory_child, vm  # noqa: E402
from bench.plans import flops_report  # noqa: E402
from bench.report import Results, fmt_ratio, git_revision, print_summary, write_results  # noqa: E402
from bench.timing import measure_case  # noqa: E402

CASES_EIN = BENCH / "cases.ein"


def main(argv=None) -> int:
    args = _arguments(argv)
    if args.memory_variant:
        memory_child(args.memory_variant, args.memory_n, args.build)
        return 0
    if args.target:
        return _per_target(args)

    started = time.perf_counter()
    load_before = os.getloadavg()
    out_dir = args.out or BENCH / "results"
    build = args.build or (out_dir / "build" if args.out else BENCH / "build")
    out_dir.mkdir(parents=True, exist_ok=True)
    build.mkdir(parents=True, exist_ok=True)
    kind = "smoke" if args.smoke else "full"
    cfg = SMOKE if args.smoke else FULL
    size_table = SMOKE_SIZES if args.smoke else FULL_SIZES
    only = set(args.only.split(",")) if args.only else None

    print(f"[bench] {kind} run: compiling bench/cases.ein", flush=True)
    compile_file(CASES_EIN, build / "cases_generated.py")
    phases = {}

    # Memory first, while this process is still small: a child's ru_maxrss
    # starts from its parent's RSS (it is kept across fork and exec).
    memory = {"n": cfg["mem_n"], "results": [], "parent_rss_kb": vm("VmRSS")}
    if not only:
        print("[bench] memory case (one subprocess per variant)", flush=True)
        mark = time.perf_counter()
        memory["results"] = measure_memory(cfg["mem_n"], build, parallel=2)
        phases["memory"] = time.perf_counter() - mark

    import numpy as np
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # pfor's retracing warnings inside tape.jacobian
    mark = time.perf_counter()
    rng = np.random.default_rng(1234)
    cases = [c for c in build_cases(tf, np) if only is None or c.name in only]
    gen = import_path(build / "cases_generated.py", "cases_generated")
    rows, flops, notes = _einsum_cases(tf, np, cases, size_table, gen, cfg, rng)
    phases["einsum cases"] = time.perf_counter() - mark

    print("[bench] eingrad cases", flush=True)
    mark = time.perf_counter()
    eingrad = run_eingrad(tf, np, cfg, build, kind, rng, only=only)
    phases["eingrad cases"] = time.perf_counter() - mark

    compile_res = {"declarations": 0, "cli_wall_s": float("nan"), "in_process_error": "skipped (--only)"}
    help_res = {"runs": 0, "median_s": float("nan"), "min_s": float("nan")}
    if not only:
        print("[bench] compile time and --help", flush=True)
        mark = time.perf_counter()
        compile_res = measure_compile(build, cfg["decls"], cfg["compile_runs"])
        help_res = measure_help(cfg["help_runs"])
        phases["compile and --help"] = time.perf_counter() - mark

    _snapshot(build, out_dir)
    meta = _meta(tf, np, kind, build, {c.name: size_table[c.name] for c in cases}, cfg, started, phases, load_before)
    results = Results(meta, rows, flops, memory, compile_res, help_res, eingrad, notes)
    write_results(out_dir, results)
    print_summary(results, out_dir)
    return 0


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", "--quick", action="store_true", help="tiny sizes, few rounds (< 60 s)")
    parser.add_argument(
        "--target",
        default="",
        help="the per-target benchmark instead (bench/targets.py): numpy, torch, jax, comma-separated, or all",
    )
    parser.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    parser.add_argument("--build", type=Path, default=None, help="build directory (default bench/build, or OUT/build with --out)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per framework in the per-target run (default 1: on a shared machine a second one's stalls swamp the ratios)",
    )
    parser.add_argument("--only", default="", help="comma-separated case names (for development)")
    parser.add_argument("--memory-variant", help=argparse.SUPPRESS)
    parser.add_argument("--memory-n", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _per_target(args) -> int:
    """`--target T`: generated numpy / torch / jax modules vs their einsum and hand-written code (targets.md)."""
    from bench.target_frameworks import TARGETS, load, pin_threads

    pin_threads(args.threads)  # before numpy, torch or jax is imported
    import numpy as np

    from bench import target_report
    from bench.target_eingrad import SIGNATURES as EINGRAD_FORMS
    from bench.target_eingrad import measure_eingrad
    from bench.targets import FULL as TARGET_FULL
    from bench.targets import QUICK, case_runs, compile_generated, measure_target

    names = TARGETS if args.target == "all" else tuple(args.target.split(","))
    unknown = set(names) - set(TARGETS)
    if unknown:
        raise SystemExit(f"bench: unknown target(s) {', '.join(sorted(unknown))}; choose from {', '.join(TARGETS)}")
    out_dir = args.out or BENCH / "results"
    build = args.build or (out_dir / "build" if args.out else BENCH / "build")
    kind, cfg = ("quick", QUICK) if args.smoke else ("full", TARGET_FULL)
    size_table = SMOKE_SIZES if args.smoke else FULL_SIZES
    only = set(args.only.split(",")) if args.only else None
    log = lambda line: print(line, flush=True)  # noqa: E731
    for name in names:
        started, load_before = time.perf_counter(), os.getloadavg()
        print(f"[bench] {kind} run of target {name}: compiling bench/cases.ein", flush=True)
        generated, error = compile_generated(name, CASES_EIN, build / f"cases_{name}.py")
        fw = load(name)
        runs = case_runs(size_table, names=only)
        rows, notes = measure_target(fw, runs, generated, cfg, np.random.default_rng(1234), log=log)
        meta = {
            "kind": kind,
            "versions": fw.info,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "git": git_revision(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "total_s": time.perf_counter() - started,
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "sizes": {run.name: dict(run.sizes) for run in runs},
            "threads": args.threads,
            "generated_error": error,
        }
        section = {"meta": meta, "rows": rows, "notes": notes}
        if name in ("torch", "jax") and (only is None or only & set(EINGRAD_FORMS)):
            mark = time.perf_counter()
            e_rows, e_notes, e_sizes = measure_eingrad(fw, build, kind, cfg, np.random.default_rng(99), only=only, log=log)
            section["eingrad"] = {"rows": e_rows, "notes": e_notes, "sizes": e_sizes}
            meta["eingrad_s"] = time.perf_counter() - mark
            meta["total_s"] = time.perf_counter() - started
        data = target_report.merge(out_dir / "targets.json", name, section)
        target_report.write(out_dir, data)
        if generated is not None:
            (out_dir / "generated").mkdir(parents=True, exist_ok=True)
            (out_dir / "generated" / f"cases_{name}.py").write_text((build / f"cases_{name}.py").read_text())
        for line in target_report.summary(data["targets"][name]):
            print(f"[bench] {name}: {line}", flush=True)
    print(f"[bench] wrote {out_dir / 'targets.md'}", flush=True)
    return 0


def _einsum_cases(tf, np, cases, size_table, gen, cfg, rng):
    """Times every einsum case and reads its plan; returns (rows, FLOPs rows, notes)."""
    rows, flops, notes = [], [], []
    for case in cases:
        sizes = size_table[case.name]
        t0 = time.perf_counter()
        gen_fn = getattr(gen, case.decl)
        case_rows, case_notes = measure_case(tf, np, case, sizes, gen_fn, cfg, rng)
        rows += case_rows
        notes += case_notes
        if case.einsum_note:
            notes.append(f"{case.name}: tf.einsum column is {case.einsum_note}")
        flops.append(flops_report(CASES_EIN, case, sizes, gen_fn))
        summary = ", ".join(
            f"{r['mode']} gen/hand {fmt_ratio(r['generated'], r['hand'])} gen/tf.einsum {fmt_ratio(r['generated'], r['tf.einsum'])}"
            for r in case_rows
        )
        print(f"[bench] {case.name:<13} {time.perf_counter() - t0:5.1f} s  {summary}", flush=True)
    return rows, flops, notes


def _snapshot(build: Path, out_dir: Path) -> None:
    """Keeps the exact generated code that was measured next to the numbers."""
    snapshot = out_dir / "generated"
    snapshot.mkdir(exist_ok=True)
    for path in [build / "cases_generated.py", *sorted(build.glob("eingrad_*_generated.py"))]:
        if path.exists():
            (snapshot / path.name).write_text(path.read_text())


def _meta(tf, np, kind, build, sizes, cfg, started, phases, load_before) -> dict:
    import opt_einsum

    return {
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
        "sizes": sizes,
        "compile_runs": cfg["compile_runs"],
        "total_s": time.perf_counter() - started,
        "phases_s": {k: round(v, 1) for k, v in phases.items()},
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


if __name__ == "__main__":
    sys.exit(main())
