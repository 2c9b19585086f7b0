#!/usr/bin/env python3
"""eingrad with several `%` pairs: the generated functions against hand-written tape programs, on every target with autodiff.

    PYTHONPATH=. python bench/eingrad_pairs.py [--target tensorflow,torch,jax|all] [--quick] [--out DIR]

Compiles SPEC (the five forms of issue 15, and rows with `where b
independent`) for each target, and times each generated function against what
an expert writes by hand in that framework (bench/eingrad_pairs_programs.py:
tapes, ForwardAccumulator, tape.jacobian / batch_jacobian on TensorFlow;
torch.func and jax transforms), eagerly and compiled (tf.function,
torch.compile, jax.jit). Each target runs in a child process of its own (one
framework imported, its threads pinned); in it, the four variants of a form
are interleaved in a fresh random order each round after warm-up calls
(bench/timing.py), and medians are reported, so that ratios come from one
process. Each row also gives the max relative difference from the
hand-written eager result and the strategy the generated docstring states
(its `lowering:` lines). Writes OUT/eingrad_pairs.md (OUT defaults to
bench/results) and the measured generated modules to OUT/generated/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# Run as a script, Python puts bench/ first on the path, where the package's modules would shadow top-level ones.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import eingrad_pairs_report as report  # noqa: E402

SPEC = """\
gauss_newton(f, w) = eingrad("bi%p,bi%q->pq", f, w, f, w)
ggn_vp(f, w, v) = eingrad("bi%p,bi%q,q->p", f, w, f, w, v)
ntk(f, g, w) = eingrad("ai%p,bj%p->aibj", f, w, g, w)
mixed(f, g, x) = eingrad("i%j,k%j->ik", f, x, g, x)
rows(f, x) = eingrad("...%...j->...j", f, x)
rows_independent(f, x) = eingrad("b%bj->bj", f, x) where b independent
"""

# f, g: X (b x features) and X2 (b2 x features) times W (features x units);
# mixed: A (i x j), B (k x j); rows: x (rows x row_length). Full sizes keep
# every call well under a second on one core (the slowest, TF's eager
# tape.jacobian of ntk, ~0.1-0.2 s).
SIZES = {
    "full": dict(b=32, b2=48, features=32, units=16, i=256, k=192, j=512, rows=64, row_length=128),
    "quick": dict(b=4, b2=5, features=3, units=4, i=3, k=2, j=5, rows=3, row_length=4),
}
# bench/timing.run_interleaved's settings: `budget` seconds of timed calls per form (its four variants together).
TIMING = {
    "full": dict(budget=6.0, rmax=100, rmin=7, warmups=2),
    "quick": dict(budget=0.02, rmax=2, rmin=1, warmups=1),
}
MODES = {"tensorflow": ("eager", "tf.function"), "torch": ("eager", "torch.compile"), "jax": ("eager", "jax.jit")}
TARGETS = tuple(MODES)
# Results further than this from the hand-written eager one are reported as mismatches, their times dropped.
TOLERANCE = 1e-3


def main(argv=None) -> int:
    args = _arguments(argv)
    if args.child:
        result = measure(args.child, "quick" if args.quick else "full", args.threads, args.build)
        args.json.write_text(json.dumps(result))
        return 0
    names = TARGETS if args.target == "all" else tuple(t for t in args.target.split(",") if t)
    unknown = set(names) - set(TARGETS)
    if unknown or not names:
        raise SystemExit(
            f"eingrad_pairs: unknown target(s) {', '.join(sorted(unknown))}; choose from {', '.join(TARGETS)}"
        )
    out = args.out or BENCH / "results"
    build = args.build or (out / "build" if args.out else BENCH / "build")
    started, load_before = time.perf_counter(), os.getloadavg()
    sections = {name: _run_child(name, args, build) for name in names}
    meta = {
        "command": _command(args),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load": (load_before, os.getloadavg()),
        "total_s": time.perf_counter() - started,
        "kind": "quick" if args.quick else "full",
        "threads": args.threads,
    }
    text = report.render(meta, sections, SPEC, SIZES[meta["kind"]], out / "eingrad_pairs.md")
    out.mkdir(parents=True, exist_ok=True)
    (out / "eingrad_pairs.md").write_text(text)
    (out / "generated").mkdir(exist_ok=True)
    for name in names:
        (out / "generated" / f"eingrad_pairs_{name}.py").write_text((build / f"eingrad_pairs_{name}.py").read_text())
    print(report.table(sections), flush=True)
    print(f"[bench] eingrad_pairs: {meta['total_s']:.0f} s; wrote {out / 'eingrad_pairs.md'}", flush=True)
    return 0


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="all", help="tensorflow, torch, jax, comma-separated, or all (default)")
    parser.add_argument("--quick", "--smoke", action="store_true", help="a smoke run: tiny sizes, 1-2 rounds")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    parser.add_argument("--build", type=Path, default=None, help="build directory (default bench/build, or OUT/build)")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per framework (default 1, as bench/run.py: see pin_threads)"
    )
    parser.add_argument("--child", choices=TARGETS, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _command(args) -> str:
    words = ["python bench/eingrad_pairs.py", f"--target {args.target}"]
    return " ".join(
        words + (["--quick"] if args.quick else []) + ([f"--threads {args.threads}"] if args.threads != 1 else [])
    )


def _run_child(name: str, args, build: Path) -> dict:
    """One target measured in a fresh process: only its framework imported, its threads pinned before the import."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / f"{name}.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--json", str(result)]
        command += ["--threads", str(args.threads), "--build", str(build)] + (["--quick"] if args.quick else [])
        print(f"[bench] eingrad_pairs: {name}", flush=True)
        mark = time.perf_counter()
        proc = subprocess.run(command, cwd=REPO, text=True, capture_output=True, timeout=1200)
        if proc.returncode != 0:
            raise SystemExit(f"eingrad_pairs: the {name} run failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        section = json.loads(result.read_text())
    section["wall_s"] = time.perf_counter() - mark
    print(f"[bench] eingrad_pairs: {name} done in {section['wall_s']:.0f} s", flush=True)
    return section


def measure(target: str, kind: str, threads: int, build: Path) -> dict:
    """The rows of one target (in its child process): each form's generated and hand-written programs, each mode."""
    from bench.eingrad_pairs_frameworks import adapter
    from bench.eingrad_pairs_programs import PROGRAMS, SIGNATURES, arrays, models

    fw = adapter(target, threads)  # pins the threads before the framework is imported
    import numpy as np

    from bench.timing import Variant, run_interleaved

    module = _compile(target, build / f"eingrad_pairs_{target}.py")
    ns, hand = PROGRAMS[target]()
    sizes = SIZES[kind]
    consts = {name: fw.tensor(array) for name, array in arrays(sizes).items()}
    funcs = models(ns, consts, sizes)
    rows, notes, lowering = [], [], {}
    for form, signature in SIGNATURES.items():
        generated = getattr(module, form)
        lowering[form] = report.lowering_notes(generated.__doc__)
        fw.before_case()
        args = tuple(consts[p] for p in signature if not p.startswith("F:"))
        variants = [
            Variant(key, mode, fw.wrap(_bound(fn, signature, funcs), mode), args)
            for key, fn in (("einig", generated), ("hand", hand[form]))
            for mode in MODES[target]
        ]
        outputs = {}
        run_interleaved(np, variants, TIMING[kind], first_outputs=outputs)
        rows += _rows(np, fw, form, variants, outputs, lowering[form], notes)
        print(f"[bench] {target} {form}: " + ", ".join(report.row_summary(r) for r in rows[-2:]), flush=True)
    return {"rows": rows, "notes": notes, "lowering": lowering, "versions": fw.versions, "modes": MODES[target]}


def _rows(np, fw, form, variants, outputs, notes_of_form, notes) -> list[dict]:
    from bench.timing import relative_error

    by = {(v.key, v.mode): v for v in variants}
    for v in variants:
        if v.note:
            notes.append(f"{form} {v.key} {v.mode}: {v.note}")
    reference = outputs.get(("hand", "eager"))
    reference = None if reference is None else fw.to_numpy(reference)
    diffs = {}
    for (key, mode), out in outputs.items():
        diffs[key, mode] = None if reference is None else relative_error(np, fw.to_numpy(out), reference)
        if diffs[key, mode] is not None and not diffs[key, mode] <= TOLERANCE:
            notes.append(f"{form} {key} {mode}: MISMATCH: relative difference {diffs[key, mode]:.2e}")
            by[key, mode].median_us = None
    rows = []
    for mode in {v.mode: None for v in variants}:
        einig, hand = by["einig", mode].median_us, by["hand", mode].median_us
        rows.append(
            {
                "form": form,
                "mode": mode,
                "einig_ms": None if einig is None else einig / 1e3,
                "hand_ms": None if hand is None else hand / 1e3,
                "ratio": einig / hand if einig and hand else None,
                "diff": max((d for (k, m), d in diffs.items() if m == mode and d is not None), default=None),
                "strategy": report.strategy(notes_of_form),
                "rounds": min(len(by[key, mode].samples) for key in ("einig", "hand")),
            }
        )
    return rows


def _bound(fn, signature, funcs):
    """`fn` with its callables bound, taking arrays only (what tf.function, torch.compile and jax.jit see)."""

    def bound(*arrays):
        it = iter(arrays)
        return fn(*[funcs[p[2:]] if p.startswith("F:") else next(it) for p in signature])

    return bound


def _compile(target: str, path: Path):
    from bench.compiled import import_path
    from einigc.compiler import compile_text

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(compile_text(SPEC, "eingrad_pairs.ein", target).source)
    return import_path(path, path.stem)


if __name__ == "__main__":
    sys.exit(main())
